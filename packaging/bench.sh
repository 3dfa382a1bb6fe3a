#!/usr/bin/env bash
# Lifeboat against the stock tools, side by side in one run (hyperfine):
#   backup:  lifeboat backup                   vs  tar -I 'zstd -3 -T0' -cf - DIR | age -r KEY > FILE
#   restore: lifeboat restore FILE --identity  vs  age -d -i KEY FILE | tar --zstd -xf -
#   peak RSS of backup and restore at 1x and 4x the data set (/usr/bin/time -f %M)
#   optional (--crypto): age encryption alone, Lifeboat's (release test) vs the Go age CLI
#
# Usage: packaging/bench.sh [--size MiB] [--runs N] [--out DIR] [--crypto]
# The data set is PBX-like and generated deterministically: ~70 % WAV recordings (8 kHz 16-bit mono,
# speech-like), ~20 % SQLite (CDR and astdb), ~10 % text (configuration and logs).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

size=512
runs=5
out="$root/bench-out"
crypto=0
while (($#)); do
    case "$1" in
    --size) size=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --crypto) crypto=1; shift ;;
    *) echo "usage: $0 [--size MiB] [--runs N] [--out DIR] [--crypto]" >&2; exit 64 ;;
    esac
done

for tool in hyperfine age age-keygen zstd tar python3 /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "bench: $tool missing: apt-get install hyperfine age zstd time python3" >&2; exit 1; }
done
python3 -c 'import numpy' 2>/dev/null || { echo "bench: numpy missing: apt-get install python3-numpy (or pip install numpy)" >&2; exit 1; }

echo "bench: building the release binary" >&2
swift build -c release --product lifeboat >/dev/null
bin="$root/.build/release/lifeboat"

mkdir -p "$out"
data="$out/data-$size"

# ---- data set -------------------------------------------------------------------------------
if [[ ! -f "$data/.complete" ]]; then
    echo "bench: generating a ${size} MiB PBX-like data set in $data" >&2
    rm -rf "$data"
    python3 - "$data" "$size" <<'PY'
import os, sys, sqlite3, wave, numpy as np
root, size = sys.argv[1], int(sys.argv[2]) << 20
rng = np.random.default_rng(20261126)
rec = os.path.join(root, "var/spool/asterisk/monitor"); os.makedirs(rec)
vm = os.path.join(root, "var/spool/asterisk/voicemail/default"); os.makedirs(vm)
# WAV: speech-like bursts (formant tones under a syllable envelope, pauses, noise)
wav_budget, written, n = int(size * 0.70), 0, 0
while written < wav_budget:
    seconds = int(rng.integers(20, 300))
    t = np.arange(seconds * 8000) / 8000.0
    f0 = rng.uniform(90, 240)
    syll = (np.sin(2 * np.pi * rng.uniform(2.5, 5) * t) > rng.uniform(-0.3, 0.4)).astype(np.float64)
    env = np.convolve(syll, np.ones(400) / 400, mode="same")
    sig = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6)) / k for k in (1, 2, 3, 5))
    pcm = (env * sig * rng.uniform(2000, 6000) + rng.normal(0, 180, t.size)).clip(-32768, 32767).astype("<i2")
    folder = rec if n % 3 else os.path.join(vm, f"{1000 + n % 40}/INBOX")
    os.makedirs(folder, exist_ok=True)
    with wave.open(os.path.join(folder, f"call-{n:05d}.wav"), "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000); w.writeframes(pcm.tobytes())
    written += pcm.nbytes + 44; n += 1
# SQLite: CDR in WAL mode, astdb
db_dir = os.path.join(root, "var/lib/asterisk"); os.makedirs(db_dir)
cdr = sqlite3.connect(os.path.join(db_dir, "cdr.sqlite3")); cdr.execute("PRAGMA journal_mode=WAL")
cdr.execute("CREATE TABLE cdr (id INTEGER PRIMARY KEY, calldate TEXT, clid TEXT, src TEXT, dst TEXT, dcontext TEXT,"
            " channel TEXT, dstchannel TEXT, lastapp TEXT, duration INT, billsec INT, disposition TEXT, uniqueid TEXT)")
rows, target = 0, int(size * 0.19)
while os.path.getsize(os.path.join(db_dir, "cdr.sqlite3")) < target:
    batch = [(f"2026-{1 + (rows + i) % 12:02d}-{1 + (rows + i) % 28:02d} {(rows + i) % 24:02d}:{(rows + i) % 60:02d}:00",
              f'"Ext {1000 + (rows + i) % 40}" <{1000 + (rows + i) % 40}>', str(1000 + (rows + i) % 40),
              f"0049{int(rng.integers(10**8, 10**9))}", "from-internal", f"PJSIP/{1000 + (rows + i) % 40}-{rows + i:08x}",
              f"PJSIP/trunk-{rows + i:08x}", "Dial", int(rng.integers(0, 900)), int(rng.integers(0, 880)),
              ("ANSWERED", "NO ANSWER", "BUSY")[(rows + i) % 3], f"1764000000.{rows + i}") for i in range(20000)]
    cdr.executemany("INSERT INTO cdr (calldate, clid, src, dst, dcontext, channel, dstchannel, lastapp, duration,"
                    " billsec, disposition, uniqueid) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", batch)
    cdr.commit(); rows += len(batch)
cdr.execute("PRAGMA wal_checkpoint(TRUNCATE)"); cdr.close()
astdb = sqlite3.connect(os.path.join(db_dir, "astdb.sqlite3"))
astdb.execute("CREATE TABLE astdb (key TEXT PRIMARY KEY, value TEXT)")
astdb.executemany("INSERT INTO astdb VALUES (?, ?)", [(f"/AMPUSER/{e}/{k}", f"value-{e}-{k}") for e in range(1000, 1400) for k in ("cidname", "voicemail", "outboundcid", "recording")])
astdb.commit(); astdb.close()
# Text: configuration and logs
etc = os.path.join(root, "etc/asterisk"); os.makedirs(etc)
for e in range(1000, 1400):
    with open(os.path.join(etc, "pjsip.conf"), "a") as f:
        f.write(f"[{e}]\ntype=endpoint\ncontext=from-internal\nallow=ulaw,alaw\nauth=auth{e}\naors={e}\n\n")
logs = os.path.join(root, "var/log/asterisk"); os.makedirs(logs)
text_budget, i = size - written - rows * 0, 0
remaining = size - sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(root) for f in fs)
with open(os.path.join(logs, "full"), "w") as f:
    while f.tell() < max(remaining, 1 << 20):
        f.write(f"[2026-11-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:{i % 57:02d}] VERBOSE[{20000 + i % 5000}][C-{i:08x}] "
                f"pbx.c: Executing [{1000 + i % 40}@from-internal:{1 + i % 4}] Dial(\"PJSIP/{1000 + i % 40}-{i:08x}\", "
                f"\"PJSIP/{1000 + (i * 7) % 40},25\") in new stack\n"); i += 1
