#!/bin/sh
# Start and stop OpenIPMI's ipmi_sim (Debian package "openipmi") as a loopback
# IPMI-over-LAN (lanplus) BMC simulator for metal-go's bmc tests and demos.
#
#   ipmisim.sh start | stop | restart | status | pause | resume
#
# Environment:
#   IPMISIM_RUNDIR  run/state dir (default ${TMPDIR:-/tmp}/ipmisim-run). It is
#                   created if missing; its state/ subdir is wiped on every start.
#   IPMISIM_ADDR    listen address (default 127.0.0.1)
#   IPMISIM_PORT    UDP port (default 9623); 0 or "auto" picks a free port. The
#                   port in use is printed and written to $IPMISIM_RUNDIR/port.
#   IPMISIM_USER / IPMISIM_PASS  admin credentials (default admin / secret).
#                   The password is written only into the run dir's lan.conf
#                   (mode 0600), never onto a command line.
#   IPMISIM_POWER   initial power state 0|1 (default 0)
#   IPMISIM_KEEP_HW=1  keep power/boot/sensor files of the previous run
#
# The simulated hardware is plain files in the run dir: power (0|1), boot
# (last boot device set, e.g. "pxe"), resets and shutdowns (one line per hard
# reset / soft off), chassis.log (every chassis_control call), and the sensor
# inputs cpu_temp.val inlet_temp.val (degC), fan1.val (RPM), 12v.val (mV),
# polled by ipmi_sim every second.
#
# "pause" stops the simulator with SIGSTOP: its socket stays open but nothing
# answers, which is how a hung BMC looks to a client. "resume" continues it.
#
# Gotchas (OpenIPMI 2.0.33): without "mc_enable" in sim.emu no UDP socket is
# opened and nothing is logged; -n is mandatory in the background; clients
# must use cipher suite 3 (ipmitool -C 3): without it ipmitool waits ~10 s for
# Get Channel Cipher Suites, and go-ipmi with suite 2 crashes the simulator.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
RUN=${IPMISIM_RUNDIR:-${TMPDIR:-/tmp}/ipmisim-run}
ADDR=${IPMISIM_ADDR:-127.0.0.1}
PORT=${IPMISIM_PORT:-9623}
USER_=${IPMISIM_USER:-admin}
PASS_=${IPMISIM_PASS:-secret}
PIDF=$RUN/ipmi_sim.pid

# alive: the pid file names a live, non-zombie ipmi_sim (a crashed sim can
# linger as a zombie of an exited parent until it is reaped).
alive() {
    [ -f "$PIDF" ] && read -r pid < "$PIDF" && [ -n "$pid" ] &&
        [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = ipmi_sim ] &&
        [ "$(awk '{print $3}' /proc/"$pid"/stat 2>/dev/null)" != Z ]
}

# exists PID: the process exists and is not a zombie (whatever it runs yet).
exists() {
    [ -d /proc/"$1" ] && [ "$(awk '{print $3}' /proc/"$1"/stat 2>/dev/null)" != Z ]
}

# listening PORT: some socket is bound to UDP port PORT (from /proc, no ss needed).
listening() {
    hex=$(printf '%04X' "$1")
    awk -v p=":$hex" 'FNR > 1 && substr($2, length($2) - 4) == p { found = 1 } END { exit !found }' \
        /proc/net/udp /proc/net/udp6 2>/dev/null
}

