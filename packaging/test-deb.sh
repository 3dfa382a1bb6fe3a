#!/usr/bin/env bash
# Installs the .deb from packaging/build-deb.sh on this machine with dpkg, checks what it installed, then
# reinstalls it (the upgrade path), removes it, purges it and checks that nothing is left.
# It installs for real (dpkg --root is no sane throwaway root for maintainer scripts): run it as root on
# a machine that may be changed, such as CI's. It refuses to run while a lifeboat package is installed.
#
# Usage: packaging/test-deb.sh [DEB]   (default: the newest dist/lifeboat_*.deb in the repo)
# Exit status: 0 when every check passed; 1 otherwise, with what failed.
#
# `lifeboat config check` must pass on the example configuration. It also checks that each source path
# exists; on a machine without a PBX the example's /var/lib/asterisk, /etc/asterisk and
# /var/spool/asterisk do not, so the check is then repeated in a private mount namespace where overlays
# on / add those paths (nothing outside that namespace changes), and must pass there.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deb=${1:-$(find "$root/dist" -maxdepth 1 -name 'lifeboat_*.deb' -printf '%T@ %p\n' 2>/dev/null | sort -rn | head -1 | cut -d' ' -f2-)}
passed=0
failed=0
pass() {
    echo "  ok    $*"
    passed=$((passed + 1))
}
fail() {
    echo "  FAIL  $*"
    failed=$((failed + 1))
}
same() { # same ACTUAL EXPECTED DESCRIPTION
    if [[ $1 == "$2" ]]; then pass "$3"; else fail "$3: got '$1', expected '$2'"; fi
}
check() { # check DESCRIPTION COMMAND...: passes when COMMAND exits 0
    local what=$1
    shift
    if "$@" >/dev/null 2>&1; then pass "$what"; else fail "$what"; fi
}
die() {
    echo "test-deb: $*" >&2
    exit 1
}
mode_owner() { stat -c '%a %U:%G' "$1" 2>/dev/null; }
known() { dpkg-query -W -f='${db:Status-Abbrev}' lifeboat 2>/dev/null | grep -qv '^un'; }

[[ -n $deb && -f $deb ]] || die "no .deb given and none in $root/dist (run packaging/build-deb.sh)"
deb=$(realpath "$deb")
[[ $(id -u) -eq 0 ]] || die "must run as root (it installs the package with dpkg)"
known && die "a lifeboat package is installed or half-installed here; this test would replace it (dpkg --purge lifeboat first)"
[[ ! -e /usr/bin/lifeboat ]] || die "/usr/bin/lifeboat exists and no package owns it; move it away first"
cleanup() { if known; then dpkg --purge lifeboat >/dev/null 2>&1 || true; fi; }
trap cleanup EXIT
started=$SECONDS

echo "test-deb: $deb"
field() { dpkg-deb -f "$deb" "$1"; }
version=$(field Version)
same "$(field Package)" lifeboat "Package"
same "$(field Architecture)" "$(dpkg --print-architecture)" "Architecture (this machine's)"
echo "        Version: $version; Depends: $(field Depends)"

# ---- install ----------------------------------------------------------------------------------------
if ! out=$(dpkg -i "$deb" 2>&1); then
    echo "$out"
    die "dpkg -i failed (missing dependencies? apt-get install -y \$(dpkg-deb -f $deb Depends | tr -d ,) or apt-get -f install)"
fi
same "$(dpkg-query -W -f='${db:Status-Abbrev}' lifeboat)" "ii " "dpkg -i: package status"

same "$(mode_owner /usr/bin/lifeboat)" "755 root:root" "/usr/bin/lifeboat mode and owner"
same "$(/usr/bin/lifeboat --version 2>&1 || true)" "$version" "lifeboat --version"
# lifeboat.service is packaged only when the binary has the daemon command
units=(lifeboat-backup.service lifeboat-backup.timer)
if /usr/bin/lifeboat --help | sed -n "/SUBCOMMANDS/,\$p" | grep -cE "^  daemon " >/dev/null; then units=(lifeboat.service "${units[@]}"); fi
for unit in "${units[@]}"; do
    same "$(mode_owner "/lib/systemd/system/$unit")" "644 root:root" "/lib/systemd/system/$unit"
