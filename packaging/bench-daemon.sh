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
bin=${2:-}
if [[ -z $bin ]]; then
    swift build -c release --product lifeboat >/dev/null
    bin=$(swift build -c release --show-bin-path)/lifeboat
fi

work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/src" "$work/store"
echo "[general]" >"$work/src/sip.conf"
recipient=$("$bin" keygen --output "$work/key" 2>&1 | grep -o 'age1[a-z0-9]*' | head -1)
openssl rand -hex 32 >"$work/token"
chmod 600 "$work/token"
port=$((20000 + RANDOM % 20000))
cat >"$work/lifeboat.yaml" <<EOF
host: bench
state_dir: $work/state
encryption: {recipients: ["$recipient"]}
sources:
  - {name: config, kind: files, path: $work/src}
stores:
  - {name: local, kind: local, path: $work/store}
jobs:
  - {name: yearly, schedule: "0 3 1 1 *", timezone: UTC, sources: [config], stores: [local], stale_after: 400d}
api: {listen: "127.0.0.1:$port", token: {secret_file: $work/token}}
EOF
chmod 600 "$work/lifeboat.yaml"

"$bin" daemon --config "$work/lifeboat.yaml" 2>"$work/daemon.log" &
pid=$!
sleep 5
curl -sf -H "Authorization: Bearer $(cat "$work/token")" "http://127.0.0.1:$port/metrics" >/dev/null

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
