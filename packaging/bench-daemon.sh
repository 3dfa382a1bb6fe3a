#!/usr/bin/env bash
# The idle daemon's cost: resident memory and CPU time of `lifeboat daemon` over a period in which no
# job fires (the API listener on, one job scheduled yearly).
#
#   packaging/bench-daemon.sh [SECONDS] [LIFEBOAT_BINARY]
#
# SECONDS defaults to 600 (the issue's ten minutes). The binary defaults to a release build
# (`swift build -c release`, made if missing); the .deb's static binary can be given instead.
# Prints RSS (VmRSS and its anonymous part) at start and end, the peak (VmHWM), and the CPU time
# used (utime + stime from /proc/PID/stat) as a share of one core.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-600}
source packaging/bench-daemon-fixture.sh
bench_start_daemon "${2:-}"
sleep 5  # past start-up, before the measured period

ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
rss() { awk '/^(VmRSS|RssAnon|VmHWM):/ {printf "%s %d MiB  ", $1, $2 / 1024}' "/proc/$pid/status"; }

echo "binary: $bin"
echo "start: $(rss)threads $(awk '/^Threads:/ {print $2}' "/proc/$pid/status")"
c0=$(cpu)
t0=$(date +%s.%N)
sleep "$seconds"
c1=$(cpu)
t1=$(date +%s.%N)
echo "end:   $(rss)"
awk -v c="$((c1 - c0))" -v hz="$ticks" -v t0="$t0" -v t1="$t1" \
    'BEGIN {printf "cpu: %.2f s over %.0f s = %.3f %% of one core\n", c / hz, t1 - t0, 100 * c / hz / (t1 - t0)}'
