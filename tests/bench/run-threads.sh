#!/bin/sh
# Many allocating tasks on few CPUs, gcrt and Go 1.19 side by side
# (RESULTS.md section 24):
#   tests/bench/run-threads.sh [build-dir] [N...]      (default N: 2 8 32)
# For each N: gcrt with N attached threads, gcrt with N goroutines, Go with
# N goroutines (GOMAXPROCS = the CPUs) and Go with GOMAXPROCS=N (a P per
# task, as each attached thread has one). 64M allocations of 16 bytes each.
set -e
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
[ $# -gt 0 ] && shift
ns=${*:-2 8 32}
cmake --build "$build" --target gcrt_static >/dev/null
cc -O2 -g -D_GNU_SOURCE -I"$src/libgcrt/include" "$here/bench_threads.c" \
  "$build/libgcrt/libgcrt_static.a" -lpthread -lm -o "$build/bench_threads"
(cd "$here/go/threads" && GO111MODULE=off go build -o "$build/bench_threads_go" main.go)
for n in $ns; do
  "$build/bench_threads" threads "$n"
  "$build/bench_threads" goroutines "$n"
  "$build/bench_threads_go" "$n"
  GOMAXPROCS=$n "$build/bench_threads_go" "$n"
done
