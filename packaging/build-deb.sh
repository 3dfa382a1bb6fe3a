#!/usr/bin/env bash
# Builds the Debian package lifeboat_VERSION_ARCH.deb.
#
# Usage: packaging/build-deb.sh [OUTDIR]   (default: dist/ in the repo). Prints the .deb's path.
# Needs no root for the package itself (dpkg-deb --root-owner-group makes every file root's); root or sudo
# only to apt-get install dpkg-dev and binutils when they are missing.
#
#   /usr/bin/lifeboat                            release build, Swift runtime linked statically, stripped
#   /lib/systemd/system/lifeboat.service         the daemon (not enabled; only once `lifeboat daemon` exists)
#   /lib/systemd/system/lifeboat-backup.{service,timer}   the cron-like alternative
#   /etc/lifeboat/lifeboat.yaml                  the example configuration (conffile, mode 600)
#   /usr/share/man/man1/lifeboat.1.gz            from swift-argument-parser's generate-manual
#   bash, zsh and fish completions               from `lifeboat --generate-completion-script`
#   /usr/share/doc/lifeboat/{README.md,copyright,changelog.gz}, /usr/share/lintian/overrides/lifeboat
#
# Depends is computed by dpkg-shlibdeps from the binary's NEEDED libraries; the build fails if the
# binary needs a library no Debian package provides (the Swift runtime must be linked in).
#
# Environment:
#   LIFEBOAT_DEB_SCRATCH     swift build scratch path (default .build-deb in the repo; its own, because
#                            --static-swift-stdlib builds do not share objects with ordinary ones)
#   LIFEBOAT_DEB_MANUAL      tool (default): run generate-manual on the built binary, as the plugin does;
#                            plugin: `swift package plugin generate-manual`, which builds the whole package
#                            again without the static runtime (a second full release build)
#   LIFEBOAT_DEB_MAINTAINER  "Name <email>" (default: the author of the checked-out commit)
#   SOURCE_DATE_EPOCH        timestamps in the package (default: the checked-out commit's time)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
outdir=${1:-$root/dist}
scratch=${LIFEBOAT_DEB_SCRATCH:-$root/.build-deb}
manual_mode=${LIFEBOAT_DEB_MANUAL:-tool}
log() { echo "build-deb: $*" >&2; }
die() {
    log "error: $*"
    exit 1
}
started=$SECONDS

# ---- tools ------------------------------------------------------------------------------------------
# dpkg-dev: dpkg-shlibdeps; binutils: strip, objdump. Installed when missing, as packaging/setup.sh does.
missing=()
for p in dpkg-dev binutils; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    SUDO=""
    [[ $(id -u) -eq 0 ]] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for tool in swift dpkg-deb dpkg-shlibdeps strip objdump gzip; do
    command -v "$tool" >/dev/null || die "$tool is not on PATH"
done

mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/lifeboat-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
pkg=$work/root

in_git() { git -C "$root" rev-parse --git-dir >/dev/null 2>&1; }
if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
    if in_git; then SOURCE_DATE_EPOCH=$(git -C "$root" log -1 --format=%ct); else SOURCE_DATE_EPOCH=$(date +%s); fi
fi
export SOURCE_DATE_EPOCH
if in_git; then
    commit=$(git -C "$root" rev-parse --short=12 HEAD)
    dirty=$(git -C "$root" status --porcelain --untracked-files=no | head -1)
    origin="commit $commit${dirty:+ with uncommitted changes}"
else
    origin="a source tree outside git"
fi
maintainer=${LIFEBOAT_DEB_MAINTAINER:-}
if [[ -z $maintainer ]] && in_git; then maintainer=$(git -C "$root" log -1 --format='%an <%ae>'); fi
maintainer=${maintainer:-Lifeboat maintainers <maintainers@lifeboat.invalid>}

# ---- release binary ---------------------------------------------------------------------------------
# --static-swift-stdlib links the Swift runtime, Foundation and Dispatch in; --disable-local-rpath drops
# the $ORIGIN run path, which a binary in /usr/bin must not have.
build_log=$work/build.log
log "building the release binary (scratch path $scratch; a cold build takes several minutes)"
build_started=$SECONDS
if ! (cd "$root" && swift build -c release --product lifeboat --static-swift-stdlib --disable-local-rpath \
    --scratch-path "$scratch") >"$build_log" 2>&1; then
    tail -40 "$build_log" >&2
    cp "$build_log" "$outdir/build-deb.log"
    die "swift build failed (whole log: $outdir/build-deb.log)"
