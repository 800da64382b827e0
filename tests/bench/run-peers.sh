#!/usr/bin/env bash
# run-peers.sh - the peers kit (../shared/bench/peers) with gcrt in its
# runtime-under-test slot: one command, every row (go, bdwgc, glibc,
# jemalloc, mimalloc, tcmalloc, gcrt) in the same tables.
#
#   tests/bench/run-peers.sh                         full kit, ~8+ min
#   QUICK=1 tests/bench/run-peers.sh                 smoke test, ~1 min
#   ONLY=allocbench tests/bench/run-peers.sh         (= "allocbench1 allocbench2")
#   RUNTIMES="go mimalloc" tests/bench/run-peers.sh  (the gcrt row always runs)
#
# ONLY, RUNTIMES, QUICK and the kit's other tunables (RUNS, ALLOC_N, ...) pass
# through to run.sh. The kit runs from a writable copy in PEERS_WORK (default
# <build dir>/peers); results land in $PEERS_WORK/results/<stamp>/ and
# $PEERS_WORK/results/latest.md. Installs the peers' Debian packages on the
# first run when root (see the kit's README.md).
#
# Rows: "gcrt" is libgcrt as an explicit-free allocator (gcrt_free, GOGC=off;
# see gcrt_shim.h). "gcrt-gc" is libgcrt as a collector (the same shim with
# -DGCRT_SHIM_GC=1: garbage dropped, gcrt_store barrier, GOGC=100); added
# through the kit's PEERS_EXTRA when the library has a collector
# (GCRT_GC_ROWS=auto, the default; 0 or 1 to force). "gcrt-gc-static" is
# the same program linked with libgcrt_static.a instead of libgcrt.so, as Go
# links its runtime: no PLT stub per call, thread-local and global accesses
# relaxed by the linker to direct ones (GCBench ~7% faster).
#
# Environment: PEERS_DIR (default <repo>/../shared/bench/peers), BUILD_DIR,
# GCRT_SNAPSHOT=1 (see build-gcrt.sh), GCRT_GC_ROWS.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PEERS_DIR=${PEERS_DIR:-$REPO/../shared/bench/peers}
if [ ! -x "$PEERS_DIR/run.sh" ] && [ ! -f "$PEERS_DIR/run.sh" ]; then
  echo "run-peers: no run.sh in $PEERS_DIR (set PEERS_DIR)" >&2
  exit 1
fi
PEERS_DIR=$(cd "$PEERS_DIR" && pwd)
# The kit's workload names are allocbench1/allocbench2 (1 and 2 threads):
# accept plain "allocbench" for both (run.sh alone would run nothing).
if [ -n "${ONLY:-}" ]; then
  ONLY=" $ONLY "
  ONLY=${ONLY// allocbench / allocbench1 allocbench2 }
  export ONLY
fi
eval "$("$HERE/build-gcrt.sh")"
LIB=$GCRT_BUILD/libgcrt

# The kit copies itself to PEERS_WORK and writes build/ and results/ there,
# so a read-only PEERS_DIR is fine.
export PEERS_WORK=${PEERS_WORK:-$GCRT_BUILD/peers}
export PEERS_SHIM_HEADER=$HERE/gcrt_shim.h
[ "${GCRT_SNAPSHOT:-0}" = 1 ] && PEERS_SHIM_HEADER=$GCRT_SRC/tests/bench/gcrt_shim.h
export PEERS_SHIM_NAME=gcrt
export PEERS_SHIM_CFLAGS="-I$GCRT_SRC/libgcrt/include"
export PEERS_SHIM_LIBS="-L$LIB -lgcrt -Wl,-rpath,$LIB"
export PEERS_SHIM_ENV="LD_LIBRARY_PATH=$LIB"
# The collector rows: the kit builds one shim, so these are built here and
# added as extra commands.
GC_ROWS=${GCRT_GC_ROWS:-auto}
if [ "$GC_ROWS" = auto ]; then
  GC_ROWS=0
  grep -q gcrt_store "$GCRT_SRC/libgcrt/include/gcrt.h" && GC_ROWS=1
fi
if [ "$GC_ROWS" = 1 ]; then
  GCBIN=$GCRT_BUILD/peers-gcrt-gc
  GCBIN_STATIC=$GCRT_BUILD/peers-gcrt-gc-static
  mkdir -p "$GCBIN" "$GCBIN_STATIC"
  for w in gcbench bintrees service allocbench; do
    for link in shared static; do
      if [ $link = shared ]; then
        out=$GCBIN/$w libs=$PEERS_SHIM_LIBS
      else
        out=$GCBIN_STATIC/$w libs="$LIB/libgcrt_static.a -lm"
      fi
      gcc -O2 -g -Wall -Wextra -Wno-unused-parameter -DBK_SHIM \
        -DBK_SHIM_HEADER="\"$PEERS_SHIM_HEADER\"" -DGCRT_SHIM_GC=1 $PEERS_SHIM_CFLAGS \
        -o "$out" "$PEERS_DIR/c/$w.c" $libs -lpthread
    done
  done
  EXTRA=$GCRT_BUILD/peers-gcrt-gc.extra
  {
    for wl in gcbench bintrees bintrees2 service allocbench1 allocbench2; do
      b=${wl%[12]}
      echo "$wl|gcrt-gc|$PEERS_SHIM_ENV $GCBIN/$b {ARGS}"
      echo "$wl|gcrt-gc-static|$GCBIN_STATIC/$b {ARGS}"
    done
    [ -n "${PEERS_EXTRA:-}" ] && cat "$PEERS_EXTRA"
  } > "$EXTRA"
  export PEERS_EXTRA=$EXTRA
fi

echo "== $PEERS_DIR/run.sh (work dir $PEERS_WORK, libgcrt $LIB)" >&2
bash "$PEERS_DIR/run.sh"
echo "(gcrt shim: $PEERS_SHIM_HEADER; results: $PEERS_WORK/results/latest.md)" >&2
