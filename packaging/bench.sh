#!/usr/bin/env bash
# Lifeboat against the stock tools, side by side in one hyperfine run, on a generated PBX-like data set:
#   backup:  lifeboat backup                           vs  tar -I 'zstd -3 -T0' -cf - DIR | age -r KEY > FILE
#   restore: lifeboat restore FILE --identity KEY      vs  age -d -i KEY FILE | tar --zstd -xf - -C DIR
#   peak RSS (/usr/bin/time -f %M) of lifeboat backup and restore at 1x and 4x the data set
#   age encryption alone: the Go age CLI always; Lifeboat's own (AgeThroughputCheck, a release test that
#     builds in ~5 min the first time) with --crypto
#   --variants: where the time goes (restore stages; Lifeboat backup with other compression settings and
#     sources; the stock stages alone, and the stock backup with an fsync of its archive as Lifeboat does)
#
# Usage: packaging/bench.sh [--size MiB] [--runs N] [--out DIR] [--crypto] [--variants] [--no-build]
# Defaults: 512 MiB, 5 runs, OUT=bench-out in the repo (git-ignored); ~2-5 min on 2 cores.
# Environment: LIFEBOAT_BENCH_SCRATCH (swift build scratch path, default .build-release in the repo),
# LIFEBOAT_BENCH_TEST_SCRATCH (for --crypto, default OUT/build-tests).
# Timings are only as good as the machine is quiet: the script warns when the load average is above 0.5.
#
# The data set (OUT/data, reused while its size and generator version match) is deterministic (seeded):
# ~70 % WAV (8 kHz 16-bit mono PCM, speech-like: formant-weighted harmonics under a syllable envelope,
# turn-taking pauses and noise), ~20 % SQLite (a CDR database in WAL mode and an astdb), ~10 % text
# (Asterisk configuration and logs). The 4x set is 4 hard-linked copies of it (no extra disk).
# Results: OUT/backup.{json,md}, OUT/restore.{json,md}, OUT/summary.md.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
size=512
runs=5
out="$root/bench-out"
crypto=0
variants=0
build=1
usage() { echo "usage: $0 [--size MiB] [--runs N] [--out DIR] [--crypto] [--variants] [--no-build]" >&2; exit 64; }
while (($#)); do
    case "$1" in
    --size) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage; size=$2; shift 2 ;;
    --runs) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage; runs=$2; shift 2 ;;
    --out) [[ -n ${2:-} ]] || usage; out=$2; shift 2 ;;
    --crypto) crypto=1; shift ;;
    --variants) variants=1; shift ;;
    --no-build) build=0; shift ;;
    -h | --help) usage ;;
    *) usage ;;
    esac
done
scratch=${LIFEBOAT_BENCH_SCRATCH:-$root/.build-release}
log() { echo "bench: $*" >&2; }
started=$SECONDS
load0=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load0" 'BEGIN { exit !(l > 0.5) }'; then
    log "warning: load average $load0 before the start: other work on this machine will skew the timings"
fi

