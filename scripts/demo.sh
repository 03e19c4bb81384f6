#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine, builds narwhal and runs it with the simulated swarm on
# port 9000: open http://localhost:9000/services. Extra arguments go to narwhal.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ ! -d build-release ]; then
  meson setup build-release --buildtype=release --wrap-mode=nofallback -Dtests=disabled >/dev/null
fi
ninja -C build-release src/narwhal
exec build-release/src/narwhal --demo "$@"
