#!/usr/bin/env bash
# run-mark.sh - the marker's speed, gcrt and Go 1.19 side by side:
# bench_mark.c and go/mark build one heap (a binary tree of 16-byte nodes;
# a chain of 64-byte objects in random order; 64-byte objects in 65536
# lists, bigheap's live heap) and run forced cycles under
# GODEBUG=gctrace=1. The tree and the chain do not change; the lists are
# churned by another thread meanwhile (bigheap's churn: new heads through
# the write barrier), so their marking runs beside a program, in random
# order. Per shape and runtime: MB marked (for churn it includes what was
# allocated during the mark), the mark phase's clock and CPU (assist +
# background + idle), as medians over all cycles of all runs (each run's
# first cycle left out), CPU ms per MB marked, and gcrt's clock and CPU as
# ratios to Go's. Results in tests/bench/RESULTS.md.
#
#   tests/bench/run-mark.sh [RUNS] [TREE_DEPTH] [LIST_N] [CHURN_N]
#                                           default 3 20 2000000 16000000 (1 GiB)
#   CHURN_N=0: no churn rows.  GOMAXPROCS=1 tests/bench/run-mark.sh: one P each.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
RUNS=${1:-3} DEPTH=${2:-20} LISTN=${3:-2000000} CHURNN=${4:-16000000} CYCLES=5
SHAPES="tree list"
[ "$CHURNN" != 0 ] && SHAPES="tree list churn"
eval "$("$HERE/build-gcrt.sh")"
cmake --build "$GCRT_BUILD" -j"$(nproc)" --target bench_mark >&2
(cd "$HERE/go/mark" && GO111MODULE=off go build -o "$GCRT_BUILD/bench_mark_go" main.go)
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
for i in $(seq 1 "$RUNS"); do
  for shape in $SHAPES; do
    size=$DEPTH
    [ "$shape" = list ] && size=$LISTN
    [ "$shape" = churn ] && size=$CHURNN
    for rt in gcrt go; do
      bin=$GCRT_BUILD/tests/bench/bench_mark
      [ "$rt" = go ] && bin=$GCRT_BUILD/bench_mark_go
      # "gc N @t P%: a+MARK+c ms clock, d+ASSIST/BG/IDLE+h ms cpu, x->y->LIVE MB, ..."
      GODEBUG=gctrace=1 "$bin" "$shape" "$size" "$CYCLES" 2>&1 >/dev/null |
        grep '(forced)' | tail -n +2 |
        awk -v s="$shape" -v r="$rt" '{
          split($5, c, "+"); split($8, u, "+"); split(u[2], m, "/"); split($11, h, "->")
          print s, r, h[3], c[2], m[1] + m[2] + m[3] }' >>"$LOG"
    done
  done
done
median() { sort -g | awk '{v[NR] = $1} END {print NR ? (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) : 0}'; }
# sel SHAPE RUNTIME FIELD: that field of the shape's and runtime's lines
sel() { awk -v s="$1" -v r="$2" -v f="$3" '$1 == s && $2 == r {print $f}' "$LOG"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf("%.2f", b > 0 ? a / b : 0)}'; }
echo "# run-mark runs=$RUNS tree=$DEPTH list=$LISTN churn=$CHURNN GOMAXPROCS=${GOMAXPROCS:-default} $(date -u +%FT%TZ) $(git -C "$HERE" rev-parse --short HEAD 2>/dev/null || true)"
echo
echo "| shape | runtime | cycles | MB marked | mark clock ms | mark CPU ms | CPU ms per MB | clock / Go | CPU / Go |"
echo "|---|---|---|---|---|---|---|---|---|"
for shape in $SHAPES; do
  go_clk=$(sel "$shape" go 4 | median) go_cpu=$(sel "$shape" go 5 | median)
  for rt in go gcrt; do
    n=$(sel "$shape" "$rt" 3 | wc -l)
    mb=$(sel "$shape" "$rt" 3 | median) clk=$(sel "$shape" "$rt" 4 | median)
    cpu=$(sel "$shape" "$rt" 5 | median)
    echo "| $shape | $rt | $n | $mb | $clk | $cpu | $(ratio "$cpu" "$mb") | $(ratio "$clk" "$go_clk") | $(ratio "$cpu" "$go_cpu") |"
  done
done
