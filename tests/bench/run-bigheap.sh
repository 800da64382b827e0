#!/usr/bin/env bash
# run-bigheap.sh - issue 4's "at scale" benchmark: bigheap/bigheap.c (a
# large live heap of 64-byte nodes under churn) for gcrt (collector mode of
# gcrt_shim.h: GOGC=100, write barrier), Go 1.19 (go/bigheap) and bdwgc,
# side by side; one STATS line per run.
#
#   tests/bench/run-bigheap.sh [LIVE_MIB] [CHURN_X] [RUNS]   default 1024 4 1
#   RUNTIMES="gcrt go" tests/bench/run-bigheap.sh 256 2 3
#
# Needs about 3 x LIVE_MIB of free memory per run. Peak RSS and the ratio to
# the live heap are in the STATS lines (getrusage).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PEERS_C=${PEERS_DIR:-$HERE/../../../shared/bench/peers}/c
LIVE=${1:-1024} CHURN=${2:-4} RUNS=${3:-1}
RUNTIMES=${RUNTIMES:-"gcrt go bdwgc"}
eval "$("$HERE/build-gcrt.sh")"
OUT=$GCRT_BUILD/bigheap
mkdir -p "$OUT"
CFLAGS="-O2 -g -Wall -Wextra -Wno-unused-parameter -I$PEERS_C"
for rt in $RUNTIMES; do
  case $rt in
  gcrt) cc $CFLAGS -DBK_SHIM -DBK_SHIM_HEADER="\"$HERE/gcrt_shim.h\"" -DGCRT_SHIM_GC=1 \
          -I"$GCRT_SRC/libgcrt/include" "$HERE/bigheap/bigheap.c" -o "$OUT/bigheap-gcrt" \
          -L"$GCRT_BUILD/libgcrt" -lgcrt -Wl,-rpath,"$GCRT_BUILD/libgcrt" -lpthread ;;
  bdwgc) cc $CFLAGS -DBK_BDWGC "$HERE/bigheap/bigheap.c" -o "$OUT/bigheap-bdwgc" -lgc -lpthread ;;
  go) (cd "$HERE/go/bigheap" && GO111MODULE=off go build -o "$OUT/bigheap-go" main.go) ;;
  *) echo "run-bigheap: unknown runtime $rt (gcrt, go, bdwgc)" >&2; exit 2 ;;
  esac
done
echo "# bigheap live=${LIVE}MiB churn=${CHURN}x runs=$RUNS $(date -u +%FT%TZ) $(git -C "$HERE" rev-parse --short HEAD 2>/dev/null || true)"
for i in $(seq 1 "$RUNS"); do
  for rt in $RUNTIMES; do
    "$OUT/bigheap-$rt" "$LIVE" "$CHURN"
  done
done
