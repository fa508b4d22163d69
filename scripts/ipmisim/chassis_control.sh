#!/bin/sh
# Chassis control program that ipmi_sim runs for power, reset and boot (see
# "chassis_control" in lan.conf). ipmi_sim popen()s it with its working
# directory set to the run dir:
#
#   chassis_control.sh <dir> get <parm>...          parm: power | boot
#   chassis_control.sh <dir> set <parm> <val> ...   parm: power | reset | boot | shutdown | identify
#
# "get" must print "<parm>:<value>" lines and exit 0. The simulated hardware is
# plain files in <dir>: power (0|1), boot (last boot device requested),
# resets (one line per hard reset), shutdowns (one line per soft off); every
# call is appended to chassis.log.
#
# Keep this script free of forks ($(...), date, cat): ipmi_sim runs it for
# every power-status request, so each fork adds about a millisecond to every
# IPMI round trip.
dir=$1; shift
op=$1; shift
[ -n "$dir" ] && [ -n "$op" ] || { echo "usage: $0 dir get|set ..."; exit 1; }
echo "$op $*" >> "$dir/chassis.log"

case $op in
get)
    for p in "$@"; do
        case $p in
        power) v=0; read -r v 2>/dev/null < "$dir/power"; echo "power:${v:-0}" ;;
        boot)  v=default; read -r v 2>/dev/null < "$dir/boot"; echo "boot:${v:-default}" ;;
        *)     echo "Invalid parameter: $p"; exit 1 ;;
        esac
    done
    ;;
set)
    while [ $# -gt 0 ]; do
        [ $# -ge 2 ] || { echo "No value for $1"; exit 1; }
        p=$1; v=$2; shift 2
        case $p in
        power)    echo "$v" > "$dir/power" ;;
        reset)    [ "$v" = 1 ] && echo reset >> "$dir/resets" ;;
        shutdown) [ "$v" = 1 ] && { echo 0 > "$dir/power"; echo shutdown >> "$dir/shutdowns"; } ;;
        boot)     echo "$v" > "$dir/boot" ;;
        identify) : ;;
        *)        echo "Invalid parameter: $p"; exit 1 ;;
        esac
    done
    ;;
check) exit 1 ;;
*) echo "Unknown operation: $op"; exit 1 ;;
esac
exit 0
