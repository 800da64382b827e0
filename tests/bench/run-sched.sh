#!/bin/sh
# Scheduler benchmarks, gcrt and Go 1.19 side by side:
#   tests/bench/run-sched.sh [build-dir] [N] [name]
# Builds bench_sched against the static archive of build-dir (default
# build), and the Go counterpart with the system Go. name runs one
# measurement (create pingpong buffered fanout parked) in both.
set -e
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
n=${2:-1000000}
only=${3:-}
cmake --build "$build" --target gcrt_static >/dev/null
cc -O2 -g -fno-omit-frame-pointer -D_GNU_SOURCE -I"$src/libgcrt/include" -iquote "$src/libgcrt/src" \
  "$here/bench_sched.c" "$build/libgcrt/libgcrt_static.a" -lpthread -lm -o "$build/bench_sched"
(cd "$here/go/sched" && GO111MODULE=off go build -o "$build/bench_sched_go" main.go)
echo "== gcrt"; "$build/bench_sched" "$n" $only
echo "== go $(go env GOVERSION)"; "$build/bench_sched_go" "$n" $only
