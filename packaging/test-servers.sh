#!/usr/bin/env bash
# Real servers on 127.0.0.1 for the test suite: FTPS (proftpd, vsftpd), SFTP (OpenSSH sshd), S3 (SeaweedFS)
# and Google Cloud Storage (gcp-storage-emulator), the last two behind a fault-injecting proxy, SMTP
# (test-servers/smtp_server.py on aiosmtpd), and MariaDB (mariadbd from the Debian package).
#
# Usage: packaging/test-servers.sh start|stop|check [DIR]
#   start  stops whatever an earlier start left running in DIR, recreates DIR from scratch (config, keys,
#          certificates, empty data directories), starts every server, waits until each one answers, and
#          writes DIR/servers.env (KEY=VALUE lines, absolute paths, no quoting) for the tests to read.
#   stop   stops what start started (by the pid files it recorded) and waits for it to exit; safe when
#          nothing runs.
#   check  smoke-tests the running servers with independent clients (curl, lftp, sftp, sshpass, rclone,
#          boto3, and test-servers/check_stores.py for S3/GCS and the fault proxies, python smtplib, the
#          mariadb client and mariadb-dump) and prints PASS/FAIL lines; exits 1 on any FAIL.
# DIR defaults to $LIFEBOAT_TEST_SERVERS, else /tmp/lifeboat-servers. Needs root (a system user, PAM, sshd)
# and the packages in packaging/setup.sh. vsftpd conflicts with proftpd as a Debian package, so it is
# unpacked (not installed) into $LIFEBOAT_TEST_SERVERS_CACHE (default /var/cache/lifeboat-test-servers).
#
# Ports (all on 127.0.0.1 only):
#   2121 proftpd, explicit TLS required      2990 proftpd, implicit TLS      2125 proftpd, no TLS
#   2124 proftpd, explicit TLS, 1 MiB quota  2122 vsftpd, explicit TLS, no MLSD
#   2222 sshd (password + keys, sftp)        2223 sshd whose sftp cannot write files over 1 MiB
#   passive data ports: proftpd 30000-30019, vsftpd 30100-30119
#   8333 SeaweedFS S3 (weed mini, SigV4 checked; buckets pbx-backups and pbx-locked, the latter with
#        Object Lock). weed mini also opens its own ports on 127.0.0.1: 9333 19333 (master), 9340 19340
#        (volume), 8888 18888 (filer), 18333 (S3 gRPC), 23646 33646.
#   8334 fault proxy in front of 8333 (forwards Host unchanged, so signatures still match)
#   9023 gcp-storage-emulator (no auth; resumable-upload answers fixed by test-servers/gcs_emulator.py)
#   9024 fault proxy in front of 9023, which also is the OAuth2 token endpoint (POST /token) of the test
#        service account and requires a bearer token it issued
#   Both proxies take faults and show a request log under /__lifeboat/ (see test-servers/fault_proxy.py).
#   8587 SMTP, STARTTLS required + AUTH     8465 SMTP, implicit TLS + AUTH
#   8025 SMTP, no TLS (STARTTLS not offered) + AUTH; all three store mail in one mailbox folder and refuse
#        or defer chosen recipients (see start_smtp and test-servers/smtp_server.py)
#   3307 MariaDB (mariadbd as the mysql user with its own datadir; also a unix socket, see start_mariadb)
# The S3, GCS and SMTP servers and the proxy run from the Python virtualenv that packaging/setup.sh makes
# ($LIFEBOAT_TEST_VENV, default /opt/lifeboat-test-venv).
#
# To add a server: write start_NAME (create its config under $dir, launch it with `launch`, wait for it
# with `wait_until`, append its keys to $env_lines) and call it from cmd_start; cmd_stop needs no change.
set -euo pipefail

umask 022
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

PROFTPD_EXPLICIT_PORT=2121 PROFTPD_IMPLICIT_PORT=2990 PROFTPD_PLAIN_PORT=2125 PROFTPD_QUOTA_PORT=2124
VSFTPD_PORT=2122 SSHD_PORT=2222 SSHD_QUOTA_PORT=2223
S3_PORT=8333 S3_PROXY_PORT=8334 GCS_PORT=9023 GCS_FRONT_PORT=9024
SMTP_STARTTLS_PORT=8587 SMTP_TLS_PORT=8465 SMTP_PLAIN_PORT=8025 MARIADB_PORT=3307
# not readonly: check reads the same names back from servers.env
S3_BUCKET=pbx-backups S3_LOCKED_BUCKET=pbx-locked GCS_BUCKET=pbx-backups
readonly S3_ACCESS_KEY=PBXTESTACCESSKEY0001 S3_SECRET_KEY=pbxtest-secret-key-0123456789abcdef
readonly S3_READONLY_ACCESS_KEY=PBXREADONLYKEY000001 S3_READONLY_SECRET_KEY=readonly-secret-key-0123456789abcd
readonly MARIADB_PASSWORD=pbxtest-mariadb-pass MARIADB_ROOT_PASSWORD=lifeboat-mariadb-root-pass
venv=${LIFEBOAT_TEST_VENV:-/opt/lifeboat-test-venv}
proxy_script=$(realpath "$(dirname "$0")/test-servers/fault_proxy.py")
emulator_script=$(realpath "$(dirname "$0")/test-servers/gcs_emulator.py")
smtp_script=$(realpath "$(dirname "$0")/test-servers/smtp_server.py")
readonly TEST_USER=pbxtest TEST_PASSWORD=pbxtest-pass KEY_PASSPHRASE=lifeboat-key-passphrase
readonly QUOTA_BYTES=1048576 # both quota servers refuse to store more than 1 MiB
readonly START_TIMEOUT=20    # seconds a server gets to answer
readonly MARKER=.lifeboat-test-servers
cache=${LIFEBOAT_TEST_SERVERS_CACHE:-/var/cache/lifeboat-test-servers}

say() { echo "test-servers: $*" >&2; }
die() { say "$*"; exit 1; }

# ---------------------------------------------------------------------------------------------------------
# Process bookkeeping: each launched server is recorded in $dir/run/started as "NAME PIDFILE EXE", so that
# stop kills exactly those processes (the exe check guards against a recycled pid).

# alive PID EXE: PID runs EXE (a zombie or another program does not count)
alive() {
    local exe
    exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
    [[ ${exe% (deleted)} == "$2" ]]
}

# launch NAME PIDFILE EXE ARGS...: start EXE in the background, detached from our stdio, logging to
# $dir/logs/NAME.log. The command may be a bash -c wrapper that execs EXE (the pid stays the same).
launch() {
    local name=$1 pidfile=$2 exe=$3
    shift 3
    "$@" </dev/null >>"$dir/logs/$name.log" 2>&1 &
    echo $! >"$pidfile"
    echo "$name $pidfile $exe" >>"$dir/run/started"
}

