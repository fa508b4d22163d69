#!/bin/sh
# Regenerate the main_sdr_add lines of sim.emu from sensors.sdrs:
#   ./sdr2emu.sh [sensors.sdrs] > sdrs.emu     (then paste them into sim.emu)
# Needs sdrcomp (Debian package openipmi). -8 stores names as 8-bit ASCII:
# without it, all-caps names such as "FAN1" are 6-bit packed and ipmitool
# prints garbage. Record IDs are zeroed so that ipmi_sim assigns them.
set -eu
src=${1:-$(dirname "$0")/sensors.sdrs}
sdrcomp -r -8 "$src" | od -An -v -tx1 | awk '
{ for (i = 1; i <= NF; i++) b[n++] = $i }
END {
    i = 0
    while (i + 5 <= n) {
        # record length is byte 4; awk has no portable hex parsing
        h = b[i + 4]; v = 0
        for (k = 1; k <= 2; k++) v = v * 16 + index("0123456789abcdef", substr(h, k, 1)) - 1
        len = 5 + v
        printf "main_sdr_add 0x20 \\\n"
        for (j = 0; j < len; j++) {
            x = (j < 2) ? "00" : b[i + j]
            if (j % 16 == 0) printf "\t"
            printf "0x%s", x
            if (j == len - 1) printf "\n"
            else if (j % 16 == 15) printf " \\\n"
            else printf " "
        }
        i += len
    }
}'
