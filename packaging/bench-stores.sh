#!/usr/bin/env bash
# Upload throughput of the FTPS and SFTP stores against stock clients, side by side with hyperfine,
# over loopback to the test servers (packaging/test-servers.sh):
#   FTPStore (explicit TLS, SIZE + server-side SHA-256 check, rename) vs `curl --ssl-reqd -T`
#   (and FTPStore with server_hash: false, which checks SIZE only)
#   SFTPStore (.partial, size check, posix-rename)                     vs OpenSSH `sftp put`
#   S3Store (SeaweedFS, SigV4 over the real payload hash, Content-MD5 per part) vs `rclone copyto` and
#   boto3's managed transfer, all with 16 MiB parts, 4 at a time; then each one's peak RSS
# Usage: packaging/bench-stores.sh [SIZE_MIB (default 1024)] [RUNS (default 3)]
# Results: bench-out/stores.md (and hyperfine's JSON beside it).
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
runs=${2:-3}
out=bench-out
scratch=${LIFEBOAT_BENCH_SCRATCH:-.build-release}
servers=${LIFEBOAT_TEST_SERVERS:-/tmp/lifeboat-servers}
export LIFEBOAT_TEST_SERVERS=$servers
mkdir -p "$out"

if [[ ! -f $servers/servers.env ]]; then
    packaging/test-servers.sh start "$servers"
    trap 'packaging/test-servers.sh stop "$servers"' EXIT
fi
# shellcheck disable=SC1091
source "$servers/servers.env"

swift build -c release --build-tests -Xswiftc -enable-testing --scratch-path "$scratch" >/dev/null
tests=$(ls -d "$scratch"/release/*PackageTests.xctest | head -1)

file=$out/store-bench-$size_mib.bin
[[ -f $file && $(stat -c %s "$file") -eq $((size_mib << 20)) ]] ||
    head -c $((size_mib << 20)) /dev/urandom >"$file"
file=$(realpath "$file")

netrc=$(mktemp)
chmod 600 "$netrc"
printf 'machine 127.0.0.1 login %s password %s\n' "$FTP_USER" "$(cat "$FTP_PASSWORD_FILE")" >"$netrc"
batch=$(mktemp)
echo "put $file throughput-check/sftp.bin" >"$batch"
mkdir -p "$SSH_HOME/throughput-check" && chown "$SSH_USER": "$SSH_HOME/throughput-check"

store_test() {
    echo "LIFEBOAT_THROUGHPUT=1 LIFEBOAT_THROUGHPUT_FILE=$file $tests --testing-library swift-testing --filter $1"
}

# LIFEBOAT_BENCH_STORES=s3 runs only the S3 comparison
if [[ ${LIFEBOAT_BENCH_STORES:-all} != s3 ]]; then
hyperfine -r "$runs" -w 1 --export-json "$out/stores.json" --export-markdown "$out/stores.md" \
    -n "FTPStore upload" "$(store_test '\\.FTPThroughputCheck')" \
    -n "FTPStore upload, server_hash: false" "LIFEBOAT_FTP_SERVER_HASH=0 $(store_test '\\.FTPThroughputCheck')" \
    -n "curl --ssl-reqd -T" "curl -sS --ssl-reqd --cacert $TLS_CA_FILE --netrc-file $netrc -T $file ftp://127.0.0.1:$PROFTPD_EXPLICIT_PORT/throughput-check/curl.bin --ftp-create-dirs" \
    -n "SFTPStore upload" "$(store_test SFTPThroughputCheck/uploadAFile)" \
    -n "sftp put" "sftp -q -P $SSHD_PORT -o StrictHostKeyChecking=yes -o UserKnownHostsFile=$SSH_KNOWN_HOSTS -o IdentitiesOnly=yes -i $SSH_KEY_ED25519 -b $batch $SSH_USER@127.0.0.1"
cat "$out/stores.md"
fi
rm -f "$netrc" "$batch"
rm -rf "$PROFTPD_ROOT/throughput-check" "$SSH_HOME/throughput-check"

s3_env=(env -u AWS_CA_BUNDLE RCLONE_CONFIG_SW_TYPE=s3 RCLONE_CONFIG_SW_PROVIDER=SeaweedFS
    RCLONE_CONFIG_SW_ACCESS_KEY_ID="$S3_ACCESS_KEY_ID" RCLONE_CONFIG_SW_SECRET_ACCESS_KEY="$(cat "$S3_SECRET_ACCESS_KEY_FILE")"
    RCLONE_CONFIG_SW_ENDPOINT="$S3_ENDPOINT" RCLONE_CONFIG_SW_REGION="$S3_REGION")
rclone_cmd="${s3_env[*]} rclone copyto --ignore-times --s3-chunk-size 16M --s3-upload-concurrency 4 $file sw:$S3_BUCKET/throughput-check/rclone.bin"
boto3_py=$(mktemp --suffix .py)
cat >"$boto3_py" <<PY
import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url="$S3_ENDPOINT", region_name="$S3_REGION", aws_access_key_id="$S3_ACCESS_KEY_ID",
    aws_secret_access_key=open("$S3_SECRET_ACCESS_KEY_FILE").read().strip(), config=Config(s3={"addressing_style": "path"}))
s3.upload_file("$file", "$S3_BUCKET", "throughput-check/boto3.bin",
    Config=TransferConfig(multipart_threshold=64 << 20, multipart_chunksize=16 << 20, max_concurrency=4))
PY
boto3_cmd="env -u AWS_CA_BUNDLE $TEST_PYTHON $boto3_py"
hyperfine -r "$runs" -w 1 --export-json "$out/stores-s3.json" --export-markdown "$out/stores-s3.md" \
    -n "S3Store upload" "$(store_test S3ThroughputCheck)" \
    -n "rclone copyto" "$rclone_cmd" \
    -n "boto3 upload_file" "$boto3_cmd"
{
    echo
    echo "| peak RSS (1 GiB upload, 16 MiB x 4) | MiB |"
    echo "|---|---|"
    for pair in "S3Store (test runner)|$(store_test S3ThroughputCheck)" \
        "test runner, no test|$tests --testing-library swift-testing --filter S3ThroughputCheck" \
        "rclone copyto|$rclone_cmd" "boto3 upload_file|$boto3_cmd"; do
        name=${pair%%|*}
        kib=$(bash -c "/usr/bin/time -f %M env ${pair#*|} 2>&1 >/dev/null" | tail -1)
        echo "| $name | $((kib / 1024)) |"
    done
} >>"$out/stores-s3.md"
rm -f "$boto3_py"
"${s3_env[@]}" rclone purge "sw:$S3_BUCKET/throughput-check" >/dev/null 2>&1 || true
cat "$out/stores-s3.md"
