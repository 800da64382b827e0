#!/usr/bin/env bash
# run-micro.sh - build libgcrt (Release) and run the allocation
# microbenchmarks (bench_alloc.c); prints a markdown table.
#
#   tests/bench/run-micro.sh                    ~1 min
#   tests/bench/run-micro.sh --quick            ~10 s smoke test
#   tests/bench/run-micro.sh --threads 1 --sizes "16 64" --runs 9
#
# Environment: STATIC=1 runs bench_alloc_static (libgcrt_static.a: direct
# TLS access, no PLT) instead of bench_alloc (libgcrt.so, as programs link);
# BUILD_DIR, GCRT_SNAPSHOT=1: see build-gcrt.sh.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
eval "$("$HERE/build-gcrt.sh")"
BIN=bench_alloc
[ "${STATIC:-0}" = 1 ] && BIN=bench_alloc_static
echo "== $GCRT_BUILD/tests/bench/$BIN $*" >&2
exec "$GCRT_BUILD/tests/bench/$BIN" "$@"