done
same "$(mode_owner /etc/lifeboat/lifeboat.yaml)" "600 root:root" "/etc/lifeboat/lifeboat.yaml mode and owner"
check "/etc/lifeboat/lifeboat.yaml is a conffile" \
    grep -q '^ /etc/lifeboat/lifeboat.yaml ' <(dpkg-query -W -f='${Conffiles}\n' lifeboat)
same "$(mode_owner /var/lib/lifeboat)" "700 root:root" "/var/lib/lifeboat mode and owner"
check "dpkg --verify lifeboat (md5sums)" dpkg --verify lifeboat
for doc in README.md copyright changelog.gz; do
    check "/usr/share/doc/lifeboat/$doc" test -s "/usr/share/doc/lifeboat/$doc"
done

# man page
man1=/usr/share/man/man1/lifeboat.1.gz
check "$man1" test -s "$man1"
check "man page header: .Dt LIFEBOAT 1" grep -q '^\.Dt LIFEBOAT 1' <(zcat "$man1")
if command -v man >/dev/null; then
    same "$(man -w lifeboat 2>&1)" "$man1" "man -w lifeboat"
    rendered=$(MANWIDTH=100 man -P cat lifeboat 2>/dev/null || true)
    for word in backup restore verify snapshots prune config schedule; do
        grep -q "^ *$word" <<<"$rendered" || { fail "man lifeboat renders no '$word' subcommand"; continue 2; }
    done
    pass "man lifeboat renders every subcommand"
else
    echo "        (man is not installed: rendering not checked)"
fi

# completions
bash_completion=/usr/share/bash-completion/completions/lifeboat
check "$bash_completion" test -s "$bash_completion"
check "bash completion registers for lifeboat" bash -c "source $bash_completion && complete -p lifeboat"
check "/usr/share/zsh/vendor-completions/_lifeboat (#compdef lifeboat)" \
    grep -qx '#compdef lifeboat' /usr/share/zsh/vendor-completions/_lifeboat
fish_completion=/usr/share/fish/vendor_completions.d/lifeboat.fish
check "$fish_completion" grep -qE "^complete -c '?lifeboat'? " "$fish_completion"
if command -v fish >/dev/null; then check "fish -n $fish_completion" fish -n "$fish_completion"; fi

# units: valid, not enabled, sandbox no weaker than now
check "units not enabled by the package" test -z "$(find /etc/systemd/system -name 'lifeboat*' 2>/dev/null)"
if command -v systemd-analyze >/dev/null; then
    if out=$(systemd-analyze verify "${units[@]/#//lib/systemd/system/}" 2>&1); then
        pass "systemd-analyze verify (${units[*]})"
    else
        fail "systemd-analyze verify: $out"
    fi
    # Exposure 0-10 (0 best); the unit scores 2.3 now; --threshold is in tenths.
    if [[ ! -f /lib/systemd/system/lifeboat.service ]]; then
        echo "        (no daemon command yet: lifeboat.service is not packaged)"
    elif out=$(systemd-analyze security --offline=true --threshold=30 /lib/systemd/system/lifeboat.service 2>&1); then
        pass "systemd-analyze security lifeboat.service: $(grep -o 'exposure level.*' <<<"$out")"
    else
        fail "systemd-analyze security lifeboat.service: $(grep -o 'exposure level.*' <<<"$out" || echo "$out")"
    fi
else
    echo "        (systemd-analyze is not installed: units not verified)"
fi

# ---- config check on the example --------------------------------------------------------------------
config=/etc/lifeboat/lifeboat.yaml
set +e
out=$(/usr/bin/lifeboat config check --config "$config" 2>&1)
status=$?
json=$(/usr/bin/lifeboat config check --json --config "$config" 2>/dev/null)
set -e
if ((status == 0)); then
    pass "lifeboat config check --config $config"