# stop_one NAME PIDFILE EXE: SIGTERM to the server and its direct children (sessions), then wait; SIGKILL
# after 10 s. Returns 1 when it was not running.
stop_one() {
    local name=$1 pidfile=$2 exe=$3 pid i
    pid=$(cat "$pidfile" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    alive "$pid" "$exe" || { rm -f "$pidfile"; return 1; }
    pkill -TERM -P "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        alive "$pid" "$exe" || break
        sleep 0.1
    done
    if alive "$pid" "$exe"; then
        say "$name (pid $pid) ignored SIGTERM for 10 s; killing it"
        pkill -KILL -P "$pid" 2>/dev/null || true
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
    fi
    rm -f "$pidfile"
}

# wait_until NAME PIDFILE PROBE...: poll PROBE until it succeeds; fail with the server's log tail if the
# server exits or does not answer within $START_TIMEOUT seconds.
wait_until() {
    local name=$1 pidfile=$2 deadline=$((SECONDS + START_TIMEOUT)) pid
    shift 2
    pid=$(cat "$pidfile")
    while ! "$@" >/dev/null 2>&1; do
        if ! kill -0 "$pid" 2>/dev/null || ((SECONDS >= deadline)); then
            local why="did not answer within $START_TIMEOUT s"
            kill -0 "$pid" 2>/dev/null || why="exited"
            say "$name $why (probe: $*). Last lines of $dir/logs/$name.log:"
            tail -n 30 "$dir/logs/$name.log" >&2 || true
            exit 1
        fi
        sleep 0.1
    done
}

# all_of COMMAND...: run the commands (each a string of words without quoting) in parallel; true when all
# succeed
all_of() {
    local -a pids=()
    local c pid rc=0
    for c in "$@"; do
        # shellcheck disable=SC2086 # word splitting wanted
        $c >/dev/null 2>&1 &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
    return $rc
}

# ssh_answers PORT: an SSH server there sends its host keys (ssh-keyscan itself exits 0 either way)
ssh_answers() { [[ -n $(ssh-keyscan -T 2 -p "$1" 127.0.0.1 2>/dev/null) ]]; }

# port_free PORT...: refuse to start when someone else already listens there
port_free() {
    local port
    for port in "$@"; do
        if [[ -n $(ss -Hltn "sport = :$port") ]]; then
            ss -Hltnp "sport = :$port" >&2
            die "port $port is already in use (another test run, or a server not started by this script?)"
        fi
    done
}

# ---------------------------------------------------------------------------------------------------------
# Shared material: the test user, secrets, a test CA and the FTP servers' certificate, SSH keys.

make_user() {
    local home=$1
    mkdir -p "$home"
    if ! id "$TEST_USER" >/dev/null 2>&1; then
        # -M: no skeleton files, so every run starts with the same empty home
        local group=(-U)
        getent group "$TEST_USER" >/dev/null && group=(-g "$TEST_USER")
        useradd -M -d "$home" -s /bin/bash "${group[@]}" "$TEST_USER"
    elif [[ $(getent passwd "$TEST_USER" | cut -d: -f6,7) != "$home:/bin/bash" ]]; then
        # made by an earlier run with another DIR
        usermod -d "$home" -s /bin/bash "$TEST_USER"
    fi
    echo "$TEST_USER:$TEST_PASSWORD" | chpasswd
}

make_secrets() {
    mkdir -m 700 "$dir/secrets"
    (
        umask 077
        printf '%s' "$TEST_PASSWORD" >"$dir/secrets/ftp-password"
        printf '%s' "$TEST_PASSWORD" >"$dir/secrets/ssh-password"
        printf '%s' "$KEY_PASSPHRASE" >"$dir/secrets/ssh-key-passphrase"
        printf '%s' "$TEST_PASSWORD" >"$dir/secrets/smtp-password"
    )
}

make_tls() {
    local t=$dir/tls
    mkdir "$t"
    openssl req -x509 -new -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Lifeboat test CA" \
        -keyout "$t/ca-key.pem" -out "$t/ca.pem" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    openssl req -new -newkey rsa:2048 -nodes -subj "/CN=localhost" \
        -keyout "$t/server-key.pem" -out "$t/server.csr" 2>/dev/null
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$t/server.ext"
    openssl x509 -req -in "$t/server.csr" -CA "$t/ca.pem" -CAkey "$t/ca-key.pem" -CAcreateserial \
        -days 3650 -sha256 -extfile "$t/server.ext" -out "$t/server.pem" 2>/dev/null
    # the servers read the key as root before dropping privileges
    chmod 600 "$t/ca-key.pem" "$t/server-key.pem"
    env_lines+=("TLS_CA_FILE=$t/ca.pem" "TLS_CERT_FILE=$t/server.pem" "TLS_KEY_FILE=$t/server-key.pem")
}

# host keys in DIR/sshd, client keys, authorized_keys and known_hosts files in DIR/ssh
make_ssh_keys() {
    local s=$dir/ssh h=$dir/sshd port type
    mkdir "$s" "$h"
    # RSA keys take most of the time: generate all keys in parallel.
    # keygen FILE TYPE BITS PASSPHRASE
    keygen() { ssh-keygen -q -t "$2" ${3:+-b "$3"} -N "$4" -C "lifeboat-test-${1##*/}" -f "$1"; }
    local -a pids=()
    local bits pid file
    for type in ed25519 rsa ecdsa; do
        bits=""
        [[ $type == rsa ]] && bits=3072
        [[ $type == ecdsa ]] && bits=256
        keygen "$h/ssh_host_${type}_key" "$type" "$bits" "" &
        pids+=($!)
        # other keys of the same types: a server whose host key changed
        keygen "$s/changed_host_${type}_key" "$type" "$bits" "" &
        pids+=($!)
        keygen "$s/client_$type" "$type" "$bits" "" &
        pids+=($!)
    done
    keygen "$s/client_encrypted" ed25519 "" "$KEY_PASSPHRASE" &
    pids+=($!)
    keygen "$s/client_other" ed25519 "" "" &
    pids+=($!)
    for pid in "${pids[@]}"; do wait "$pid" || die "ssh-keygen failed"; done
    for file in "$s"/client_*; do [[ $file == *.pub ]] || chmod 600 "$file"; done

    cat "$s"/client_{ed25519,rsa,ecdsa,encrypted}.pub >"$h/authorized_keys"
    chmod 644 "$h/authorized_keys"
    : >"$s/known_hosts"
    : >"$s/known_hosts_changed"
    : >"$s/known_hosts_empty"
    for port in "$SSHD_PORT" "$SSHD_QUOTA_PORT"; do
        for type in ed25519 rsa ecdsa; do
            echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$h/ssh_host_${type}_key.pub")" >>"$s/known_hosts"
            echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$s/changed_host_${type}_key.pub")" >>"$s/known_hosts_changed"
        done
    done
}

# a data directory the test user owns
user_dir() {
    mkdir -p "$1"
    chown "$TEST_USER:$TEST_USER" "$1"
    chmod 755 "$1"
}

# curl with the test user's login, verifying the test CA
ftp_curl() { curl -sS --max-time 5 --cacert "$dir/tls/ca.pem" -u "$TEST_USER:$TEST_PASSWORD" "$@"; }

# ---------------------------------------------------------------------------------------------------------
# FTPS: one proftpd master serving four ports (explicit TLS, implicit TLS, plain, quota).

start_proftpd() {
    local p=$dir/proftpd root=$dir/data/ftp qroot=$dir/data/ftp-quota
    mkdir "$p"
    user_dir "$root"
    user_dir "$qroot"

    # Quota: mod_quotatab (in proftpd-core) with file tables: a hard per-user upload limit of 1 MiB, on the
    # quota port only. The write that passes the limit fails with EDQUOT, proftpd aborts the transfer and
    # removes the file, and replies (measured with curl -v):
    #   552-Transfer aborted. Disk quota exceeded
    #   552 STOR: notice: quota reached: 'NAME' removed
    # curl then fails with 70 (CURLE_REMOTE_DISK_FULL). But the server closes the data connection while
    # the client may still be sending: then the client gets EPIPE/ECONNRESET first and curl gives up with
    # 55 (CURLE_SEND_ERROR) without reading the 552 (about 1 in 3 runs with a 1.5 MiB file here).
    # Deleting files gives the bytes back. (MaxStoreFileSize behaves alike, with "552 Transfer aborted.
    # File too large", but leaves the partial file behind.)
    ftpquota --create-table --type=limit --table-path="$p/quota-limit.tab" >/dev/null
    ftpquota --create-table --type=tally --table-path="$p/quota-tally.tab" >/dev/null
    ftpquota --add-record --type=limit --name="$TEST_USER" --quota-type=user --limit-type=hard \
        --bytes-upload="$QUOTA_BYTES" --table-path="$p/quota-limit.tab" >/dev/null

    cat >"$p/proftpd.conf" <<EOF
# Generated by packaging/test-servers.sh. Not the system proftpd: own ports, pid, logs, scoreboard.
ServerName "Lifeboat test proftpd"
ServerType standalone
# bind 127.0.0.1 only (without SocketBindTight proftpd binds 0.0.0.0)
DefaultAddress 127.0.0.1
SocketBindTight on
UseIPv6 off
Port $PROFTPD_EXPLICIT_PORT
User nobody
Group nogroup
Umask 022
MaxInstances 100
PidFile $p/proftpd.pid
ScoreboardFile $p/proftpd.scoreboard
SystemLog $p/proftpd.log
TransferLog $p/xferlog
WtmpLog off
UseReverseDNS off
# mod_delay slows down failed logins on purpose; tests try wrong passwords
DelayEngine off

ModulePath /usr/lib/proftpd
LoadModule mod_tls.c
# HASH/XSHA256: lets clients check what the server stored against what they sent
LoadModule mod_digest.c
LoadModule mod_quotatab.c
LoadModule mod_quotatab_file.c
<IfModule mod_ctrls.c>
  ControlsEngine off
</IfModule>

# /etc/shadow directly: no dependence on the PAM stack
AuthOrder mod_auth_unix.c

<Global>
  RequireValidShell off
  AllowOverwrite on
  AllowStoreRestart on
  AllowRetrieveRestart on
  PassivePorts 30000 30019
  TLSEngine on
  TLSRequired on
  TLSProtocol TLSv1.2 TLSv1.3
  # clients that do not resume the control connection's TLS session on data connections must still work
  TLSOptions NoSessionReuseRequired
  TLSRSACertificateFile $dir/tls/server.pem
  TLSRSACertificateKeyFile $dir/tls/server-key.pem
  TLSCACertificateFile $dir/tls/ca.pem
  TLSVerifyClient off
  TLSRenegotiate none
  TLSLog $p/tls.log
</Global>

DefaultRoot $root

<VirtualHost 127.0.0.1>
  Port $PROFTPD_IMPLICIT_PORT
  DefaultRoot $root
  TLSOptions UseImplicitSSL
</VirtualHost>

<VirtualHost 127.0.0.1>
  Port $PROFTPD_PLAIN_PORT
  DefaultRoot $root
  TLSEngine off
  TLSRequired off
</VirtualHost>

<VirtualHost 127.0.0.1>
  Port $PROFTPD_QUOTA_PORT
  DefaultRoot $qroot
  QuotaEngine on
  QuotaLimitTable file:$p/quota-limit.tab
  QuotaTallyTable file:$p/quota-tally.tab
  QuotaLog $p/quota.log
</VirtualHost>
EOF
    proftpd -t -c "$p/proftpd.conf" >"$dir/logs/proftpd-configtest.log" 2>&1 || {
        cat "$dir/logs/proftpd-configtest.log" >&2
        die "proftpd rejected $p/proftpd.conf"
    }
    # -n: stay in the foreground, so the pid we record is the master's
    launch proftpd "$p/proftpd.pid" /usr/sbin/proftpd /usr/sbin/proftpd -n -c "$p/proftpd.conf"
    wait_until proftpd "$p/proftpd.pid" all_of \
        "ftp_curl --ssl-reqd -l ftp://127.0.0.1:$PROFTPD_EXPLICIT_PORT/" \
        "ftp_curl -l ftps://127.0.0.1:$PROFTPD_IMPLICIT_PORT/" \
        "ftp_curl -l ftp://127.0.0.1:$PROFTPD_PLAIN_PORT/" \
        "ftp_curl --ssl-reqd -l ftp://127.0.0.1:$PROFTPD_QUOTA_PORT/"

    env_lines+=(
        "PROFTPD_EXPLICIT_PORT=$PROFTPD_EXPLICIT_PORT" "PROFTPD_IMPLICIT_PORT=$PROFTPD_IMPLICIT_PORT"
        "PROFTPD_PLAIN_PORT=$PROFTPD_PLAIN_PORT" "PROFTPD_QUOTA_PORT=$PROFTPD_QUOTA_PORT"
        "PROFTPD_ROOT=$root" "PROFTPD_QUOTA_ROOT=$qroot" "PROFTPD_PID_FILE=$p/proftpd.pid"
    )
}

# ---------------------------------------------------------------------------------------------------------
# FTPS: vsftpd (no MLSD, a different TLS stack behaviour). Unpacked from the Debian package, not installed.

vsftpd_binary() {
    local bin=$cache/vsftpd/usr/sbin/vsftpd
    if [[ ! -x $bin ]]; then
        local tmp
        mkdir -p "$cache"
        tmp=$(mktemp -d "$cache/download.XXXXXX")
        # apt runs downloads as _apt, which must be able to write here
        chown _apt "$tmp" 2>/dev/null || true
        if ! (cd "$tmp" && apt-get download -q vsftpd) >"$tmp/apt.log" 2>&1; then
            # fresh machines have empty package lists
            apt-get update -qq >>"$tmp/apt.log" 2>&1 || true
            (cd "$tmp" && apt-get download -q vsftpd) >>"$tmp/apt.log" 2>&1 || {
                cat "$tmp/apt.log" >&2
                rm -rf "$tmp"
                die "could not download the vsftpd package"
            }
        fi
        rm -rf "$cache/vsftpd"
        dpkg-deb -x "$tmp"/vsftpd_*.deb "$tmp/root" || die "could not unpack $(echo "$tmp"/vsftpd_*.deb)"
        mv "$tmp/root" "$cache/vsftpd"
        rm -rf "$tmp"
    fi
    echo "$bin"
}

start_vsftpd() {
    local v=$dir/vsftpd root=$dir/data/vsftp bin
    bin=$(vsftpd_binary)
    mkdir -p "$v/empty"
    user_dir "$root"
    # vsftpd needs a PAM service; the stock one comes only with the package
    printf '%s\n' "@include common-auth" "@include common-account" "@include common-session" \
        >/etc/pam.d/vsftpd-pbxtest

    # vsftpd insists on a root-owned config file
    (
        umask 077
        cat >"$v/vsftpd.conf" <<EOF
# Generated by packaging/test-servers.sh
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$VSFTPD_PORT
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
local_root=$root
chroot_local_user=YES
allow_writeable_chroot=YES
secure_chroot_dir=$v/empty
pam_service_name=vsftpd-pbxtest
seccomp_sandbox=NO
pasv_enable=YES
pasv_address=127.0.0.1
pasv_min_port=30100
pasv_max_port=30119
ssl_enable=YES
rsa_cert_file=$dir/tls/server.pem
rsa_private_key_file=$dir/tls/server-key.pem
force_local_logins_ssl=YES
force_local_data_ssl=YES
# clients need not resume the control connection's TLS session on data connections
require_ssl_reuse=NO
ssl_request_cert=NO
ssl_ciphers=HIGH
xferlog_enable=YES
xferlog_file=$v/xferlog
vsftpd_log_file=$v/vsftpd.log
dual_log_enable=YES
log_ftp_protocol=YES
EOF
    )
    launch vsftpd "$v/vsftpd.pid" "$bin" "$bin" "$v/vsftpd.conf"
    wait_until vsftpd "$v/vsftpd.pid" ftp_curl --ssl-reqd -l "ftp://127.0.0.1:$VSFTPD_PORT/"
    env_lines+=("VSFTPD_PORT=$VSFTPD_PORT" "VSFTPD_ROOT=$root" "VSFTPD_PID_FILE=$v/vsftpd.pid")
}

# ---------------------------------------------------------------------------------------------------------
# SFTP: two OpenSSH sshd instances sharing host keys, users and authorized keys.

# write_sshd_config NAME PORT
write_sshd_config() {
    local h=$dir/sshd
    cat >"$h/$1.conf" <<EOF
# Generated by packaging/test-servers.sh. Not the system sshd: own port, host keys, pid file.
Port $2
ListenAddress 127.0.0.1
AddressFamily inet
HostKey $h/ssh_host_ed25519_key
HostKey $h/ssh_host_rsa_key
HostKey $h/ssh_host_ecdsa_key
PidFile $h/$1.pid
AllowUsers $TEST_USER
PermitRootLogin no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile $h/authorized_keys
StrictModes no
UsePAM yes
UseDNS no
PrintMotd no
X11Forwarding no
AllowTcpForwarding no
# the tests open many short connections in a row
MaxStartups 100:30:200
LogLevel VERBOSE
Subsystem sftp internal-sftp
EOF
    sshd -t -f "$h/$1.conf" || die "sshd rejected $h/$1.conf"
}

start_sshd() {
    local h=$dir/sshd s=$dir/ssh
    make_ssh_keys
    # privilege separation directory (sshd refuses to start without it)
    mkdir -p /run/sshd
    chmod 755 /run/sshd
    write_sshd_config sshd "$SSHD_PORT"
    write_sshd_config sshd-quota "$SSHD_QUOTA_PORT"

    # sshd re-executes itself, so it must be started by its absolute path; -D: foreground, -e: log to stderr
    launch sshd "$h/sshd.pid" /usr/sbin/sshd /usr/sbin/sshd -D -e -f "$h/sshd.conf"
    # The quota instance runs with a file size limit of 1 MiB (ulimit -f counts KiB) and SIGXFSZ ignored:
    # a write past the limit then fails with EFBIG instead of killing the sftp session, and the client
    # gets SSH_FX_FAILURE. The limit is inherited by every session the instance forks.
    # shellcheck disable=SC2016 # expanded by the inner bash
    launch sshd-quota "$h/sshd-quota.pid" /usr/sbin/sshd \
        bash -c 'ulimit -f $(($1 / 1024)) && trap "" XFSZ && exec /usr/sbin/sshd -D -e -f "$2"' \
        sshd-quota "$QUOTA_BYTES" "$h/sshd-quota.conf"

    wait_until sshd "$h/sshd.pid" ssh_answers "$SSHD_PORT"
    wait_until sshd-quota "$h/sshd-quota.pid" ssh_answers "$SSHD_QUOTA_PORT"
    env_lines+=(
        "SSH_USER=$TEST_USER" "SSH_PASSWORD_FILE=$dir/secrets/ssh-password"
        "SSHD_PORT=$SSHD_PORT" "SSHD_PID_FILE=$h/sshd.pid" "SSH_HOME=$dir/data/home"
        "SSHD_QUOTA_PORT=$SSHD_QUOTA_PORT" "SSHD_QUOTA_PID_FILE=$h/sshd-quota.pid"
        "SSH_KEY_ED25519=$s/client_ed25519" "SSH_KEY_RSA=$s/client_rsa" "SSH_KEY_ECDSA=$s/client_ecdsa"
        "SSH_KEY_ENCRYPTED=$s/client_encrypted" "SSH_KEY_PASSPHRASE_FILE=$dir/secrets/ssh-key-passphrase"
        "SSH_KEY_UNAUTHORIZED=$s/client_other"
        "SSH_KNOWN_HOSTS=$s/known_hosts" "SSH_KNOWN_HOSTS_CHANGED=$s/known_hosts_changed"
        "SSH_KNOWN_HOSTS_EMPTY=$s/known_hosts_empty" "SSH_HOST_KEY_ED25519_PUB=$h/ssh_host_ed25519_key.pub"
    )
}

# ---------------------------------------------------------------------------------------------------------
# S3: SeaweedFS `weed mini` (SigV4 checked against two identities) and the fault proxy in front of it.

# s3_answers: a signed listing of the bucket succeeds (the port opens before IAM and the bucket are ready)
s3_answers() {
    env -u AWS_CA_BUNDLE "$venv/bin/python" - <<PY
import boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:$S3_PORT", region_name="us-east-1",
    aws_access_key_id="$S3_ACCESS_KEY", aws_secret_access_key="$S3_SECRET_KEY",
    config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}))