fi
log "built in $((SECONDS - build_started)) s"
built=$scratch/release/lifeboat
[[ -x $built ]] || die "$built missing after the build"

# The binary may need only Debian's shared libraries: no Swift runtime, no run path.
needed=$(objdump -p "$built" | awk '$1 == "NEEDED" { print $2 }')
if grep -E '^(libswift|libFoundation|lib_Foundation|libdispatch|libBlocksRuntime|libXCTest)' <<<"$needed"; then
    die "the binary needs the Swift runtime's shared libraries above: --static-swift-stdlib did not take"
fi
if objdump -p "$built" | grep -E '^\s*(RPATH|RUNPATH)\s'; then
    die "the binary has a run path (above)"
fi
log "NEEDED: $(tr '\n' ' ' <<<"$needed")"
ldd_out=$(ldd "$built")
if grep -q 'not found' <<<"$ldd_out"; then
    grep 'not found' <<<"$ldd_out" >&2
    die "the binary needs libraries that are not installed"
fi

# ---- file tree --------------------------------------------------------------------------------------
install -d -m 0755 "$pkg/usr/bin" "$pkg/lib/systemd/system" "$pkg/etc/lifeboat" "$pkg/usr/share/man/man1" \
    "$pkg/usr/share/doc/lifeboat" "$pkg/usr/share/bash-completion/completions" \
    "$pkg/usr/share/zsh/vendor-completions" "$pkg/usr/share/fish/vendor_completions.d" "$pkg/DEBIAN"
bin=$pkg/usr/bin/lifeboat
install -m 0755 "$built" "$bin"
# As dh_strip does for executables: no symbols, no debug information, no .comment/.note.
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$bin"
version=$("$bin" --version)
[[ $version =~ ^[0-9][A-Za-z0-9.+~-]*$ ]] || die "'lifeboat --version' printed '$version', not a Debian version"
arch=$(dpkg --print-architecture)
log "lifeboat $version ($arch), from $origin"

# Man page: swift-argument-parser's generate-manual reads the binary's --experimental-dump-help.
manual_out=$work/manual
mkdir -p "$manual_out"
manual_date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%F)
case $manual_mode in
tool)
    # The same tool the generate-manual plugin runs, pointed at the binary just built: the plugin itself
    # would first rebuild every product without --static-swift-stdlib (a second full release build).
    if ! (cd "$root" && swift build --product generate-manual --scratch-path "$scratch") >"$build_log" 2>&1; then
        tail -40 "$build_log" >&2
        die "building swift-argument-parser's generate-manual failed"
    fi
    "$scratch/debug/generate-manual" "$bin" --date "$manual_date" --output-directory "$manual_out" >/dev/null
    ;;
plugin)
    (cd "$root" && swift package --scratch-path "$scratch-plugin" plugin generate-manual --date "$manual_date") \
        >"$build_log" 2>&1 || {
        tail -40 "$build_log" >&2
        die "swift package plugin generate-manual failed"
    }
    cp "$scratch-plugin/plugins/GenerateManual/outputs/lifeboat/lifeboat.1" "$manual_out/"
    ;;
*) die "LIFEBOAT_DEB_MANUAL must be tool or plugin, not '$manual_mode'" ;;
esac
[[ -s $manual_out/lifeboat.1 ]] || die "generate-manual wrote no lifeboat.1"
gzip -9n <"$manual_out/lifeboat.1" >"$pkg/usr/share/man/man1/lifeboat.1.gz"
chmod 0644 "$pkg/usr/share/man/man1/lifeboat.1.gz"

# bash-completion sources its files: the generator's #!/bin/bash line has no use there (lintian says so).
"$bin" --generate-completion-script bash | sed '1{/^#!/d}' >"$pkg/usr/share/bash-completion/completions/lifeboat"
"$bin" --generate-completion-script zsh >"$pkg/usr/share/zsh/vendor-completions/_lifeboat"
"$bin" --generate-completion-script fish >"$pkg/usr/share/fish/vendor_completions.d/lifeboat.fish"

# The daemon unit goes in only once the binary has the daemon command; until then the timer is the way.
units=(lifeboat-backup.service lifeboat-backup.timer)
if "$bin" --help | sed -n "/SUBCOMMANDS/,\$p" | grep -cE "^  daemon " >/dev/null; then
    units=(lifeboat.service "${units[@]}")
    daemon_text="The daemon (lifeboat.service) and the timer (lifeboat-backup.timer) are"
else
    echo "build-deb: this lifeboat has no daemon command: lifeboat.service is not packaged" >&2
    daemon_text="The timer (lifeboat-backup.timer) that runs every job nightly is"