# sim_listening PID PORT: that UDP port is bound by a socket of process PID.
sim_listening() {
    hex=$(printf '%04X' "$2")
    inodes=$(awk -v p=":$hex" 'FNR > 1 && substr($2, length($2) - 4) == p { print $10 }' \
        /proc/net/udp /proc/net/udp6 2>/dev/null)
    [ -n "$inodes" ] || return 1
    for fd in /proc/"$1"/fd/*; do
        l=$(readlink "$fd" 2>/dev/null) || continue
        for i in $inodes; do [ "$l" = "socket:[$i]" ] && return 0; done
    done
    return 1
}

# pick_port N: print a currently unused UDP port, derived from the shell pid and N.
pick_port() {
    i=0
    while [ $i -lt 200 ]; do
        p=$(( 20000 + ( $$ * 7919 + ($1 * 200 + i) * 104729 ) % 40000 ))
        if ! listening "$p"; then echo "$p"; return 0; fi
        i=$((i + 1))
    done
    echo "no free UDP port found" >&2; return 1
}

readport() { [ -f "$RUN/port" ] && read -r PORT < "$RUN/port" || true; }

prepare() {
    mkdir -p "$RUN"
    rm -rf "$RUN/state"; mkdir -p "$RUN/state"   # persisted users/SEL/LAN parms: start clean
    case $USER_$PASS_ in
    *'"'*|*'
'*) echo "IPMISIM_USER and IPMISIM_PASS must not contain '\"' or a newline" >&2; return 1 ;;
    esac
    umask 077
    # The credentials reach awk through its environment, never its argv (a
    # command line is world-readable in /proc), and the password only ever
    # lives in this 0600 file. index/substr, not sub(): no character of the
    # values is special.
    IPMISIM_L_ADDR=$ADDR IPMISIM_L_PORT=$PORT IPMISIM_L_USER=$USER_ IPMISIM_L_PASS=$PASS_ awk '
        /^ *addr / { i = index($0, "addr "); print substr($0, 1, i + 4) ENVIRON["IPMISIM_L_ADDR"] " " ENVIRON["IPMISIM_L_PORT"]; next }
        match($0, /"admin" *"secret"/) {
            $0 = substr($0, 1, RSTART - 1) "\"" ENVIRON["IPMISIM_L_USER"] "\" \"" ENVIRON["IPMISIM_L_PASS"] "\"" substr($0, RSTART + RLENGTH)
        }
        { print }' "$HERE/lan.conf" > "$RUN/lan.conf"
    umask 022
    cp "$HERE/sim.emu" "$RUN/sim.emu"
    cp "$HERE/chassis_control.sh" "$RUN/chassis_control.sh"
    chmod +x "$RUN/chassis_control.sh"
    if [ "${IPMISIM_KEEP_HW:-0}" != 1 ] || [ ! -f "$RUN/power" ]; then
        echo "${IPMISIM_POWER:-0}" > "$RUN/power"
        echo default > "$RUN/boot"
        : > "$RUN/resets"; : > "$RUN/shutdowns"; : > "$RUN/chassis.log"
        echo 45 > "$RUN/cpu_temp.val"; echo 24 > "$RUN/inlet_temp.val"
        echo 5400 > "$RUN/fan1.val";   echo 12000 > "$RUN/12v.val"
    fi
    echo "$PORT" > "$RUN/port"
}

# launch: start ipmi_sim in the run dir and wait up to 5 s for its UDP socket.
launch() {
    (
        cd "$RUN"
        # -n: no console on stdin/stdout (mandatory in the background). The cwd
        # matters: chassis_control and the sensor files are relative paths.
        # setsid: not killed with the caller's session or process group.
        setsid ipmi_sim -n -c lan.conf -f sim.emu -s state </dev/null >ipmi_sim.log 2>&1 &
        echo $! > "$PIDF"
    )
    read -r lpid < "$PIDF"
    i=0
    while [ $i -lt 100 ]; do
        if alive && sim_listening "$pid" "$PORT"; then return 0; fi
        # Not "alive" until the child has exec'd ipmi_sim: only its
        # disappearance means failure.
        exists "$lpid" || return 1
        sleep 0.05; i=$((i + 1))
    done
    return 1
}

# abandon: kill what launch started, and wait until it is gone, so that a
# retry does not share the run dir with it.
abandon() {
    [ -n "${lpid:-}" ] || return 0
    kill -9 "$lpid" 2>/dev/null || true
    i=0
    while [ $i -lt 100 ] && exists "$lpid"; do sleep 0.05; i=$((i + 1)); done
    rm -f "$PIDF"
}

start() {
    if alive; then readport; echo "ipmi_sim already running (pid $pid) on udp $ADDR:$PORT, run dir $RUN"; return 0; fi
    auto=0
    case $PORT in 0|auto) auto=1 ;; esac
    try=0
    while :; do
        if [ $auto = 1 ]; then PORT=$(pick_port $try); fi
        if listening "$PORT"; then
            if [ $auto = 0 ] || [ $try -ge 10 ]; then echo "UDP port $PORT already in use" >&2; return 1; fi
            try=$((try + 1)); continue
        fi
        prepare
        if launch; then
            read -r pid < "$PIDF"
            echo "ipmi_sim started (pid $pid) on udp $ADDR:$PORT, run dir $RUN"
            return 0
        fi
        abandon
        try=$((try + 1))
        if [ $auto = 0 ] || [ $try -ge 3 ]; then
            echo "ipmi_sim failed to open udp $ADDR:$PORT; log:" >&2
            cat "$RUN/ipmi_sim.log" >&2 || true
            return 1
        fi
    done
}

stop() {
    readport
    if ! alive; then echo "ipmi_sim not running"; rm -f "$PIDF"; return 0; fi
    kill -CONT "$pid" 2>/dev/null || true   # a paused sim cannot act on SIGTERM
    kill "$pid" 2>/dev/null || true
    i=0
    while [ $i -lt 60 ] && alive; do sleep 0.05; i=$((i + 1)); done
    if alive; then kill -9 "$pid" 2>/dev/null || true; fi
    rm -f "$PIDF"; echo "ipmi_sim stopped (pid $pid)"
}

status() {
    readport
    if alive && sim_listening "$pid" "$PORT"; then
        state=running
        [ "$(awk '{print $3}' /proc/"$pid"/stat 2>/dev/null)" = T ] && state=paused
        read -r pw < "$RUN/power" || pw=?
        echo "$state (pid $pid) on udp $ADDR:$PORT, power=$pw, run dir $RUN"
    else
        echo "not running"; return 1
    fi
}

signal() {
    if ! alive; then echo "ipmi_sim not running" >&2; return 1; fi
    kill "-$1" "$pid"; echo "ipmi_sim $2 (pid $pid)"
}

case ${1:-} in
start) start ;;
stop) stop ;;
restart) stop; start ;;
status) status ;;
pause) signal STOP paused ;;
resume) signal CONT resumed ;;
*) echo "usage: $0 start|stop|restart|status|pause|resume" >&2; exit 2 ;;
esac
