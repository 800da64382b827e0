#!/usr/bin/env bash
# Quick start, command 1: install what is missing, build, run the demo.
#   tools/demo.sh [demo arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target gcrt-demo >/dev/null
exec build/tools/gcrt-demo "$@"