s3.list_objects_v2(Bucket="$S3_BUCKET", MaxKeys=1)
PY
}

# http_answers URL: something answers HTTP there
http_answers() { curl -s -o /dev/null --max-time 2 "$1"; }

start_seaweed() {
    local h=$dir/seaweed
    mkdir -p "$h/data"
    printf '%s' "$S3_SECRET_KEY" >"$dir/secrets/s3-secret"
    printf '%s' "$S3_READONLY_SECRET_KEY" >"$dir/secrets/s3-readonly-secret"
    chmod 600 "$dir/secrets/s3-secret" "$dir/secrets/s3-readonly-secret"
    cat >"$h/s3.json" <<JSON
{"identities": [
  {"name": "pbxtest", "credentials": [{"accessKey": "$S3_ACCESS_KEY", "secretKey": "$S3_SECRET_KEY"}],
   "actions": ["Admin", "Read", "Write", "List", "Tagging"]},
  {"name": "readonly", "credentials": [{"accessKey": "$S3_READONLY_ACCESS_KEY", "secretKey": "$S3_READONLY_SECRET_KEY"}],
   "actions": ["Read:$S3_BUCKET", "List:$S3_BUCKET"]}
]}
JSON
    launch seaweed "$h/weed.pid" "$(realpath "$venv/bin/weed")" "$venv/bin/weed" mini -dir="$h/data" -ip=127.0.0.1 \
        -ip.bind=127.0.0.1 -s3.port="$S3_PORT" -s3.config="$h/s3.json" -bucket="$S3_BUCKET" \
        -master.telemetry=false -admin.ui=false -webdav=false -s3.port.iceberg=0 -s3.port.lance=0
    launch s3-proxy "$h/proxy.pid" "$(realpath "$venv/bin/python")" "$venv/bin/python" "$proxy_script" \
        --port "$S3_PROXY_PORT" --upstream "http://127.0.0.1:$S3_PORT"
    wait_until seaweed "$h/weed.pid" s3_answers
    wait_until s3-proxy "$h/proxy.pid" http_answers "http://127.0.0.1:$S3_PROXY_PORT/__lifeboat/log"
    # A second bucket with S3 Object Lock (so versioned). Measured with weed 4.48: a version PUT with
    # x-amz-object-lock-mode GOVERNANCE (or COMPLIANCE) and a retain-until date cannot be deleted before
    # that date (403 AccessDenied, also per key in DeleteObjects); GOVERNANCE yields to
    # x-amz-bypass-governance-retention, COMPLIANCE does not; a DELETE without versionId adds a delete
    # marker; default retention (PutObjectLockConfiguration) applies to plain PUTs and multipart uploads.
    # Unlike AWS, a PUT with lock headers needs no Content-MD5/checksum, and a past retain-until date gets
    # 400 InvalidRequest (AWS: InvalidArgument). The probe leaves the bucket empty; S3_LOCKED_BUCKET is
    # written only when it passed.
    local locked=()
    if env -u AWS_CA_BUNDLE "$venv/bin/python" - <<PY >>"$dir/logs/seaweed.log" 2>&1; then
import datetime
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:$S3_PORT", region_name="us-east-1",
    aws_access_key_id="$S3_ACCESS_KEY", aws_secret_access_key="$S3_SECRET_KEY",
    config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}))