PY
    touch "$data/.complete"
fi
actual=$(du -sm --exclude=.complete "$data" | cut -f1)
echo "bench: data set $data: ${actual} MiB" >&2

# ---- configuration and keys ----------------------------------------------------------------
work="$out/work"
rm -rf "$work"
mkdir -p "$work/store" "$work/state"
"$bin" keygen --output "$work/key" >/dev/null
recipient=$(age-keygen -y "$work/key")
config_for() { # config_for FILE STORE COPIES...
    local file=$1 store=$2; shift 2
    {
        echo "host: bench"
        echo "state_dir: $work/state"
        echo "encryption: {recipients: [\"$recipient\"], identity_file: $work/key, compression: {algorithm: zstd, level: 3}}"
        echo "sources:"
        local i=0 names=()
        for d in "$@"; do
            echo "  - {name: cdr$i, kind: sqlite, path: $d/var/lib/asterisk/cdr.sqlite3}"
            echo "  - {name: astdb$i, kind: sqlite, path: $d/var/lib/asterisk/astdb.sqlite3}"
            echo "  - {name: files$i, kind: files, paths: [$d/etc/asterisk, $d/var/spool/asterisk, $d/var/log/asterisk]}"
            names+=("cdr$i" "astdb$i" "files$i")
            i=$((i + 1))
        done
        echo "stores: [{name: local, kind: local, path: $store}]"
        echo "jobs: [{name: bench, sources: [$(IFS=,; echo "${names[*]}")], stores: [local]}]"
    } >"$file"
    chmod 600 "$file"
}
config_for "$work/lifeboat.yaml" "$work/store" "$data"

# ---- backup ------------------------------------------------------------------------------
echo "bench: backup, $runs runs each" >&2
hyperfine --warmup 1 --runs "$runs" --export-json "$out/backup.json" --export-markdown "$out/backup.md" \
    --prepare "rm -rf '$work/store' && mkdir '$work/store'" \
    -n "lifeboat backup" "'$bin' backup --config '$work/lifeboat.yaml'" \
    -n "tar | zstd -3 -T0 | age" "tar -I 'zstd -3 -T0' -cf - -C '$data' . | age -r $recipient > '$work/stock.tar.zst.age'"

archive=$(find "$work/store" -name '*.tar.zst.age' | head -1)
echo "bench: archives: lifeboat $(stat -c %s "$archive") bytes, stock $(stat -c %s "$work/stock.tar.zst.age") bytes" >&2

