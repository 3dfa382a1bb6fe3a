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
command -v wrk >/dev/null || { echo "bench-events: wrk is not installed (apt install wrk)" >&2; exit 1; }
source packaging/bench-daemon-fixture.sh
bench_start_daemon "${3:-}"

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
routed=$(sqlite3 "$work/state/state.sqlite3" "SELECT count(DISTINCT event_seq) FROM notification_events")
echo "answered by wrk: $requests; recorded: $recorded (wrk counts only completed requests; at most $connections more may be recorded)"
echo "filed into the relay's outbox before the daemon stopped: $routed events"
# Any answer other than 202 shows above as "Non-2xx or 3xx responses".
