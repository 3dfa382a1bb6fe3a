#!/usr/bin/env bash
# Upload throughput of the FTPS and SFTP stores against stock clients, side by side with hyperfine,
# over loopback to the test servers (packaging/test-servers.sh):
#   FTPStore (explicit TLS, SIZE + server-side SHA-256 check, rename) vs `curl --ssl-reqd -T`
#   (and FTPStore with server_hash: false, which checks SIZE only)
#   SFTPStore (.partial, size check, posix-rename)                     vs OpenSSH `sftp put`
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

hyperfine -r "$runs" -w 1 --export-json "$out/stores.json" --export-markdown "$out/stores.md" \
    -n "FTPStore upload" "$(store_test '\\.FTPThroughputCheck')" \
    -n "FTPStore upload, server_hash: false" "LIFEBOAT_FTP_SERVER_HASH=0 $(store_test '\\.FTPThroughputCheck')" \
    -n "curl --ssl-reqd -T" "curl -sS --ssl-reqd --cacert $TLS_CA_FILE --netrc-file $netrc -T $file ftp://127.0.0.1:$PROFTPD_EXPLICIT_PORT/throughput-check/curl.bin --ftp-create-dirs" \
    -n "SFTPStore upload" "$(store_test SFTPThroughputCheck/uploadAFile)" \
    -n "sftp put" "sftp -q -P $SSHD_PORT -o StrictHostKeyChecking=yes -o UserKnownHostsFile=$SSH_KNOWN_HOSTS -o IdentitiesOnly=yes -i $SSH_KEY_ED25519 -b $batch $SSH_USER@127.0.0.1"
rm -f "$netrc" "$batch"
rm -rf "$PROFTPD_ROOT/throughput-check" "$SSH_HOME/throughput-check"
cat "$out/stores.md"