# ---- restore -----------------------------------------------------------------------------
echo "bench: restore, $runs runs each" >&2
hyperfine --warmup 1 --runs "$runs" --export-json "$out/restore.json" --export-markdown "$out/restore.md" \
    -n "lifeboat restore" --prepare "rm -rf '$work/restore-lb'" \
    "'$bin' restore '$archive' --identity '$work/key' --target '$work/restore-lb' --config /nonexistent" \
    -n "age -d | tar --zstd -x" --prepare "rm -rf '$work/restore-stock' && mkdir '$work/restore-stock'" \
    "age -d -i '$work/key' '$work/stock.tar.zst.age' | tar --zstd -xf - -C '$work/restore-stock'"

# ---- peak RSS at 1x and 4x ---------------------------------------------------------------
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
rm -rf "$work/store" && mkdir "$work/store"
rss_b1=$(rss "$bin" backup --config "$work/lifeboat.yaml")
archive=$(find "$work/store" -name '*.tar.zst.age' | head -1)
rm -rf "$work/restore-lb"
rss_r1=$(rss "$bin" restore "$archive" --identity "$work/key" --target "$work/restore-lb" --config /nonexistent)
rm -rf "$work/restore-lb"

copies=()
for i in 1 2 3 4; do
    copy="$out/data4-$size/copy$i"
    if [[ ! -d "$copy" ]]; then
        mkdir -p "$(dirname "$copy")"
        cp -al "$data" "$copy"  # hard links: 4x the data to read, no extra disk
    fi
    copies+=("$copy")
done
mkdir -p "$work/store4"
config_for "$work/lifeboat4.yaml" "$work/store4" "${copies[@]}"
rss_b4=$(rss "$bin" backup --config "$work/lifeboat4.yaml")
archive4=$(find "$work/store4" -name '*.tar.zst.age' | head -1)
rss_r4=$(rss "$bin" restore "$archive4" --identity "$work/key" --target "$work/restore-lb4" --config /nonexistent)
rm -rf "$work/restore-lb4" "$work/store4"

# ---- age encryption alone (optional) -------------------------------------------------------
crypto_line="not measured (run with --crypto)"
if ((crypto)); then
    big="$work/random-512m"
    head -c $((512 << 20)) /dev/urandom >"$big"
    go_age=$(hyperfine --runs 5 --export-json "$out/age.json" "age -r $recipient < '$big' > /dev/null" >/dev/null && python3 -c "import json;print(json.load(open('$out/age.json'))['results'][0]['mean'])")
    ours=$(LIFEBOAT_THROUGHPUT_FILE="$big" swift test -c release --filter AgeThroughputCheck/encryptAFile 2>&1 | sed -n 's/.*from file: .* = \([0-9]*\) MB\/s.*/\1/p' | tail -1)
    crypto_line="Lifeboat (OpenSSL) ${ours} MB/s vs Go age $(python3 -c "print(int(512*1048576/$go_age/1e6))") MB/s, 512 MiB from page cache"
    rm -f "$big"
fi

# ---- summary -----------------------------------------------------------------------------
python3 - "$out" "$actual" "$rss_b1" "$rss_r1" "$rss_b4" "$rss_r4" "$crypto_line" <<'PY'
import json, sys
out, size, b1, r1, b4, r4, crypto = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:7]), sys.argv[7]
def load(name):
    return {r["command"]: r for r in json.load(open(f"{out}/{name}.json"))["results"]}
b, r = load("backup"), load("restore")
def row(results, ours, stock, target):
    o, s = results[ours], results[stock]
    ratio = o["mean"] / s["mean"]
    return (f"| {ours} vs {stock} | {o['mean']:.2f} ± {o['stddev']:.2f} s | {s['mean']:.2f} ± {s['stddev']:.2f} s "
            f"| {ratio:.2f} | ≤ {target} | {'PASS' if ratio <= target else 'MISS'} |")
mib = lambda kb: kb / 1024
lines = [
    f"Data set: {size} MiB (PBX-like: WAV recordings, SQLite CDR and astdb, configuration and logs).", "",
    "| comparison | Lifeboat | stock tools | ratio | target | |", "|---|---|---|---|---|---|",
    row(b, "lifeboat backup", "tar | zstd -3 -T0 | age", 0.7),
    row(r, "lifeboat restore", "age -d | tar --zstd -x", 0.8), "",
    "| peak RSS | 1x | 4x | target | |", "|---|---|---|---|---|",
    f"| backup | {mib(b1):.1f} MiB | {mib(b4):.1f} MiB | ≤ 64 MiB, 4x within 10 % | {'PASS' if max(b1, b4) <= 65536 and abs(b4 - b1) <= 0.1 * b1 else 'MISS'} |",
    f"| restore | {mib(r1):.1f} MiB | {mib(r4):.1f} MiB | ≤ 64 MiB, 4x within 10 % | {'PASS' if max(r1, r4) <= 65536 and abs(r4 - r1) <= 0.1 * r1 else 'MISS'} |",
    "", f"age encryption alone: {crypto}",
]
open(f"{out}/summary.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