fi
for unit in "${units[@]}"; do
    install -m 0644 "$root/packaging/$unit" "$pkg/lib/systemd/system/$unit"
done
# The example may hold secrets once edited (plain-string secrets need a private file).
install -m 0600 "$root/etc/lifeboat.yaml" "$pkg/etc/lifeboat/lifeboat.yaml"
install -m 0644 "$root/README.md" "$pkg/usr/share/doc/lifeboat/README.md"
install -m 0644 "$root/packaging/deb/copyright" "$pkg/usr/share/doc/lifeboat/copyright"
install -D -m 0644 "$root/packaging/deb/lintian-overrides" "$pkg/usr/share/lintian/overrides/lifeboat"
{
    echo "lifeboat ($version) unstable; urgency=medium"
    echo
    echo "  * Package built from $origin"
    echo "    of the Lifeboat repository, whose history is the change log."
    echo
    echo " -- $maintainer  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$pkg/usr/share/doc/lifeboat/changelog.gz"
chmod 0644 "$pkg/usr/share/doc/lifeboat/changelog.gz" "$pkg/usr/share/bash-completion/completions/lifeboat" \
    "$pkg/usr/share/zsh/vendor-completions/_lifeboat" "$pkg/usr/share/fish/vendor_completions.d/lifeboat.fish"

# ---- control area -----------------------------------------------------------------------------------
for script in postinst prerm postrm; do
    install -m 0755 "$root/packaging/deb/$script" "$pkg/DEBIAN/$script"
done
echo /etc/lifeboat/lifeboat.yaml >"$pkg/DEBIAN/conffiles"
chmod 0644 "$pkg/DEBIAN/conffiles"

# dpkg-shlibdeps reads debian/control of a source package: give it a minimal one.
mkdir -p "$work/src/debian"
printf 'Source: lifeboat\n\nPackage: lifeboat\nArchitecture: any\n' >"$work/src/debian/control"
depends=$(cd "$work/src" && dpkg-shlibdeps -O "$bin" 2>"$work/shlibdeps.err") || {
    cat "$work/shlibdeps.err" >&2
    die "dpkg-shlibdeps failed"
}
depends=${depends#shlibs:Depends=}
[[ -n $depends ]] || die "dpkg-shlibdeps found no dependencies"

installed_size=$(find "$pkg" -path "$pkg/DEBIAN" -prune -o \( -type f -printf '%s\n' \) -o \( ! -type f -printf '0\n' \) |
    awk '{ kib += int(($1 + 1023) / 1024); if ($1 == 0) kib += 1 } END { print kib }')
cat >"$pkg/DEBIAN/control" <<EOF
Package: lifeboat
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed_size
Depends: $depends
Recommends: age, zstd
Section: admin
Priority: optional
Description: backup, archive and restore agent for PBX systems
 Lifeboat takes consistent snapshots of a live PBX (Asterisk, FreePBX,
 Yeastar-style): SQLite databases while they are being written, configuration
 and voicemail trees. It packs them into one compressed, encrypted archive
 (tar, zstd and age), sends it to local and remote stores, verifies it,
 applies retention, and restores it, whole or per component.
 .
 Every archive opens without Lifeboat, with age and tar alone (the Recommends).
 .
 $daemon_text
 installed but not enabled: edit /etc/lifeboat/lifeboat.yaml first.
EOF
# md5sums of every file but the conffile (dpkg keeps that one's own), as dh_md5sums writes them.
(cd "$pkg" && find . -path ./DEBIAN -prune -o -type f ! -path ./etc/lifeboat/lifeboat.yaml -printf '%P\0' |
    LC_ALL=C sort -z | xargs -0 md5sum) >"$pkg/DEBIAN/md5sums"
chmod 0644 "$pkg/DEBIAN/control" "$pkg/DEBIAN/md5sums"
find "$pkg" -exec touch --no-dereference -d "@$SOURCE_DATE_EPOCH" {} +

# ---- package ----------------------------------------------------------------------------------------
deb=$outdir/lifeboat_${version}_${arch}.deb
dpkg-deb --root-owner-group --build "$pkg" "$deb" >/dev/null
log "Depends: $depends"
log "$deb: $(stat -c %s "$deb") bytes, installed $installed_size KiB; $((SECONDS - started)) s in all"
if command -v lintian >/dev/null; then
    log "lintian:"
    lintian --display-info "$deb" >&2 || true
else
    log "lintian is not installed (apt-get install lintian) - not run"
fi
echo "$deb"
