#!/usr/bin/env bash
# Builds Lifeboat and runs `lifeboat demo`: seeds a demo PBX, backs it up, verifies and restores it.
set -euo pipefail
cd "$(dirname "$0")/.."
packaging/setup.sh
swift build -c release --product lifeboat 2>&1 | tail -1
exec .build/release/lifeboat demo "$@"