else
    # The sources the check found missing; anything else it reported is a real failure.
    warnings=$(sed -n '/^  "warnings" : \[/,/^  \]/p' <<<"$json" | grep '^    "' || true)
    missing_paths=$(grep -oP "^    \"source '[^']+': \K/.+(?= does not exist\",?$)" <<<"$warnings" || true)
    if ((status != 1)) || [[ -z $missing_paths ]] || (($(wc -l <<<"$missing_paths") != $(wc -l <<<"$warnings"))); then
        fail "lifeboat config check --config $config: exit $status"
        while IFS= read -r line; do echo "        $line"; done <<<"$out"
    else
        echo "        config check on this machine: exit 1, only because these source paths do not exist here:"
        while IFS= read -r line; do echo "          $line"; done <<<"$missing_paths"
        # Overlays on the top folders of those paths, in a private mount namespace, on a tmpfs that goes
        # with it. A path with an extension becomes an empty file, the others folders: config check only
        # tests that they exist.
        tops=$(cut -d/ -f2 <<<"$missing_paths" | sort -u | tr '\n' ' ')
        # shellcheck disable=SC2016
        if out=$(unshare --mount --propagation private bash -euc '
            tops=$1 paths=$2 config=$3
            scratch=$(mktemp -d)
            mount -t tmpfs lifeboat-test "$scratch"
            for top in $tops; do
                mkdir -p "$scratch/$top/upper" "$scratch/$top/work"
                mount -t overlay overlay -o "lowerdir=/$top,upperdir=$scratch/$top/upper,workdir=$scratch/$top/work" "/$top"
            done
            while IFS= read -r path; do
                if [[ $(basename "$path") == *.* ]]; then mkdir -p "$(dirname "$path")" && : >"$path"
                else mkdir -p "$path"; fi
            done <<<"$paths"
            /usr/bin/lifeboat config check --config "$config"
        ' - "$tops" "$missing_paths" "$config" 2>&1); then
            pass "lifeboat config check --config $config, with those paths present (private overlay on /${tops% })"
        else
            fail "lifeboat config check with the source paths present: $out"
        fi
    fi
fi

# ---- reinstall (the upgrade path), remove, purge ----------------------------------------------------
echo "# edited by test-deb.sh" >>"$config"
if out=$(dpkg -i --force-confold "$deb" 2>&1); then pass "dpkg -i again (upgrade path)"; else fail "dpkg -i again: $out"; fi
check "the edited conffile is kept on upgrade" grep -qx '# edited by test-deb.sh' "$config"
files=$(dpkg -L lifeboat)
if out=$(dpkg -r lifeboat 2>&1); then pass "dpkg -r lifeboat"; else fail "dpkg -r: $out"; fi
check "remove: /usr/bin/lifeboat is gone" test ! -e /usr/bin/lifeboat
check "remove: the conffile stays" test -f "$config"
check "remove: /var/lib/lifeboat stays" test -d /var/lib/lifeboat
if out=$(dpkg --purge lifeboat 2>&1); then pass "dpkg --purge lifeboat"; else fail "dpkg --purge: $out"; fi
if known; then fail "dpkg still knows lifeboat: $(dpkg-query -W -f='${db:Status-Abbrev}' lifeboat)"; else pass "dpkg: lifeboat gone"; fi
left=()
while IFS= read -r path; do
    # Folders other packages share (/usr/bin, /lib/systemd/system, …) stay; the package's own go.
    [[ -d $path && ! $path =~ lifeboat ]] && continue
    [[ -e $path || -L $path ]] && left+=("$path")
done <<<"$files"
for path in /var/lib/lifeboat /etc/lifeboat; do [[ -e $path ]] && left+=("$path"); done
while IFS= read -r path; do left+=("$path"); done < <(find /etc/systemd/system /var/lib/systemd/deb-systemd-helper-enabled \
    /var/lib/systemd/deb-systemd-helper-masked /var/lib/dpkg/info -name '*lifeboat*' 2>/dev/null)
if ((${#left[@]} == 0)); then pass "purge: nothing of lifeboat is left"; else fail "purge left: ${left[*]}"; fi

echo "test-deb: $passed passed, $failed failed ($((SECONDS - started)) s)"
((failed == 0))