# ---- tools ----------------------------------------------------------------------------------
missing=()
for tool in hyperfine age age-keygen zstd tar python3 swift; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
[[ -x /usr/bin/time ]] || missing+=(time)
if ((${#missing[@]})); then
    log "missing: ${missing[*]}; install with: apt-get install -y hyperfine age zstd time tar python3 python3-numpy"
    exit 1
fi
if ! python3 -c 'import sqlite3, numpy' 2>/dev/null; then
    log "python3 needs the sqlite3 and numpy modules: apt-get install -y python3-numpy (or: pip install numpy)"
    exit 1
fi
hyperfine_major_minor=$(hyperfine --version | awk '{split($2, v, "."); print v[1] * 1000 + v[2]}')
if ((hyperfine_major_minor < 1013)); then
    log "hyperfine >= 1.13 needed (one --prepare per command)"; exit 1
fi

# ---- release binary -------------------------------------------------------------------------
if ((build)); then
    log "building the release binary (scratch path $scratch)"
    (cd "$root" && swift build -c release --scratch-path "$scratch" --product lifeboat) >&2
fi
bin="$scratch/release/lifeboat"
[[ -x $bin ]] || { log "$bin missing (build it, or drop --no-build)"; exit 1; }

mkdir -p "$out"
out=$(cd "$out" && pwd)
cores=$(nproc)

# ---- data set -------------------------------------------------------------------------------
generator_version=2
data="$out/data"
stamp="size=$size generator=$generator_version"
if [[ ! -d $data || $(cat "$out/data.stamp" 2>/dev/null) != "$stamp" ]]; then
    log "generating a $size MiB PBX-like data set in $data"
    rm -rf "$data" "$out/data.stamp" "$out/data4" "$out/data4.stamp"
    python3 - "$data" "$size" <<'PY'
import os, sys, time, random, sqlite3, wave
import numpy as np

root, size_mib = os.path.abspath(sys.argv[1]), int(sys.argv[2])
size = size_mib << 20
SEED = 20261126
rng = np.random.default_rng(SEED)
rnd = random.Random(SEED)
EPOCH = 1764547200  # 2025-12-01T00:00:00Z, fixed mtimes keep the set reproducible
t0 = time.time()

def mkdir(*parts):
    p = os.path.join(root, *parts); os.makedirs(p, exist_ok=True); return p

# ---- ~70 %: WAV recordings and voicemail (8 kHz, 16-bit, mono) -----------------------------------
RATE = 8000
def speech(seconds):
    n = seconds * RATE
    t = np.arange(n, dtype=np.float32) / RATE
    # two parties take turns: talk spurts of 0.5-4 s separated by pauses of 0.2-1.5 s
    gate = np.zeros(n, dtype=np.float32)
    pos = 0
    while pos < n:
        talk = int(rng.uniform(0.5, 4.0) * RATE); pause = int(rng.uniform(0.2, 1.5) * RATE)
        gate[pos:pos + talk] = rng.uniform(0.4, 1.0)
        pos += talk + pause
    # syllables: 3-6 Hz amplitude modulation, smoothed
    syll = np.maximum(0.0, np.sin(2 * np.pi * rng.uniform(3, 6) * t + rng.uniform(0, 6))).astype(np.float32)
    env = np.convolve(gate * syll, np.ones(160, dtype=np.float32) / 160, mode="same")
    # voiced part: harmonics of a gliding pitch (vibrato), weighted by two formants
    f0 = rng.uniform(90, 240) * (1 + 0.08 * np.sin(2 * np.pi * rng.uniform(0.3, 1.2) * t)).astype(np.float32)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    f1, f2 = rng.uniform(300, 800), rng.uniform(900, 2400)
    voiced = np.zeros(n, dtype=np.float32)
    for k in range(1, 9):
        fk = k * f0.mean()
        w = np.exp(-((fk - f1) / 250) ** 2) + 0.6 * np.exp(-((fk - f2) / 400) ** 2) + 0.15 / k
        voiced += (w * np.sin(k * phase + rng.uniform(0, 6))).astype(np.float32)
    # noise modulation (breath, fricatives) under the envelope plus line noise everywhere
    noise = rng.standard_normal(n, dtype=np.float32)
    sig = env * (voiced * rng.uniform(3000, 7000) + noise * rng.uniform(300, 900)) + noise[::-1] * rng.uniform(30, 90)
    return np.clip(sig, -32768, 32767).astype("<i2")

monitor = mkdir("var/spool/asterisk/monitor")
vm_root = mkdir("var/spool/asterisk/voicemail/default")
wav_budget, written, n = int(size * 0.70), 0, 0
while written < wav_budget:
    voicemail = n % 4 == 3
    seconds = int(min(rng.uniform(5, 90) if voicemail else rng.uniform(20, 600), max(1, (wav_budget - written) // (2 * RATE))))
    pcm = speech(seconds)
    if voicemail:  # voicemail: short messages in mailbox folders
        folder = mkdir(vm_root, str(1000 + n % 60), "INBOX" if n % 3 else "Old")
        name = f"msg{n // 4:04d}.wav"
    else:
        day = 1 + n % 28
        folder = mkdir(monitor, "2025", "11", f"{day:02d}")
        name = f"out-{1000 + n % 60}-0049{rnd.randrange(10**8, 10**9)}-202511{day:02d}-{n:06d}.wav"
    path = os.path.join(folder, name)
    with wave.open(path, "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(RATE); w.writeframes(pcm.tobytes())
    if folder.startswith(vm_root):
        with open(path[:-4] + ".txt", "w") as f:
            f.write(f";\n; Message Information file\n;\n[message]\norigmailbox={1000 + n % 60}\ncontext=from-internal\n"
                    f"callerid=\"Caller\" <0049{rnd.randrange(10**8, 10**9)}>\norigdate=Mon Nov 10 10:{n % 60:02d}:00 AM UTC 2025\n"
                    f"origtime={EPOCH - n * 97}\nduration={seconds}\nmsg_id={EPOCH - n * 97}-{n:08x}\n")
    os.utime(path, (EPOCH - n * 97, EPOCH - n * 97))
    written += pcm.nbytes + 44; n += 1
wav_files = n
print(f"  wav: {wav_files} files, {written >> 20} MiB ({time.time() - t0:.0f} s)", file=sys.stderr)

# ---- ~20 %: SQLite (CDR database and astdb) ------------------------------------------------------
lib = mkdir("var/lib/asterisk")
astdb = sqlite3.connect(os.path.join(lib, "astdb.sqlite3"))
astdb.execute("CREATE TABLE astdb (key VARCHAR(256), value VARCHAR(256), PRIMARY KEY(key))")
fams = ("cidname", "voicemail", "outboundcid", "recording/in/external", "recording/out/internal", "cfu", "cfb", "dnd", "device")
astdb.executemany("INSERT INTO astdb VALUES (?, ?)",
                  ((f"/AMPUSER/{e}/{k}", f"value-{e}-{rnd.randrange(10**6)}") for e in range(1000, 6000) for k in fams))
astdb.commit(); astdb.close()
astdb_bytes = os.path.getsize(os.path.join(lib, "astdb.sqlite3"))

cdr_path = os.path.join(lib, "cdr.sqlite3")
cdr = sqlite3.connect(cdr_path)
cdr.execute("PRAGMA journal_mode=WAL")
cdr.execute("""CREATE TABLE cdr (AcctId INTEGER PRIMARY KEY, calldate TEXT, clid TEXT, src TEXT, dst TEXT,
    dcontext TEXT, channel TEXT, dstchannel TEXT, lastapp TEXT, lastdata TEXT, duration INTEGER, billsec INTEGER,
    disposition TEXT, amaflags INTEGER, accountcode TEXT, uniqueid TEXT, userfield TEXT)""")
cdr.execute("CREATE INDEX cdr_calldate ON cdr (calldate)")
page = cdr.execute("PRAGMA page_size").fetchone()[0]
target, rows = int(size * 0.20) - astdb_bytes, 0
apps = ("Dial", "Queue", "VoiceMail", "Playback", "Hangup", "AGI")
disp = ("ANSWERED", "ANSWERED", "ANSWERED", "NO ANSWER", "BUSY", "FAILED")
def batch(start, count):
    for i in range(start, start + count):
        ts = EPOCH - 86400 * 365 + i * 7
        ext = 1000 + rnd.randrange(400)
        ext_num = f"0049{rnd.randrange(10**8, 10**10)}"
        out = rnd.random() < 0.5
        src, dst = (str(ext), ext_num) if out else (ext_num, str(ext))
        dur = rnd.randrange(0, 1800)
        yield (time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)), f'"Ext {ext}" <{src}>', src, dst,
               "from-internal" if out else "from-trunk", f"PJSIP/{ext}-{i:08x}", f"PJSIP/trunk-{i + 1:08x}",
               apps[i % 6], f"PJSIP/{dst}@trunk,60,tT", dur, max(0, dur - rnd.randrange(0, 30)),
               disp[rnd.randrange(6)], 3, "", f"{ts}.{i}", "")
while cdr.execute("PRAGMA page_count").fetchone()[0] * page < target:
    cdr.executemany("INSERT INTO cdr (calldate, clid, src, dst, dcontext, channel, dstchannel, lastapp, lastdata, duration,"
                    " billsec, disposition, amaflags, accountcode, uniqueid, userfield) VALUES"
                    " (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", batch(rows, 50000))
    cdr.commit(); rows += 50000
cdr.execute("PRAGMA wal_checkpoint(TRUNCATE)"); cdr.close()
for f in os.listdir(lib):
    os.utime(os.path.join(lib, f), (EPOCH, EPOCH))
print(f"  sqlite: cdr {rows} rows, {os.path.getsize(cdr_path) >> 20} MiB; astdb {astdb_bytes >> 10} KiB ({time.time() - t0:.0f} s)", file=sys.stderr)

# ---- ~10 %: text (Asterisk configuration and logs) -----------------------------------------------
etc = mkdir("etc/asterisk")
with open(os.path.join(etc, "pjsip.conf"), "w") as f:
    f.write("[transport-udp]\ntype=transport\nprotocol=udp\nbind=0.0.0.0\n\n")
    for e in range(1000, 1400):
        f.write(f"[{e}]\ntype=endpoint\ncontext=from-internal\ndisallow=all\nallow=ulaw,alaw,g722\nauth=auth{e}\naors={e}\n"
                f"callerid=\"Ext {e}\" <{e}>\nmailboxes={e}@default\n\n[auth{e}]\ntype=auth\nauth_type=userpass\n"
                f"username={e}\npassword={rnd.getrandbits(64):016x}\n\n[{e}]\ntype=aor\nmax_contacts=2\n\n")
with open(os.path.join(etc, "extensions.conf"), "w") as f:
    f.write("[general]\nstatic=yes\nwriteprotect=no\n\n[from-internal]\n")
    for e in range(1000, 1400):
        f.write(f"exten => {e},1,NoOp(Call to {e})\n same => n,MixMonitor(${{UNIQUEID}}.wav)\n same => n,Dial(PJSIP/{e},25,tT)\n"
                f" same => n,VoiceMail({e}@default,u)\n same => n,Hangup()\n")
with open(os.path.join(etc, "voicemail.conf"), "w") as f:
    f.write("[general]\nformat=wav\nmaxmsg=100\n\n[default]\n")
    for e in range(1000, 1400):
        f.write(f"{e} => {rnd.randrange(1000, 9999)},Ext {e},ext{e}@example.com,,attach=yes|delete=no\n")
for name, body in (("asterisk.conf", "[directories]\nastetcdir => /etc/asterisk\n"), ("modules.conf", "[modules]\nautoload=yes\n"),
                   ("manager.conf", "[general]\nenabled=no\n"), ("queues.conf", "[support]\nstrategy=ringall\n")):
    with open(os.path.join(etc, name), "w") as f:
        f.write(body)
logs = mkdir("var/log/asterisk")
remaining = size - sum(os.path.getsize(os.path.join(d, x)) for d, _, fs in os.walk(root) for x in fs)
verbs = ("Executing [{e}@from-internal:1] NoOp(\"PJSIP/{e}-{c:08x}\", \"Call to {e}\") in new stack",
         "Executing [{e}@from-internal:2] MixMonitor(\"PJSIP/{e}-{c:08x}\", \"{t}.{c}.wav\") in new stack",
         "Executing [{e}@from-internal:3] Dial(\"PJSIP/{e}-{c:08x}\", \"PJSIP/{e},25,tT\") in new stack",
         "Called PJSIP/{e}", "PJSIP/{e}-{c:08x} is ringing", "PJSIP/{e}-{c:08x} answered PJSIP/trunk-{c:08x}",
         "Channel PJSIP/trunk-{c:08x} joined 'simple_bridge' basic-bridge <{c:08x}-1a2b-4c5d>",
         "Spawn extension (from-internal, {e}, 3) exited non-zero on 'PJSIP/{e}-{c:08x}'")
files = ["full", "full.1", "full.2", "full.3", "messages", "queue_log"]
per_file = max(remaining, 1 << 20) // len(files)
line_no = 0
for name in files:
    lines = []
    size_here = 0
    while size_here < per_file:
        c = line_no; e = 1000 + rnd.randrange(400); t = EPOCH - 86400 * 30 + c
        if name == "queue_log":
            s = f"{t}|{t}.{c}|support|PJSIP/{e}|{('ENTERQUEUE', 'CONNECT', 'COMPLETECALLER', 'ABANDON')[c % 4]}|{rnd.randrange(60)}|{rnd.randrange(600)}|1\n"
        else:
            level = "VERBOSE" if name != "messages" else ("NOTICE", "WARNING")[c % 2]
            s = (f"[{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(t))}] {level}[{20000 + c % 9000}][C-{c // 8:08x}] "
                 f"{('pbx.c', 'app_dial.c', 'bridge_channel.c', 'res_pjsip.c')[c % 4]}: " + verbs[c % 8].format(e=e, c=c // 8, t=t) + "\n")
        lines.append(s); size_here += len(s); line_no += 1
    with open(os.path.join(logs, name), "w") as f:
        f.write("".join(lines))
for d, _, fs in os.walk(os.path.join(root, "etc")):
    for x in fs: os.utime(os.path.join(d, x), (EPOCH, EPOCH))
for x in files: os.utime(os.path.join(logs, x), (EPOCH, EPOCH))
print(f"  text: {line_no} log lines ({time.time() - t0:.0f} s)", file=sys.stderr)
PY
    echo "$stamp" >"$out/data.stamp"
else
    log "reusing the data set in $data ($stamp)"
fi
data_bytes=$(du -sb "$data" | cut -f1)
data_files=$(find "$data" -type f | wc -l)
log "data set: $((data_bytes >> 20)) MiB in $data_files files"

# 4x: four hard-linked copies (Lifeboat reads every copy in full: it stores no hard links)
data4="$out/data4"
if [[ ! -d $data4 || $(cat "$out/data4.stamp" 2>/dev/null) != "$stamp" ]]; then
    rm -rf "$data4"
    mkdir -p "$data4"
    for i in 1 2 3 4; do cp -al "$data" "$data4/copy$i"; done
    echo "$stamp" >"$out/data4.stamp"
fi

# ---- keys and configuration -----------------------------------------------------------------
work="$out/work"
rm -rf "$work"
mkdir -p "$work/state" "$work/store" "$work/store4"
key="$work/lifeboat.key"
recipient=$("$bin" keygen --output "$key" 2>&1 | sed -n 's/^Public key: //p')
[[ $recipient == age1* ]] || { log "lifeboat keygen printed no public key"; exit 1; }
[[ $(age-keygen -y "$key") == "$recipient" ]] || { log "age-keygen -y disagrees with lifeboat keygen"; exit 1; }

# config_for FILE STORE COMPRESSION DATA_DIR...: one sqlite source per database and one files source per
# tree of each data folder, one job "bench" over all of them (or, with only=sqlite|files, over those).
config_for() {
    local file=$1 store=$2 compression=$3 i=0 d
    shift 3
    local names=()
    {
        echo "host: bench"
        echo "state_dir: $work/state"
        echo "encryption:"
        echo "  recipients: [\"$recipient\"]"
        echo "  identity_file: $key"
        echo "  compression: $compression"
        echo "sources:"
        for d in "$@"; do
            echo "  - {name: cdr$i, kind: sqlite, path: $d/var/lib/asterisk/cdr.sqlite3}"
            echo "  - {name: astdb$i, kind: sqlite, path: $d/var/lib/asterisk/astdb.sqlite3}"
            echo "  - {name: config$i, kind: files, path: $d/etc/asterisk}"
            echo "  - {name: spool$i, kind: files, path: $d/var/spool/asterisk}"
            echo "  - {name: logs$i, kind: files, path: $d/var/log/asterisk}"
            case ${only:-} in
            sqlite) names+=("cdr$i" "astdb$i") ;;
            files) names+=("config$i" "spool$i" "logs$i") ;;
            *) names+=("cdr$i" "astdb$i" "config$i" "spool$i" "logs$i") ;;
            esac
            i=$((i + 1))
        done
        echo "stores: [{name: local, kind: local, path: $store}]"
        echo "jobs: [{name: bench, sources: [$(IFS=,; echo "${names[*]}")], stores: [local]}]"
    } >"$file"
    chmod 600 "$file"
}
zstd3="{algorithm: zstd, level: 3, threads: $cores}"
config_for "$work/lifeboat.yaml" "$work/store" "$zstd3" "$data"
config_for "$work/lifeboat4.yaml" "$work/store4" "$zstd3" "$data4"/copy{1..4}
"$bin" config --help >/dev/null 2>&1 || true

newest_archive() { find "$1" -name '*.tar.zst.age' -printf '%T@ %p\n' | sort -n | tail -1 | cut -d' ' -f2-; }
q() { printf '%q' "$1"; }

# Warm the page cache the same way for both sides (the data set fits in memory many times over).
tar -cf - -C "$data" . >/dev/null

# ---- (a) backup -----------------------------------------------------------------------------
log "backup: lifeboat vs tar | zstd -3 -T0 | age, --warmup 1 --runs $runs"
stock_archive="$work/stock.tar.zst.age"
hyperfine --style basic --warmup 1 --runs "$runs" \
    --export-json "$out/backup.json" --export-markdown "$out/backup.md" \
    -n "lifeboat backup" --prepare "rm -rf $(q "$work/store")/bench && sync" \
    "$(q "$bin") backup --config $(q "$work/lifeboat.yaml")" \
    -n "tar | zstd -3 -T0 | age" --prepare "rm -f $(q "$stock_archive") && sync" \
    "tar -I 'zstd -3 -T0' -cf - -C $(q "$data") . | age -r $recipient > $(q "$stock_archive")"
archive=$(newest_archive "$work/store")
[[ -n $archive ]] || { log "no Lifeboat archive in $work/store"; exit 1; }
archive_bytes=$(stat -c %s "$archive")
stock_bytes=$(stat -c %s "$stock_archive")
log "archives: lifeboat $((archive_bytes >> 20)) MiB, stock $((stock_bytes >> 20)) MiB (data $((data_bytes >> 20)) MiB)"

# ---- (b) restore ----------------------------------------------------------------------------
log "restore: lifeboat vs age -d | tar --zstd -x, --warmup 1 --runs $runs"
target_lb="$work/restore-lifeboat"
target_stock="$work/restore-stock"
hyperfine --style basic --warmup 1 --runs "$runs" \
    --export-json "$out/restore.json" --export-markdown "$out/restore.md" \
    -n "lifeboat restore" --prepare "rm -rf $(q "$target_lb") && sync" \
    "$(q "$bin") restore $(q "$archive") --identity $(q "$key") --target $(q "$target_lb")" \
    -n "age -d | tar --zstd -x" --prepare "rm -rf $(q "$target_stock") && mkdir $(q "$target_stock") && sync" \
    "age -d -i $(q "$key") $(q "$stock_archive") | tar --zstd -xf - -C $(q "$target_stock")"
restored_lb=$(du -sb "$target_lb" | cut -f1)
restored_stock=$(du -sb "$target_stock" | cut -f1)
log "restored: lifeboat $((restored_lb >> 20)) MiB, stock $((restored_stock >> 20)) MiB"
rm -rf "$target_lb" "$target_stock"

# ---- peak RSS at 1x and 4x ------------------------------------------------------------------
# peak_rss NAME COMMAND...: runs the command once under /usr/bin/time; sets rss_NAME (KiB) and secs_NAME
peak_rss() {
    local name=$1 report="$work/time.txt" kib secs
    shift
    if ! /usr/bin/time -o "$report" -f '%M %e' "$@" >/dev/null; then
        log "failed: $*"; cat "$report" >&2; exit 1
    fi
    read -r kib secs <"$report"
    printf -v "rss_$name" %s "$kib"
    printf -v "secs_$name" %s "$secs"
    log "$name: peak RSS $((kib >> 10)) MiB, $secs s"
}
rss_b1=0 rss_r1=0 rss_b4=0 rss_r4=0 secs_b1=0 secs_r1=0 secs_b4=0 secs_r4=0
log "peak RSS at 1x"
rm -rf "$work/store/bench" && sync
peak_rss b1 "$bin" backup --config "$work/lifeboat.yaml"
archive=$(newest_archive "$work/store")
sync
peak_rss r1 "$bin" restore "$archive" --identity "$key" --target "$target_lb"
rm -rf "$target_lb" && sync
log "peak RSS at 4x ($((4 * data_bytes >> 20)) MiB, hard-linked copies)"
peak_rss b4 "$bin" backup --config "$work/lifeboat4.yaml"
archive4=$(newest_archive "$work/store4")
archive4_bytes=$(stat -c %s "$archive4")
sync
peak_rss r4 "$bin" restore "$archive4" --identity "$key" --target "$target_lb"
rm -rf "$target_lb" "$work/store4" && sync

# ---- age encryption alone -------------------------------------------------------------------
log "age encryption alone: Go age CLI on 512 MiB from the page cache"
plain="$work/random-512m"
head -c $((512 << 20)) /dev/urandom >"$plain"
age -r "$recipient" <"$plain" >"$plain.age"
hyperfine --style basic --warmup 1 --runs "$runs" --export-json "$out/age.json" \
    -n "age -r (encrypt)" "age -r $recipient < $(q "$plain") > /dev/null" \
    -n "age -d (decrypt)" "age -d -i $(q "$key") < $(q "$plain.age") > /dev/null"
crypto_log="$out/crypto.log"
rm -f "$crypto_log"
if ((crypto)); then
    # Release tests need -enable-testing (@testable imports), so they get their own scratch path; the
    # first build takes ~5 minutes on 2 cores. --no-parallel: the two checks must not share the cores.
    test_scratch=${LIFEBOAT_BENCH_TEST_SCRATCH:-$out/build-tests}
    log "age encryption alone: Lifeboat's AgeThroughputCheck (swift test -c release, scratch path $test_scratch)"
    if ! (cd "$root" && LIFEBOAT_THROUGHPUT=1 LIFEBOAT_THROUGHPUT_FILE="$plain" \
        swift test -c release -Xswiftc -enable-testing --scratch-path "$test_scratch" \
        --filter AgeThroughputCheck --no-parallel) >"$crypto_log" 2>&1; then
        log "the throughput check failed; see $crypto_log"
    fi
    grep 'MB/s' "$crypto_log" >&2 || true
fi
rm -f "$plain" "$plain.age"

# ---- variants: where the time goes ----------------------------------------------------------
if ((variants)); then
    log "variants: restore stages"
    hyperfine --style basic --warmup 1 --runs "$runs" \
        --export-json "$out/variants-restore.json" --export-markdown "$out/variants-restore.md" \
        -n "lifeboat restore" --prepare "rm -rf $(q "$target_lb") && sync" \
        "$(q "$bin") restore $(q "$archive") --identity $(q "$key") --target $(q "$target_lb")" \
        -n "age -d > /dev/null" --prepare true "age -d -i $(q "$key") $(q "$archive") > /dev/null" \
        -n "age -d | zstd -d > /dev/null" --prepare true "age -d -i $(q "$key") $(q "$archive") | zstd -d > /dev/null" \
        -n "age -d | tar --zstd -x" --prepare "rm -rf $(q "$target_stock") && mkdir $(q "$target_stock") && sync" \
        "age -d -i $(q "$key") $(q "$archive") | tar --zstd -xf - -C $(q "$target_stock")"
    rm -rf "$target_lb" "$target_stock"

    log "variants: backup with other compression settings and sources, stock stages alone"
    config_for "$work/v-t1.yaml" "$work/store" "{algorithm: zstd, level: 3, threads: 1}" "$data"
    config_for "$work/v-l1.yaml" "$work/store" "{algorithm: zstd, level: 1, threads: $cores}" "$data"
    config_for "$work/v-none.yaml" "$work/store" "{algorithm: none}" "$data"
    only=sqlite config_for "$work/v-sqlite.yaml" "$work/store" "$zstd3" "$data"
    only=files config_for "$work/v-files.yaml" "$work/store" "$zstd3" "$data"
    only=files config_for "$work/v-files-none.yaml" "$work/store" "{algorithm: none}" "$data"
    lb() { echo "$(q "$bin") backup --config $(q "$work/$1")"; }
    tar_all="tar -cf - -C $(q "$data") ."
    hyperfine --style basic --warmup 1 --runs "$runs" \
        --export-json "$out/variants.json" --export-markdown "$out/variants.md" \
        --prepare "rm -rf $(q "$work/store")/bench && sync" \
        -n "lifeboat zstd-3 T$cores" "$(lb lifeboat.yaml)" \
        -n "lifeboat zstd-3 T1" "$(lb v-t1.yaml)" \
        -n "lifeboat zstd-1 T$cores" "$(lb v-l1.yaml)" \
        -n "lifeboat none" "$(lb v-none.yaml)" \
        -n "lifeboat SQLite sources only, zstd-3" "$(lb v-sqlite.yaml)" \
        -n "lifeboat files sources only, zstd-3" "$(lb v-files.yaml)" \
        -n "lifeboat files sources only, none" "$(lb v-files-none.yaml)" \
        -n "tar | cat > /dev/null" "$tar_all | cat > /dev/null" \
        -n "tar | zstd -3 -T0 > /dev/null" "$tar_all | zstd -3 -T0 > /dev/null" \
        -n "tar | zstd -3 -T1 > /dev/null" "$tar_all | zstd -3 -T1 > /dev/null" \
        -n "tar | age > /dev/null" "$tar_all | age -r $recipient > /dev/null" \
        -n "tar | zstd -3 -T0 | age > FILE, then fsync it (sync FILE)" \
        "$tar_all | zstd -3 -T0 | age -r $recipient > $(q "$stock_archive") && sync $(q "$stock_archive")"
    rm -rf "$work/store/bench"
fi

# ---- summary --------------------------------------------------------------------------------
rev="$(git -C "$root" describe --always --dirty 2>/dev/null || echo '(no git)'), binary built $(date -r "$bin" '+%F %T')"
export BENCH_OUT=$out BENCH_SIZE=$size BENCH_DATA_BYTES=$data_bytes BENCH_FILES=$data_files BENCH_CORES=$cores \
    BENCH_ARCHIVE=$archive_bytes BENCH_STOCK=$stock_bytes BENCH_ARCHIVE4=$archive4_bytes BENCH_RUNS=$runs \
    BENCH_CRYPTO=$crypto BENCH_RSS="$rss_b1 $rss_b4 $rss_r1 $rss_r4" BENCH_SECS="$secs_b1 $secs_b4 $secs_r1 $secs_r4" \
    BENCH_ELAPSED=$((SECONDS - started)) BENCH_LOAD0=$load0 BENCH_REV="$rev"
python3 - <<'PY'
import json, math, os, re
env = os.environ
out = env["BENCH_OUT"]
size, data_bytes, files, cores, runs = (int(env[k]) for k in ("BENCH_SIZE", "BENCH_DATA_BYTES", "BENCH_FILES", "BENCH_CORES", "BENCH_RUNS"))
archive_bytes, stock_bytes, archive4_bytes = (int(env[k]) for k in ("BENCH_ARCHIVE", "BENCH_STOCK", "BENCH_ARCHIVE4"))
b1, b4, r1, r4 = map(int, env["BENCH_RSS"].split())
tb1, tb4, tr1, tr4 = map(float, env["BENCH_SECS"].split())
rss = {"backup": (b1, b4), "restore": (r1, r4)}
secs = {"backup": (tb1, tb4), "restore": (tr1, tr4)}
crypto, elapsed = env["BENCH_CRYPTO"] == "1", int(env["BENCH_ELAPSED"])

def load(name):
    path = os.path.join(out, name + ".json")
    return {r["command"]: r for r in json.load(open(path))["results"]} if os.path.exists(path) else {}
def mib(n): return n / 1048576
def t(r): return f"{r['mean']:.2f} ± {r['stddev']:.2f} s"
def cpu(r): return f"{r['user'] + r['system']:.1f} s"

lines = ["# Lifeboat benchmark", "",
         f"Machine: {cores} cores, Linux {os.uname().release}; hyperfine, {runs} runs after 1 warm-up, data in the page cache; "
         f"load average before the start {env['BENCH_LOAD0']}. Lifeboat {env['BENCH_REV']}.",
         f"Data set: {mib(data_bytes):.0f} MiB in {files} files (PBX-like: ~70 % WAV, ~20 % SQLite, ~10 % text). "
         f"Archives: Lifeboat {mib(archive_bytes):.0f} MiB, stock {mib(stock_bytes):.0f} MiB.", "",
         "| comparison | Lifeboat (mean ± sd) | stock (mean ± sd) | CPU user+sys L / S | ratio L/S (of the minima) | target | |",
         "|---|---|---|---|---|---|---|"]
b, r = load("backup"), load("restore")
for results, ours, stock, target in ((b, "lifeboat backup", "tar | zstd -3 -T0 | age", 0.7),
                                     (r, "lifeboat restore", "age -d | tar --zstd -x", 0.8)):
    o, s = results[ours], results[stock]
    ratio = o["mean"] / s["mean"]
    err = ratio * math.hypot(o["stddev"] / o["mean"], s["stddev"] / s["mean"])
    cell = f"{ours} vs {stock}".replace("|", "\\|")
    lines.append(f"| {cell} | {t(o)} | {t(s)} | {cpu(o)} / {cpu(s)} | {ratio:.2f} ± {err:.2f} ({o['min'] / s['min']:.2f}) | ≤ {target} "
                 f"| {'PASS' if ratio <= target else 'MISS'} |")
lines += ["", f"| peak RSS, one run (wall time) | 1x ({mib(data_bytes):.0f} MiB) | 4x ({mib(4 * data_bytes):.0f} MiB) | 4x/1x | target | |",
          "|---|---|---|---|---|---|"]
for what in ("backup", "restore"):
    one, four = rss[what]
    ok = max(one, four) <= 64 * 1024 and abs(four - one) <= 0.1 * one
    lines.append(f"| lifeboat {what} | {one / 1024:.1f} MiB ({secs[what][0]:.1f} s) | {four / 1024:.1f} MiB ({secs[what][1]:.1f} s) "
                 f"| {four / one:.2f} | ≤ 64 MiB, 4x within ±10 % | {'PASS' if ok else 'MISS'} |")
lines.append(f"\n4x archive: {mib(archive4_bytes):.0f} MiB ({archive4_bytes / archive_bytes:.2f}x the 1x archive).")

a = load("age")
go_enc = 512 * 1048576 / a["age -r (encrypt)"]["mean"] / 1e6
go_dec = 512 * 1048576 / a["age -d (decrypt)"]["mean"] / 1e6
lb = {}
log_path = os.path.join(out, "crypto.log")
if os.path.exists(log_path):
    text = open(log_path).read()
    for key, pattern in (("mem", r"age encrypt: .*= (\d+) MB/s"), ("file", r"age encrypt from file: .*= (\d+) MB/s"),
                         ("dec", r"age decrypt: (\d+) MB/s")):
        m = re.search(pattern, text)
        if m:
            lb[key] = int(m.group(1))
lines += ["", "| age alone, 512 MiB | Lifeboat (AgeThroughputCheck) | Go age CLI | target | |", "|---|---|---|---|---|"]
if "file" in lb or "mem" in lb:
    enc = lb.get("file", lb.get("mem"))
    lines.append(f"| encrypt | {enc} MB/s (read from file; {lb.get('mem', '?')} MB/s from memory) | {go_enc:.0f} MB/s "
                 f"| ≥ Go age | {'PASS' if enc >= go_enc else 'MISS'} |")
    if "dec" in lb:
        lines.append(f"| decrypt (Lifeboat: 128 MiB from memory) | {lb['dec']} MB/s | {go_dec:.0f} MB/s | (info) | |")
else:
    why = "failed, see crypto.log" if crypto else "not measured (run with --crypto)"
    lines.append(f"| encrypt | {why} | {go_enc:.0f} MB/s | ≥ Go age | |")
    lines.append(f"| decrypt | | {go_dec:.0f} MB/s | (info) | |")

for name, title in (("variants-restore", "restore"), ("variants", "backup")):
    v = load(name)
    if v:
        lines += ["", f"Where the {title} time goes (mean ± sd, min; CPU user+sys):", ""]
        lines += [f"- {cmd}: {t(res)}, min {res['min']:.2f} s; CPU {cpu(res)}" for cmd, res in v.items()]
lines.append(f"\nRun time of bench.sh up to the summary: {elapsed // 60} min {elapsed % 60} s.")
text = "\n".join(lines) + "\n"
open(os.path.join(out, "summary.md"), "w").write(text)
print("\n" + text)
PY
log "summary: $out/summary.md"