bucket = "$S3_LOCKED_BUCKET"
s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
v = s3.put_object(Bucket=bucket, Key="probe", Body=b"probe", ObjectLockMode="GOVERNANCE",
                  ObjectLockRetainUntilDate=until)["VersionId"]
try:
    s3.delete_object(Bucket=bucket, Key="probe", VersionId=v)
    raise SystemExit("Object Lock probe: a locked version was deleted")
except ClientError as e:
    assert e.response["Error"]["Code"] == "AccessDenied", e.response["Error"]
s3.delete_object(Bucket=bucket, Key="probe", VersionId=v, BypassGovernanceRetention=True)
assert not s3.list_object_versions(Bucket=bucket).get("Versions"), "Object Lock probe: bucket not empty"
PY
        locked=("S3_LOCKED_BUCKET=$S3_LOCKED_BUCKET")
    else
        say "SeaweedFS Object Lock probe failed (see $dir/logs/seaweed.log): no S3_LOCKED_BUCKET"
    fi
    env_lines+=(
        "S3_ENDPOINT=http://127.0.0.1:$S3_PORT" "S3_PROXY_ENDPOINT=http://127.0.0.1:$S3_PROXY_PORT"
        "S3_REGION=us-east-1" "S3_BUCKET=$S3_BUCKET" "${locked[@]}"
        "S3_ACCESS_KEY_ID=$S3_ACCESS_KEY" "S3_SECRET_ACCESS_KEY_FILE=$dir/secrets/s3-secret"
        "S3_READONLY_ACCESS_KEY_ID=$S3_READONLY_ACCESS_KEY"
        "S3_READONLY_SECRET_ACCESS_KEY_FILE=$dir/secrets/s3-readonly-secret"
        "SEAWEED_PID_FILE=$h/weed.pid" "S3_PROXY_PID_FILE=$h/proxy.pid" "TEST_PYTHON=$venv/bin/python"
    )
}

# ---------------------------------------------------------------------------------------------------------
# GCS: gcp-storage-emulator, and the fault proxy in front of it as the OAuth2 token endpoint that checks
# the service account's JWT and the bearer tokens it issued.

# service_account NAME: an RSA key and a Google-style service-account JSON whose token_uri is the front
service_account() {
    local name=$1 g=$dir/gcs
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$g/$name.key" 2>/dev/null
    openssl pkey -in "$g/$name.key" -pubout -out "$g/$name.pub.pem"
    "$venv/bin/python" - "$g/$name.key" "$g/$name.json" "$name" "$GCS_FRONT_PORT" <<'PY'
import json, secrets, sys
key, out, name, port = sys.argv[1:]
account = {
    "type": "service_account", "project_id": "lifeboat-test", "private_key_id": secrets.token_hex(20),
    "private_key": open(key).read(), "client_email": f"{name}@lifeboat-test.iam.gserviceaccount.com",
    "client_id": str(secrets.randbelow(10**20)), "auth_uri": "https://accounts.google.com/o/oauth2/auth",
    "token_uri": f"http://127.0.0.1:{port}/token",
    "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
    "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
                            f"{name}%40lifeboat-test.iam.gserviceaccount.com",
    "universe_domain": "googleapis.com",
}
with open(out, "w") as f:
    json.dump(account, f, indent=2)
PY
    chmod 600 "$g/$name.key" "$g/$name.json"
}

start_gcs() {
    local g=$dir/gcs
    mkdir -p "$g/data"
    service_account lifeboat-backup
    service_account untrusted
    # The emulator keeps its files under the working directory. gcs_emulator.py is the emulator with
    # its resumable-upload answers fixed (no Range header when nothing is persisted, 200 + object for a
    # status query on a finished session, DELETE on a session = cancel with 499), 204 for an object
    # DELETE, and GCS's JSON error body where it sent none. What still differs from GCS (measured):
    #   - a chunk must start exactly at the persisted length: a resent (overlapping) or gapped chunk
    #     gets 400 {"error": {"message": "Invalid Content-Range start: expected N, got M"}};
    #   - non-final chunks need not be multiples of 256 KiB (everything sent is persisted);
    #   - X-Goog-Hash on an upload request and ifGenerationMatch/ifGenerationNotMatch are ignored;
    #     crc32c/md5Hash given in the object metadata ARE checked at finalisation (400 on mismatch);
    #   - listing ignores maxResults and pageToken (one page, never a nextPageToken);
    #   - HTTP/1.0, one request at a time, a connection per request (the front keeps clients'
    #     connections alive); metageneration is "2" after a resumable upload.
    # Finished objects carry md5Hash and crc32c (base64 of the big-endian CRC32C), size as a string.
    # shellcheck disable=SC2016 # expanded by the inner bash
    launch gcs-emulator "$g/emulator.pid" "$(realpath "$venv/bin/python")" \
        bash -c 'cd "$1" && exec "$2" "$3" start --host 127.0.0.1 --port "$4" --default-bucket "$5" -q' \
        gcs-emulator "$g/data" "$venv/bin/python" "$emulator_script" "$GCS_PORT" "$GCS_BUCKET"
    launch gcs-front "$g/front.pid" "$(realpath "$venv/bin/python")" "$venv/bin/python" "$proxy_script" \
        --port "$GCS_FRONT_PORT" --upstream "http://127.0.0.1:$GCS_PORT" \
        --token-public-key "$g/lifeboat-backup.pub.pem" \
        --token-issuer "lifeboat-backup@lifeboat-test.iam.gserviceaccount.com" --token-lifetime 3600
    wait_until gcs-emulator "$g/emulator.pid" http_answers "http://127.0.0.1:$GCS_PORT/storage/v1/b/$GCS_BUCKET"
    wait_until gcs-front "$g/front.pid" http_answers "http://127.0.0.1:$GCS_FRONT_PORT/__lifeboat/log"
    env_lines+=(
        "GCS_EMULATOR_ENDPOINT=http://127.0.0.1:$GCS_PORT" "GCS_ENDPOINT=http://127.0.0.1:$GCS_FRONT_PORT"
        "GCS_BUCKET=$GCS_BUCKET" "GCS_CREDENTIALS_FILE=$g/lifeboat-backup.json"
        "GCS_UNTRUSTED_CREDENTIALS_FILE=$g/untrusted.json"
        "GCS_EMULATOR_PID_FILE=$g/emulator.pid" "GCS_FRONT_PID_FILE=$g/front.pid"
    )
}

# ---------------------------------------------------------------------------------------------------------
# SMTP: test-servers/smtp_server.py (aiosmtpd), one process serving three ports with the test CA's certificate
# and the test user's login. Recipients that fail on purpose: refused@example.com gets 550 and
# unknown@example.com 553 at RCPT, deferred@example.com 451 and full@example.com 452 at RCPT,
# spam@example.com 554 after the message was sent. Accepted mail lands in SMTP_MAILBOX as STEM.eml (the
# bytes as received) beside STEM.json (envelope, login, TLS); SMTP_SESSION_LOG lists the commands of every
# connection (verbs only).

# smtp_answers: each port greets, the STARTTLS port upgrades with the test CA verified, the TLS port handshakes,
# and the plain port does not offer STARTTLS
smtp_answers() {
    "$venv/bin/python" - "$dir/tls/ca.pem" "$SMTP_STARTTLS_PORT" "$SMTP_TLS_PORT" "$SMTP_PLAIN_PORT" <<'PY'
import smtplib, ssl, sys
ca, starttls, tls, plain = sys.argv[1], *map(int, sys.argv[2:])
context = ssl.create_default_context(cafile=ca)
with smtplib.SMTP("127.0.0.1", starttls, timeout=2) as s:
    s.starttls(context=context)
    s.noop()
with smtplib.SMTP_SSL("127.0.0.1", tls, timeout=2, context=context) as s:
    s.noop()
with smtplib.SMTP("127.0.0.1", plain, timeout=2) as s:
    s.ehlo()
    assert not s.has_extn("starttls")
PY
}

