#!/usr/bin/env bash
# run-barrier.sh - the write barrier's cost per pointer store (gcrt_store),
# with marking off and on: builds bench_barrier (Release, static archive)
# and runs it. Results in tests/bench/RESULTS.md.
#
#   tests/bench/run-barrier.sh [LIVE_MIB]     default 256
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
eval "$("$HERE/build-gcrt.sh")"
cmake --build "$GCRT_BUILD" -j"$(nproc)" --target bench_barrier >&2
echo "# $(date -u +%FT%TZ) $(git -C "$HERE" rev-parse --short HEAD 2>/dev/null || true)"
"$GCRT_BUILD/tests/bench/bench_barrier" "${1:-256}"
