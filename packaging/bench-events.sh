#!/usr/bin/env bash
# POST /v1/events under load: wrk against `lifeboat daemon`, each 202 answered only once the event is
# in the state database (synchronous=FULL). Afterwards the recorded events are counted, so every
# accepted request is accounted for.
#
#   packaging/bench-events.sh [SECONDS] [CONNECTIONS] [LIFEBOAT_BINARY]
#
# Defaults: 10 s, 32 connections, a release build (made if missing). Needs wrk (apt install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-10}
connections=${2:-32}
bin=${3:-}
command -v wrk >/dev/null || { echo "bench-events: wrk is not installed (apt install wrk)" >&2; exit 1; }
if [[ -z $bin ]]; then
    swift build -c release --product lifeboat >/dev/null
    bin=$(swift build -c release --show-bin-path)/lifeboat
fi

work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/src" "$work/store"
echo "[general]" >"$work/src/sip.conf"
recipient=$("$bin" keygen --output "$work/key" 2>&1 | grep -o 'age1[a-z0-9]*' | head -1)
token=$(openssl rand -hex 32)
echo -n "$token" >"$work/token"
chmod 600 "$work/token"
port=$((20000 + RANDOM % 20000))
cat >"$work/lifeboat.yaml" <<YAML
host: bench
state_dir: $work/state
encryption: {recipients: ["$recipient"]}
sources:
  - {name: config, kind: files, path: $work/src}
stores:
  - {name: local, kind: local, path: $work/store}
jobs:
  - {name: yearly, schedule: "0 3 1 1 *", timezone: UTC, sources: [config], stores: [local]}
api: {listen: "127.0.0.1:$port", token: {secret_file: $work/token}}
YAML
chmod 600 "$work/lifeboat.yaml"
"$bin" daemon --config "$work/lifeboat.yaml" 2>"$work/daemon.log" &
pid=$!
for _ in $(seq 50); do curl -sf -o /dev/null -H "Authorization: Bearer $token" "http://127.0.0.1:$port/metrics" && break; sleep 0.1; done

cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("LIFEBOAT_TOKEN")
wrk.body = '{"type": "pbx.extension_registration_blocked_out", "level": "alert", "attributes": {"extension": "1001", "ip": "198.51.100.7"}}'
LUA
echo "binary: $bin; $connections connections, $seconds s"
LIFEBOAT_TOKEN=$token wrk -t2 -c"$connections" -d"${seconds}s" --latency -s "$work/post.lua" \
    "http://127.0.0.1:$port/v1/events" | tee "$work/wrk.txt"
kill -TERM "$pid"
wait "$pid" || true
requests=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
recorded=$(sqlite3 "$work/state/state.sqlite3" "SELECT count(*) FROM events WHERE type = 'pbx.extension_registration_blocked_out'")
echo "answered by wrk: $requests; recorded: $recorded (wrk counts only completed requests; at most $connections more may be recorded)"
# Any answer other than 202 shows above as "Non-2xx or 3xx responses".