start_smtp() {
    local m=$dir/smtp
    mkdir -p "$m/mailbox"
    "$venv/bin/python" -c 'import aiosmtpd' 2>/dev/null || die "$venv has no aiosmtpd: run packaging/setup.sh"
    launch smtp "$m/smtp.pid" "$(realpath "$venv/bin/python")" "$venv/bin/python" "$smtp_script" \
        --starttls-port "$SMTP_STARTTLS_PORT" --tls-port "$SMTP_TLS_PORT" --plain-port "$SMTP_PLAIN_PORT" \
        --cert "$dir/tls/server.pem" --key "$dir/tls/server-key.pem" \
        --username "$TEST_USER" --password-file "$dir/secrets/smtp-password" \
        --mailbox "$m/mailbox" --session-log "$m/sessions.jsonl" --port-file "$m/ports.json" \
        --rcpt-reply refused@example.com=550 --rcpt-reply unknown@example.com=553 \
        --rcpt-reply deferred@example.com=451 --rcpt-reply full@example.com=452 \
        --data-reply spam@example.com=554
    wait_until smtp "$m/smtp.pid" smtp_answers
    env_lines+=(
        "SMTP_STARTTLS_PORT=$SMTP_STARTTLS_PORT" "SMTP_TLS_PORT=$SMTP_TLS_PORT" "SMTP_PLAIN_PORT=$SMTP_PLAIN_PORT"
        "SMTP_USERNAME=$TEST_USER" "SMTP_PASSWORD_FILE=$dir/secrets/smtp-password"
        "SMTP_CA_FILE=$dir/tls/ca.pem" "SMTP_CERT_FILE=$dir/tls/server.pem" "SMTP_KEY_FILE=$dir/tls/server-key.pem"
        "SMTP_MAILBOX=$m/mailbox" "SMTP_SESSION_LOG=$m/sessions.jsonl" "SMTP_PID_FILE=$m/smtp.pid"
        "SMTP_SERVER_SCRIPT=$smtp_script"
        "SMTP_REFUSED_RECIPIENT=refused@example.com" "SMTP_UNKNOWN_RECIPIENT=unknown@example.com"
        "SMTP_DEFERRED_RECIPIENT=deferred@example.com" "SMTP_FULL_RECIPIENT=full@example.com"
        "SMTP_SPAM_RECIPIENT=spam@example.com"
    )
}

# ---------------------------------------------------------------------------------------------------------
# MariaDB: mariadbd from the Debian package, not the system service: its own option file (nothing under
# /etc/mysql is read), datadir and socket under $dir/mariadb, 127.0.0.1:$MARIADB_PORT, running as the
# package's mysql user. Accounts: root@localhost (unix_socket as the OS root, or its password) and the test
# user pbxtest@localhost and pbxtest@127.0.0.1 with ALL PRIVILEGES ON *.* (a dump needs SELECT, SHOW VIEW,
# TRIGGER and EVENT on the database and SELECT on mysql.proc; the tests also create scratch databases and
# users). Clients log in with option files (`--defaults-file=`), never with a password on the command
# line: MARIADB_DEFAULTS_FILE (test user, socket), MARIADB_TCP_DEFAULTS_FILE (test user, TCP) and
# MARIADB_ROOT_DEFAULTS_FILE (root, socket), each mode 600. SIGTERM is mariadbd's clean shutdown.

# mariadb_answers FILE...: each option file's login runs a query
mariadb_answers() {
    local f
    for f in "$@"; do mariadb --defaults-file="$f" --connect-timeout=2 -e 'SELECT 1' || return 1; done
}

# mariadb_client_file FILE USER PASSWORD [LINE...]: a [client] option file readable by its owner only. A
# --defaults-file is the only option file a client reads, so Debian's client default of utf8mb4 (in
# /etc/mysql) does not apply: without it the mariadb client talks utf8mb3 and refuses 4-byte characters.
mariadb_client_file() {
    local file=$1 user=$2 password=$3
    shift 3
    (
        umask 077
        printf '%s\n' "# Generated by packaging/test-servers.sh" "[client]" "user=$user" "password=$password" "$@" \
            "default-character-set=utf8mb4" >"$file"
    )
}

start_mariadb() {
    local m=$dir/mariadb
    local socket=$m/run/mariadbd.sock
    local tool
    for tool in mariadbd mariadb-install-db mariadb mariadb-dump; do
        command -v "$tool" >/dev/null || die "$tool is missing: run packaging/setup.sh"
    done
    id mysql >/dev/null 2>&1 || die "no mysql user (the mariadb-server package makes it): run packaging/setup.sh"
    mkdir -p "$m/data" "$m/run"
    chown mysql:mysql "$m/data" "$m/run"
    chmod 750 "$m/data"
    cat >"$m/my.cnf" <<EOF
# Generated by packaging/test-servers.sh
[mariadbd]
user = mysql
datadir = $m/data
socket = $socket
port = $MARIADB_PORT
bind-address = 127.0.0.1
# mariadbd's own pid file; the one start and stop use is written by launch
pid-file = $m/run/mariadbd.server.pid
skip-name-resolve
# no log-error: errors go to stderr, that is $dir/logs/mariadb.log
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci
# test data only
innodb_buffer_pool_size = 128M
innodb_log_file_size = 32M
max_allowed_packet = 64M
EOF
    mariadb-install-db --defaults-file="$m/my.cnf" --skip-test-db --auth-root-authentication-method=socket \
        >"$dir/logs/mariadb-install.log" 2>&1 || {
        tail -n 30 "$dir/logs/mariadb-install.log" >&2
        die "mariadb-install-db failed (log: $dir/logs/mariadb-install.log)"
    }
    launch mariadb "$m/mariadbd.pid" "$(realpath /usr/sbin/mariadbd)" /usr/sbin/mariadbd --defaults-file="$m/my.cnf"
    # root logs in through unix_socket (we are root) until it has a password
    wait_until mariadb "$m/mariadbd.pid" \
        mariadb --no-defaults --socket="$socket" --user=root --connect-timeout=2 -e 'SELECT 1'
    mariadb --no-defaults --socket="$socket" --user=root <<SQL || die "could not create the MariaDB test accounts"
ALTER USER root@localhost IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('$MARIADB_ROOT_PASSWORD');
CREATE USER $TEST_USER@localhost IDENTIFIED BY '$MARIADB_PASSWORD';
CREATE USER $TEST_USER@'127.0.0.1' IDENTIFIED BY '$MARIADB_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO $TEST_USER@localhost;
GRANT ALL PRIVILEGES ON *.* TO $TEST_USER@'127.0.0.1';
SQL
    (umask 077 && printf '%s' "$MARIADB_PASSWORD" >"$dir/secrets/mariadb-password")
    mariadb_client_file "$m/client.cnf" "$TEST_USER" "$MARIADB_PASSWORD" "socket=$socket"
    mariadb_client_file "$m/client-tcp.cnf" "$TEST_USER" "$MARIADB_PASSWORD" "host=127.0.0.1" \
        "port=$MARIADB_PORT" "protocol=TCP"
    mariadb_client_file "$m/client-root.cnf" root "$MARIADB_ROOT_PASSWORD" "socket=$socket"
    wait_until mariadb "$m/mariadbd.pid" mariadb_answers "$m/client.cnf" "$m/client-tcp.cnf" "$m/client-root.cnf"
    env_lines+=(
        "MARIADB_HOST=127.0.0.1" "MARIADB_PORT=$MARIADB_PORT" "MARIADB_SOCKET=$socket"
        "MARIADB_USER=$TEST_USER" "MARIADB_PASSWORD_FILE=$dir/secrets/mariadb-password"
        "MARIADB_DEFAULTS_FILE=$m/client.cnf" "MARIADB_TCP_DEFAULTS_FILE=$m/client-tcp.cnf"
        "MARIADB_ROOT_DEFAULTS_FILE=$m/client-root.cnf" "MARIADB_DATA_DIR=$m/data"
        "MARIADB_PID_FILE=$m/mariadbd.pid"
    )
}

# ---------------------------------------------------------------------------------------------------------

