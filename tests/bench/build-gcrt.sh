#!/usr/bin/env bash
# build-gcrt.sh - configure and build libgcrt (Release) and the benchmarks
# for run-micro.sh and run-peers.sh. Prints two lines for `eval`:
#   GCRT_BUILD=<build dir>  GCRT_SRC=<source tree>
#
# Environment:
#   BUILD_DIR        build directory (default <repo>/build-bench)
#   GCRT_SNAPSHOT=1  build the last commit (git archive HEAD) with this
#                    tests/bench on top, in a temporary copy, instead of the
#                    working tree (which others may be editing); default build
#                    dir <repo>/build-bench-snapshot
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SRC=$REPO
BUILD=${BUILD_DIR:-$REPO/build-bench}
if [ "${GCRT_SNAPSHOT:-0}" = 1 ]; then
  SRC=${TMPDIR:-/tmp}/gcrt-snapshot-$(id -u)
  rm -rf "$SRC"
  mkdir -p "$SRC"
  git -C "$REPO" archive HEAD | tar -x -C "$SRC"
  cp "$HERE"/*.c "$HERE"/*.h "$HERE"/*.sh "$HERE"/CMakeLists.txt "$SRC/tests/bench/"
  echo "build-gcrt: snapshot of $(git -C "$REPO" rev-parse --short HEAD) in $SRC" >&2
  BUILD=${BUILD_DIR:-$REPO/build-bench-snapshot}
fi
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >&2
cmake --build "$BUILD" -j"$(nproc)" --target gcrt gcrt_static bench_alloc bench_alloc_static >&2
echo "GCRT_BUILD=$BUILD"
echo "GCRT_SRC=$SRC"
