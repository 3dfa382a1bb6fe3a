#!/usr/bin/env bash
# The whole test suite: installs what it needs, starts the real servers the tests use on 127.0.0.1
# (packaging/test-servers.sh), builds, runs every test target, and stops the servers again.
set -euo pipefail
cd "$(dirname "$0")/.."

packaging/setup.sh

export LIFEBOAT_TEST_SERVERS=${LIFEBOAT_TEST_SERVERS:-/tmp/lifeboat-servers}
packaging/test-servers.sh start "$LIFEBOAT_TEST_SERVERS"
trap 'packaging/test-servers.sh stop "$LIFEBOAT_TEST_SERVERS"' EXIT

log=$(mktemp)
if ! swift build --build-tests >"$log" 2>&1; then
    cat "$log"
    exit 1
fi
tail -1 "$log"
rm -f "$log"
swift test --skip-build

# The .deb: a static release build (minutes), installed with dpkg, checked and purged. CI sets
# LIFEBOAT_TEST_DEB=1; by hand it is skipped because it installs into this machine.
if [[ ${LIFEBOAT_TEST_DEB:-0} == 1 ]]; then
    packaging/build-deb.sh dist
    packaging/test-deb.sh dist/lifeboat_*.deb
fi