cmd_stop() {
    [[ -f $dir/run/started ]] || return 0
    local name pidfile exe stopped=()
    while read -r name pidfile exe; do
        if stop_one "$name" "$pidfile" "$exe"; then stopped+=("$name"); fi
    done <"$dir/run/started"
    rm -f "$dir/run/started"
    ((${#stopped[@]} == 0)) || say "stopped ${stopped[*]} ($dir)"
}

cmd_start() {
    [[ $(id -u) -eq 0 ]] || die "start needs root (system user, PAM, sshd)"
    local t0=$EPOCHREALTIME
    cmd_stop
    if [[ -e $dir ]]; then
        # start wipes DIR: only ever a directory this script made (or an empty one)
        [[ -f $dir/$MARKER || -z $(ls -A "$dir" 2>/dev/null) ]] ||
            die "$dir exists and was not made by this script; refusing to wipe it"
        rm -rf "$dir"
    fi
    port_free "$PROFTPD_EXPLICIT_PORT" "$PROFTPD_IMPLICIT_PORT" "$PROFTPD_PLAIN_PORT" "$PROFTPD_QUOTA_PORT" \
        "$VSFTPD_PORT" "$SSHD_PORT" "$SSHD_QUOTA_PORT" "$S3_PORT" "$S3_PROXY_PORT" "$GCS_PORT" "$GCS_FRONT_PORT" \
        "$SMTP_STARTTLS_PORT" "$SMTP_TLS_PORT" "$SMTP_PLAIN_PORT" "$MARIADB_PORT"
    [[ -x $venv/bin/weed && -x $venv/bin/gcp-storage-emulator ]] ||
        die "$venv has no weed or gcp-storage-emulator: run packaging/setup.sh"

    mkdir -p "$dir"
    chmod 755 "$dir" # the test user must reach its data directories
    touch "$dir/$MARKER"
    mkdir "$dir/run" "$dir/logs" "$dir/data"
    # a start that fails half-way leaves nothing running
    trap 'cmd_stop' EXIT
    env_lines=("SERVERS_DIR=$dir")

    make_user "$dir/data/home"
    user_dir "$dir/data/home"
    make_secrets
    make_tls
    env_lines+=("FTP_USER=$TEST_USER" "FTP_PASSWORD_FILE=$dir/secrets/ftp-password")

    start_proftpd
    start_vsftpd
    start_sshd
    start_seaweed
    start_gcs
    start_smtp
    start_mariadb

    printf '%s\n' "${env_lines[@]}" >"$dir/servers.env.tmp"
    mv "$dir/servers.env.tmp" "$dir/servers.env"
    trap - EXIT
    say "all servers up in $(awk -v a="$EPOCHREALTIME" -v b="$t0" 'BEGIN { printf "%.1f", a - b }') s;" \
        "settings in $dir/servers.env"
}

# ---------------------------------------------------------------------------------------------------------
# check: smoke tests with independent clients against a started DIR.

# shellcheck disable=SC2153 # the upper-case variables come from servers.env
cmd_check() {
    [[ -f $dir/servers.env ]] || die "$dir/servers.env missing: run start first"
    local key value
    while IFS='=' read -r key value; do
        [[ $key =~ ^[A-Z0-9_]+$ ]] && printf -v "$key" '%s' "$value"
    done <"$dir/servers.env"

    local failed=0 w=$dir/check pw
    rm -rf "$w"
    mkdir -p "$w"
    pw=$(cat "$FTP_PASSWORD_FILE")
    pass() { echo "PASS $*"; }
    fail() { echo "FAIL $*"; failed=1; }
    # ok DESCRIPTION CMD...: CMD must succeed; refused DESCRIPTION CMD...: CMD must fail
    ok() {
        local what=$1
        shift
        echo "== $what: $*" >>"$w/log"
        if "$@" >>"$w/log" 2>&1; then pass "$what"; else fail "$what (see $w/log)"; fi
    }
    refused() {
        local what=$1
        shift
        echo "== $what: $*" >>"$w/log"
        if "$@" >>"$w/log" 2>&1; then fail "$what (it succeeded)"; else pass "$what"; fi
    }

    head -c $((5 * 1024 * 1024)) /dev/urandom >"$w/5m.bin"
    head -c $((1536 * 1024)) /dev/urandom >"$w/1m5.bin"
    head -c $((2 * 1024 * 1024)) /dev/urandom >"$w/2m.bin"
    head -c $((100 * 1024)) /dev/urandom >"$w/100k.bin"

    # --- FTP
    fc() { curl -sS --max-time 30 --cacert "$TLS_CA_FILE" -u "$FTP_USER:$pw" "$@"; }
    # ftp_roundtrip NAME BASE_URL [curl options]: upload as .part, rename over, download, compare, delete.
    # curl runs -Q commands before changing directory, hence the absolute paths.
    ftp_roundtrip() {
        local name=$1 base=$2
        shift 2
        fc "$@" -T "$w/5m.bin" "$base/check-$name.part" &&
            fc "$@" "$base/" -Q "RNFR /check-$name.part" -Q "RNTO /check-$name.bin" -l &&
            fc "$@" -o "$w/$name.down" "$base/check-$name.bin" &&
            cmp "$w/5m.bin" "$w/$name.down" &&
            fc "$@" "$base/" -Q "DELE /check-$name.bin" -l
    }
    # last_reply CURL_ARGS...: the last 4xx/5xx reply of a curl -v run (first line of a multi-line reply)
    last_reply() {
        { fc -v "$@" 2>&1 || true; } | tr -d '\r' | tee -a "$w/log" | awk '
            /^< [0-9][0-9][0-9]-/ { if (!multi) first = $0; multi = 1; next }
            /^< [0-9][0-9][0-9] / { line = multi ? first : $0; multi = 0; if (line ~ /^< [45]/) r = line }
            END { sub(/^< /, "", r); print r }'
    }

    local u=ftp://127.0.0.1:$PROFTPD_EXPLICIT_PORT reply rc
    ok "proftpd $PROFTPD_EXPLICIT_PORT explicit TLS: upload, RNFR/RNTO, download (CA verified)" \
        ftp_roundtrip explicit "$u" --ssl-reqd
    ok "proftpd $PROFTPD_EXPLICIT_PORT: MLSD listing" fc --ssl-reqd -X MLSD "$u/"
    ok "proftpd $PROFTPD_EXPLICIT_PORT: certificate valid for localhost" \
        fc --ssl-reqd -l "ftp://localhost:$PROFTPD_EXPLICIT_PORT/"
    refused "proftpd $PROFTPD_EXPLICIT_PORT: login without TLS refused" fc -l "$u/"
    refused "proftpd $PROFTPD_EXPLICIT_PORT: wrong password refused" \
        curl -sS --ssl-reqd --cacert "$TLS_CA_FILE" -u "$FTP_USER:wrong" -l "$u/"
    refused "proftpd $PROFTPD_EXPLICIT_PORT: certificate refused without the test CA" \
        curl -sS --ssl-reqd -u "$FTP_USER:$pw" -l "$u/"
    ok "proftpd $PROFTPD_EXPLICIT_PORT: lftp (verifying the CA)" \
        lftp -c "set ssl:ca-file $TLS_CA_FILE; set ftp:ssl-force true; set ftp:ssl-protect-data true;
                 open -u $FTP_USER,$pw -p $PROFTPD_EXPLICIT_PORT 127.0.0.1; cls -l /"
    ok "proftpd $PROFTPD_IMPLICIT_PORT implicit TLS: upload, RNFR/RNTO, download" \
        ftp_roundtrip implicit "ftps://127.0.0.1:$PROFTPD_IMPLICIT_PORT"
    ok "proftpd $PROFTPD_PLAIN_PORT without TLS: upload, RNFR/RNTO, download" \
        ftp_roundtrip plain "ftp://127.0.0.1:$PROFTPD_PLAIN_PORT"

    u=ftp://127.0.0.1:$VSFTPD_PORT
    ok "vsftpd $VSFTPD_PORT: upload, RNFR/RNTO, download" ftp_roundtrip vsftpd "$u" --ssl-reqd
    reply=$(last_reply --ssl-reqd -X MLSD "$u/")
    if [[ $reply == 500* ]]; then pass "vsftpd $VSFTPD_PORT: MLSD refused: $reply"; else
        fail "vsftpd $VSFTPD_PORT: MLSD not refused with 500 (got: ${reply:-no error})"; fi
    refused "vsftpd $VSFTPD_PORT: login without TLS refused" fc -l "$u/"

    u=ftp://127.0.0.1:$PROFTPD_QUOTA_PORT
    ok "proftpd $PROFTPD_QUOTA_PORT quota: 100 KiB STOR works" fc --ssl-reqd -T "$w/100k.bin" "$u/small.bin"
    # see start_proftpd: the client sees either the 552 or a cut data connection
    fc -v --ssl-reqd -T "$w/1m5.bin" "$u/big.bin" >"$w/quota.log" 2>&1 && rc=0 || rc=$?
    cat "$w/quota.log" >>"$w/log"
    reply=$(tr -d '\r' <"$w/quota.log" | awk '/^< 552/ && !r { sub(/^< /, ""); r = $0 } END { print r }')
    if [[ $rc == 70 && -n $reply ]]; then
        pass "proftpd $PROFTPD_QUOTA_PORT quota: 1.5 MiB STOR refused: $reply (curl 70)"
    elif [[ $rc == 55 ]]; then
        pass "proftpd $PROFTPD_QUOTA_PORT quota: 1.5 MiB STOR refused: data connection cut before the 552 (curl 55)"
    else
        fail "proftpd $PROFTPD_QUOTA_PORT quota: 1.5 MiB STOR: curl $rc, reply ${reply:-none}"
    fi
    # the server may remove it just after the client gave up
    gone() {
        local i
        for ((i = 0; i < 20; i++)); do [[ -e $1 ]] || return 0; sleep 0.1; done
        return 1
    }
    ok "proftpd $PROFTPD_QUOTA_PORT quota: the refused file is removed" gone "$PROFTPD_QUOTA_ROOT/big.bin"
    ok "proftpd $PROFTPD_QUOTA_PORT quota: DELE gives the space back" \
        fc --ssl-reqd "$u/" -Q "DELE /small.bin" -l
    head -c $((QUOTA_BYTES - 1024)) /dev/urandom >"$w/almost.bin"
    ok "proftpd $PROFTPD_QUOTA_PORT quota: then a 1 MiB - 1 KiB STOR works" \
        fc --ssl-reqd -T "$w/almost.bin" "$u/almost.bin" -Q "-DELE /almost.bin"

    # --- SFTP
    printf 'put %s check.part\nrename check.part check.bin\nget check.bin %s\nrm check.bin\n' \
        "$w/100k.bin" "$w/sftp.down" >"$w/sftp.batch"
    printf 'put %s big.bin\n' "$w/2m.bin" >"$w/sftp-big.batch"
    # sftp_as PORT KNOWN_HOSTS [ssh options]: put, rename, get, compare, rm in batch mode, strict host key
    # checking; $sftp_wrap (sshpass, env) is put in front of sftp
    local -a sftp_wrap=()
    sftp_as() {
        local port=$1 kh=$2
        shift 2
        rm -f "$w/sftp.down"
        # -b must come after the options: it adds BatchMode=yes, and ssh keeps the first value it is given
        "${sftp_wrap[@]}" sftp -q -P "$port" -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$kh" \
            -o IdentitiesOnly=yes -o ConnectTimeout=10 "$@" -b "$w/sftp.batch" "$SSH_USER@127.0.0.1" &&
            cmp "$w/100k.bin" "$w/sftp.down"
    }
    local k var alg
    for k in ED25519 RSA ECDSA; do
        var=SSH_KEY_$k
        ok "sshd $SSHD_PORT: sftp with the $k key" sftp_as "$SSHD_PORT" "$SSH_KNOWN_HOSTS" -i "${!var}"
    done
    printf '#!/bin/sh\nexec cat %s\n' "$SSH_KEY_PASSPHRASE_FILE" >"$w/askpass"
    chmod 700 "$w/askpass"
    sftp_wrap=(env SSH_ASKPASS="$w/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=none)
    ok "sshd $SSHD_PORT: sftp with the passphrase-protected key" \
        sftp_as "$SSHD_PORT" "$SSH_KNOWN_HOSTS" -o BatchMode=no -i "$SSH_KEY_ENCRYPTED"
    # sftp -b implies BatchMode=yes, which turns password authentication off
    sftp_wrap=(sshpass -f "$SSH_PASSWORD_FILE")
    ok "sshd $SSHD_PORT: sftp with the password (sshpass)" \
        sftp_as "$SSHD_PORT" "$SSH_KNOWN_HOSTS" -o BatchMode=no -o PubkeyAuthentication=no
    sftp_wrap=(sshpass -p wrong-password)
    refused "sshd $SSHD_PORT: wrong password refused" \
        sftp_as "$SSHD_PORT" "$SSH_KNOWN_HOSTS" -o BatchMode=no -o PubkeyAuthentication=no
    sftp_wrap=()
    refused "sshd $SSHD_PORT: unauthorized key refused" \
        sftp_as "$SSHD_PORT" "$SSH_KNOWN_HOSTS" -i "$SSH_KEY_UNAUTHORIZED"
    for alg in ssh-ed25519 rsa-sha2-512 ecdsa-sha2-nistp256; do
        ok "sshd $SSHD_PORT: known_hosts accepts the $alg host key" \
            sftp_as "$SSHD_PORT" "$SSH_KNOWN_HOSTS" -i "$SSH_KEY_ED25519" -o HostKeyAlgorithms=$alg
        ok "sshd $SSHD_QUOTA_PORT: known_hosts accepts the $alg host key" \
            sftp_as "$SSHD_QUOTA_PORT" "$SSH_KNOWN_HOSTS" -i "$SSH_KEY_ED25519" -o HostKeyAlgorithms=$alg
        refused "sshd $SSHD_PORT: changed $alg host key refused" \
            sftp_as "$SSHD_PORT" "$SSH_KNOWN_HOSTS_CHANGED" -i "$SSH_KEY_ED25519" -o HostKeyAlgorithms=$alg
    done
    refused "sshd $SSHD_PORT: unknown host refused (empty known_hosts)" \
        sftp_as "$SSHD_PORT" "$SSH_KNOWN_HOSTS_EMPTY" -i "$SSH_KEY_ED25519"
    ok "sshd $SSHD_PORT: presents the key in SSH_HOST_KEY_ED25519_PUB" \
        grep -qF "$(cut -d' ' -f2 "$SSH_HOST_KEY_ED25519_PUB")" <(ssh-keyscan -t ed25519 -p "$SSHD_PORT" 127.0.0.1 2>/dev/null)

    # sftp_big PORT: put a 2 MiB file
    sftp_big() {
        sftp -b "$w/sftp-big.batch" -P "$1" -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$SSH_KNOWN_HOSTS" \
            -o IdentitiesOnly=yes -i "$SSH_KEY_ED25519" "$SSH_USER@127.0.0.1"
    }
    ok "sshd $SSHD_QUOTA_PORT quota: 100 KiB put works" sftp_as "$SSHD_QUOTA_PORT" "$SSH_KNOWN_HOSTS" -i "$SSH_KEY_ED25519"
    if sftp_big "$SSHD_QUOTA_PORT" >"$w/sftp-big.log" 2>&1; then
        fail "sshd $SSHD_QUOTA_PORT quota: 2 MiB put succeeded"
    else
        pass "sshd $SSHD_QUOTA_PORT quota: 2 MiB put refused: $(grep -m1 -iE 'couldn|fail' "$w/sftp-big.log" | tr -d '\r')"
    fi
    rm -f "$SSH_HOME/big.bin"
    ok "sshd $SSHD_PORT (no quota): 2 MiB put works" sftp_big "$SSHD_PORT"
    rm -f "$SSH_HOME/big.bin"

    # --- S3 and GCS: boto3 and a Python GCS client (JWT, token, media and resumable uploads, faults)
    "$TEST_PYTHON" "$(dirname "$proxy_script")/check_stores.py" "$dir/servers.env" "$w" || failed=1
    # curl as an independent SigV4 client, through the proxy: a 2 MiB PUT makes curl send
    # Expect: 100-continue; curl 7.88 sends no x-amz-content-sha256 and does not sort the query itself
    local s3_secret sigv4
    s3_secret=$(cat "$S3_SECRET_ACCESS_KEY_FILE")
    sigv4=(--aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY_ID:$s3_secret"
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
    s3_curl_roundtrip() {
        local u=$S3_PROXY_ENDPOINT/$S3_BUCKET/check-curl.bin
        curl -sSf --max-time 30 "${sigv4[@]}" -T "$w/2m.bin" "$u" &&
            curl -sSf --max-time 30 "${sigv4[@]}" -o "$w/s3.down" "$u" && cmp "$w/2m.bin" "$w/s3.down" &&
            curl -sS --max-time 30 "$S3_PROXY_ENDPOINT/__lifeboat/log" | grep -q '"Expect": "100-continue"' &&
            curl -sSf --max-time 30 "${sigv4[@]}" -X DELETE "$u"
    }
    ok "S3 proxy $S3_PROXY_ENDPOINT: curl --aws-sigv4 PUT with Expect: 100-continue, GET, DELETE" s3_curl_roundtrip
    refused "S3 $S3_ENDPOINT: curl with a wrong secret refused" curl -sSf --max-time 30 --aws-sigv4 "aws:amz:$S3_REGION:s3" \
        --user "$S3_ACCESS_KEY_ID:wrong-$s3_secret" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$S3_ENDPOINT/$S3_BUCKET"
    # rclone: AWS_CA_BUNDLE (set in some environments) breaks Debian's rclone 1.60 S3 backend
    if command -v rclone >/dev/null; then
        ok "S3 $S3_ENDPOINT: rclone lists the bucket" env -u AWS_CA_BUNDLE RCLONE_CONFIG_LBCHECK_TYPE=s3 \
            RCLONE_CONFIG_LBCHECK_PROVIDER=SeaweedFS RCLONE_CONFIG_LBCHECK_ACCESS_KEY_ID="$S3_ACCESS_KEY_ID" \
            RCLONE_CONFIG_LBCHECK_SECRET_ACCESS_KEY="$s3_secret" RCLONE_CONFIG_LBCHECK_ENDPOINT="$S3_ENDPOINT" \
            RCLONE_CONFIG_LBCHECK_REGION="$S3_REGION" rclone --config /dev/null --low-level-retries 1 --retries 1 \
            lsf "lbcheck:$S3_BUCKET"
    fi

    # --- SMTP: curl and python smtplib as independent clients; the test CA is verified throughout
    local smtp_pw
    smtp_pw=$(cat "$SMTP_PASSWORD_FILE")
    printf 'From: check@example.com\r\nTo: ops@example.com\r\nSubject: check\r\nMessage-ID: <check-%s@lifeboat.test>\r\n\r\n.leading dot\r\nbody\r\n' \
        "$RANDOM$RANDOM" >"$w/mail.eml"
    sc() { curl -sS --max-time 10 --cacert "$SMTP_CA_FILE" --mail-from check@example.com -T "$w/mail.eml" "$@"; }
    # smtp_roundtrip URL [curl options]: send as the test user; the mailbox holds the exact bytes afterwards
    smtp_roundtrip() {
        local url=$1 stored
        shift
        sc -u "$SMTP_USERNAME:$smtp_pw" --mail-rcpt ops@example.com "$@" "$url" &&
            stored=$(grep -lF "$(sed -n 4p "$w/mail.eml" | tr -d '\r')" "$SMTP_MAILBOX"/*.eml | head -1) &&
            cmp "$w/mail.eml" "$stored" &&
            grep -q '"auth_user": "'"$SMTP_USERNAME"'"' "${stored%.eml}.json" &&
            rm -f "$stored" "${stored%.eml}.json"
    }
    ok "SMTP $SMTP_STARTTLS_PORT STARTTLS: curl AUTH PLAIN, message stored byte for byte" \
        smtp_roundtrip "smtp://127.0.0.1:$SMTP_STARTTLS_PORT" --ssl-reqd
    ok "SMTP $SMTP_STARTTLS_PORT STARTTLS: curl AUTH LOGIN" \
        smtp_roundtrip "smtp://127.0.0.1:$SMTP_STARTTLS_PORT" --ssl-reqd --login-options AUTH=LOGIN
    ok "SMTP $SMTP_STARTTLS_PORT: certificate valid for localhost" \
        smtp_roundtrip "smtp://localhost:$SMTP_STARTTLS_PORT" --ssl-reqd
    ok "SMTP $SMTP_TLS_PORT implicit TLS: curl AUTH PLAIN" smtp_roundtrip "smtps://127.0.0.1:$SMTP_TLS_PORT"
    ok "SMTP $SMTP_PLAIN_PORT plain: curl AUTH PLAIN in clear text" smtp_roundtrip "smtp://127.0.0.1:$SMTP_PLAIN_PORT"
    refused "SMTP $SMTP_STARTTLS_PORT: wrong password refused" \
        sc --ssl-reqd -u "$SMTP_USERNAME:wrong" --mail-rcpt ops@example.com "smtp://127.0.0.1:$SMTP_STARTTLS_PORT"
    refused "SMTP $SMTP_STARTTLS_PORT: mail without STARTTLS refused" \
        sc -u "$SMTP_USERNAME:$smtp_pw" --mail-rcpt ops@example.com "smtp://127.0.0.1:$SMTP_STARTTLS_PORT"
    refused "SMTP $SMTP_TLS_PORT: mail without login refused" \
        sc --mail-rcpt ops@example.com "smtps://127.0.0.1:$SMTP_TLS_PORT"
    refused "SMTP $SMTP_STARTTLS_PORT: certificate refused without the test CA" \
        curl -sS --max-time 10 --ssl-reqd -u "$SMTP_USERNAME:$smtp_pw" --mail-from check@example.com \
        --mail-rcpt ops@example.com -T "$w/mail.eml" "smtp://127.0.0.1:$SMTP_STARTTLS_PORT"
    refused "SMTP $SMTP_PLAIN_PORT: STARTTLS not offered (curl --ssl-reqd gives up)" \
        sc --ssl-reqd -u "$SMTP_USERNAME:$smtp_pw" --mail-rcpt ops@example.com "smtp://127.0.0.1:$SMTP_PLAIN_PORT"
    # smtp_reply RCPT: the last 4xx/5xx reply code of a send to RCPT
    smtp_reply() {
        { sc -v --ssl-reqd -u "$SMTP_USERNAME:$smtp_pw" --mail-rcpt "$1" "smtp://127.0.0.1:$SMTP_STARTTLS_PORT" 2>&1 ||
            true; } | tr -d '\r' | tee -a "$w/log" | awk '/^< [45][0-9][0-9] / { r = $2 } END { print r }'
    }
    local rcpt code expected
    for rcpt in "$SMTP_REFUSED_RECIPIENT=550" "$SMTP_UNKNOWN_RECIPIENT=553" "$SMTP_DEFERRED_RECIPIENT=451" \
        "$SMTP_FULL_RECIPIENT=452" "$SMTP_SPAM_RECIPIENT=554"; do
        expected=${rcpt##*=}
        code=$(smtp_reply "${rcpt%=*}")
        if [[ $code == "$expected" ]]; then pass "SMTP: ${rcpt%=*} answered $code"; else
            fail "SMTP: ${rcpt%=*} answered ${code:-nothing}, expected $expected"; fi
    done
    ok "SMTP: python smtplib STARTTLS + login and SMTP_SSL + login, each message stored" \
        "$TEST_PYTHON" - "$SMTP_CA_FILE" "$SMTP_STARTTLS_PORT" "$SMTP_TLS_PORT" "$SMTP_USERNAME" "$smtp_pw" \
        "$SMTP_MAILBOX" <<'PY'
import email.message, glob, smtplib, ssl, sys, uuid
ca, starttls, tls, user, password, mailbox = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:]
context = ssl.create_default_context(cafile=ca)
for name in ("starttls", "tls"):
    m = email.message.EmailMessage()
    m["From"], m["To"], m["Subject"] = "check@example.com", "ops@example.com", "Grüße über smtplib"
    m["Message-ID"] = f"<{uuid.uuid4()}@lifeboat.test>"
    m.set_content("Ünïcödé body\n")
    if name == "starttls":
        s = smtplib.SMTP("127.0.0.1", starttls, timeout=10)
        s.starttls(context=context)
    else:
        s = smtplib.SMTP_SSL("127.0.0.1", tls, timeout=10, context=context)
    with s:
        s.login(user, password)
        s.send_message(m)
    found = [f for f in glob.glob(mailbox + "/*.eml") if m["Message-ID"].encode() in open(f, "rb").read()]
    assert len(found) == 1, (name, found)
PY

    # --- MariaDB: the mariadb client and mariadb-dump, logins from the option files
    ok "MariaDB socket: the test user logs in (MARIADB_DEFAULTS_FILE)" \
        mariadb --defaults-file="$MARIADB_DEFAULTS_FILE" -e 'SELECT CURRENT_USER()'
    ok "MariaDB 127.0.0.1:$MARIADB_PORT: the test user logs in over TCP (MARIADB_TCP_DEFAULTS_FILE)" \
        mariadb --defaults-file="$MARIADB_TCP_DEFAULTS_FILE" -e 'SELECT CURRENT_USER()'
    ok "MariaDB socket: root logs in with its password (MARIADB_ROOT_DEFAULTS_FILE)" \
        mariadb --defaults-file="$MARIADB_ROOT_DEFAULTS_FILE" -e 'SELECT CURRENT_USER()'
    printf '[client]\nuser=%s\npassword=wrong\nsocket=%s\n' "$MARIADB_USER" "$MARIADB_SOCKET" >"$w/wrong.cnf"
    refused "MariaDB: wrong password refused" mariadb --defaults-file="$w/wrong.cnf" -e 'SELECT 1'
    # mariadb_roundtrip: a table with a trigger, a procedure and an event, dumped the way Lifeboat dumps it
    # (one database, no --databases), loaded into a scratch database, compared with CHECKSUM TABLE. The
    # objects are made with unqualified names: a dump keeps a trigger's or routine's text as written, so a
    # `db.name` in it would point the copy back at the original database.
    mariadb_roundtrip() {
        local q=(mariadb --defaults-file="$MARIADB_DEFAULTS_FILE" --batch --skip-column-names) a b
        "${q[@]}" -e "DROP DATABASE IF EXISTS lifeboat_check; DROP DATABASE IF EXISTS lifeboat_check_copy;
            CREATE DATABASE lifeboat_check; CREATE DATABASE lifeboat_check_copy; USE lifeboat_check;
            CREATE TABLE t (id INT PRIMARY KEY, v VARBINARY(16)) ENGINE=InnoDB;
            INSERT INTO t SELECT seq, UNHEX(MD5(seq)) FROM seq_1_to_1000;
            CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.v = NEW.v;
            CREATE PROCEDURE p() SELECT 1;
            CREATE EVENT e ON SCHEDULE EVERY 1 DAY DISABLE DO SELECT 1;" &&
            mariadb-dump --defaults-file="$MARIADB_DEFAULTS_FILE" --single-transaction --routines --triggers \
                --events --hex-blob lifeboat_check >"$w/check.sql" &&
            "${q[@]}" lifeboat_check_copy <"$w/check.sql" &&
            a=$("${q[@]}" -e 'CHECKSUM TABLE lifeboat_check.t' | cut -f2) &&
            b=$("${q[@]}" -e 'CHECKSUM TABLE lifeboat_check_copy.t' | cut -f2) &&
            [[ -n $a && $a == "$b" ]] &&
            [[ $("${q[@]}" -e "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA='lifeboat_check_copy'
                UNION ALL SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA='lifeboat_check_copy'
                UNION ALL SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA='lifeboat_check_copy'" |
                tr '\n' ' ') == "1 1 1 " ]] &&
            "${q[@]}" -e 'DROP DATABASE lifeboat_check; DROP DATABASE lifeboat_check_copy'
    }
    ok "MariaDB: mariadb-dump --single-transaction --routines --triggers --events --hex-blob, loaded into a scratch database" \
        mariadb_roundtrip

    # --- nothing on 0.0.0.0
    local port listening weed_ports
    # every port weed mini listens on, besides the S3 port
    weed_ports=$(ss -Hltnp | awk -v pid="pid=$(cat "$SEAWEED_PID_FILE")," -v s3="${S3_ENDPOINT##*:}" \
        '$0 ~ pid { n = split($4, a, ":"); if (a[n] != s3) print a[n] }' | sort -un)
    # shellcheck disable=SC2086 # one word per port
    for port in "$PROFTPD_EXPLICIT_PORT" "$PROFTPD_IMPLICIT_PORT" "$PROFTPD_PLAIN_PORT" "$PROFTPD_QUOTA_PORT" \
        "$VSFTPD_PORT" "$SSHD_PORT" "$SSHD_QUOTA_PORT" "${S3_ENDPOINT##*:}" "${S3_PROXY_ENDPOINT##*:}" \
        "${GCS_EMULATOR_ENDPOINT##*:}" "${GCS_ENDPOINT##*:}" "$SMTP_STARTTLS_PORT" "$SMTP_TLS_PORT" \
        "$SMTP_PLAIN_PORT" "$MARIADB_PORT" $weed_ports; do
        listening=$(ss -Hltn "sport = :$port" | awk '{print $4}' | sort -u | tr '\n' ' ')
        if [[ $listening == "127.0.0.1:$port " ]]; then pass "port $port: listens on 127.0.0.1 only"; else
            fail "port $port: listens on ${listening:-nothing}"; fi
    done

    rm -f "$w"/*.bin "$w"/*.down
    ((failed == 0)) || { echo "check: some checks FAILED; client output in $w/log"; return 1; }
    echo "check: all passed"
}

# ---------------------------------------------------------------------------------------------------------

usage() { echo "usage: $0 start|stop|check [DIR]" >&2; exit 64; }
(($# >= 1 && $# <= 2)) || usage
dir=${2:-${LIFEBOAT_TEST_SERVERS:-/tmp/lifeboat-servers}}
[[ $dir == /* ]] || dir=$PWD/$dir
dir=$(realpath -m "$dir")
[[ $dir != / && $dir =~ ^[A-Za-z0-9/._+-]+$ ]] || die "DIR must be a plain path without spaces: $dir"
env_lines=()
case $1 in
start) cmd_start ;;
stop) cmd_stop ;;
check) cmd_check ;;
*) usage ;;
esac
