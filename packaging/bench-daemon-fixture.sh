# Sourced by bench-daemon.sh and bench-events.sh: builds the release binary unless one is given,
# then starts `lifeboat daemon` in a scratch folder with the API listener on, one yearly job, and the
# notification relay on with one contact whose mail server is down (BENCH_RELAY=0: without the relay).
# Sets: bin, work (removed on exit), token, port, pid (killed on exit). Waits until /metrics answers.
bench_start_daemon() {
    bin=${1:-}
    if [[ -z $bin ]]; then
        swift build -c release --product lifeboat >/dev/null
        bin=$(swift build -c release --show-bin-path)/lifeboat
    fi
    work=$(mktemp -d)
    trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
    mkdir -p "$work/src" "$work/store"
    echo "[general]" >"$work/src/sip.conf"
    local recipient
    recipient=$("$bin" keygen --output "$work/key" 2>&1 | grep -o 'age1[a-z0-9]*' | head -1)
    token=$(openssl rand -hex 32)
    echo "$token" >"$work/token"
    chmod 600 "$work/token"
    port=$((20000 + RANDOM % 20000))
    # The relay is on, its mail server away (nothing listens there): the outbox fills and retries.
    smtp_port=$((port + 1))
    cat >"$work/lifeboat.yaml" <<YAML
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
YAML
    if [[ ${BENCH_RELAY:-1} == 1 ]]; then
        cat >>"$work/lifeboat.yaml" <<YAML
notifications:
  smtp: {host: 127.0.0.1, port: $smtp_port, security: starttls, from: "bench <bench@example.com>", timeout: 5s}
  contacts:
    - {name: ops, levels: [warning, alert], events: ["*"], methods: [email], email: ops@example.com}
YAML
    fi
    chmod 600 "$work/lifeboat.yaml"
    "$bin" daemon --config "$work/lifeboat.yaml" 2>"$work/daemon.log" &
    pid=$!
    for _ in $(seq 100); do
        curl -sf -o /dev/null -H "Authorization: Bearer $token" "http://127.0.0.1:$port/metrics" && return 0
        sleep 0.1
    done
    echo "the daemon did not answer on 127.0.0.1:$port:" >&2
    cat "$work/daemon.log" >&2
    return 1
}
