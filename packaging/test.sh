#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, runs every test target.
# Tests that need servers start and stop them themselves (none are needed by the local store yet).
set -euo pipefail
cd "$(dirname "$0")/.."

packaging/setup.sh

log=$(mktemp)
if ! swift build --build-tests >"$log" 2>&1; then
    cat "$log"
    exit 1
fi
tail -1 "$log"
rm -f "$log"
swift test --skip-build
