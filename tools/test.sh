#!/usr/bin/env bash
# Quick start, command 2: install what is missing, build and run the whole
# test suite: the normal build (warnings as errors), the ASan+UBSan build,
# the TSan build of the concurrent tests, and the format check.
#   tools/test.sh            everything (about 5-10 minutes on 2 cores)
#   GCRT_TEST_ONLY=normal|asan|tsan|format tools/test.sh
# Long stress runs are separate: tools/stress.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh
jobs=$(nproc)
only=${GCRT_TEST_ONLY:-all}
fail=0
run_suite() { # name, build dir, cmake flags, ctest args
  local name=$1 dir=$2 flags=$3; shift 3
  echo "== $name build ($dir)"
  cmake -S . -B "$dir" $flags >/dev/null
  cmake --build "$dir" -j"$jobs" 2>&1 | grep -E "error|warning" || true
  cmake --build "$dir" -j"$jobs" >/dev/null
  (cd "$dir" && ctest --output-on-failure -j"$jobs" "$@") || fail=1
}
if [ "$only" = all ] || [ "$only" = normal ]; then
  run_suite normal build-test "-DGCRT_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGCRT_ASSERT_LEVEL=2"
fi
if [ "$only" = all ] || [ "$only" = asan ]; then
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite "ASan+UBSan" build-asan "-DGCRT_WERROR=ON -DGCRT_ASAN=ON -DCMAKE_BUILD_TYPE=Debug -DGCRT_ASSERT_LEVEL=2"
fi
if [ "$only" = all ] || [ "$only" = tsan ]; then
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:die_after_fork=0 \
    run_suite TSan build-tsan "-DGCRT_WERROR=ON -DGCRT_TSAN=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo" -L tsan
fi
if [ "$only" = all ] || [ "$only" = format ]; then
  echo "== format"
  tools/check-format.sh || fail=1
fi
if [ $fail -ne 0 ]; then echo "gcrt: tests FAILED"; exit 1; fi
echo "gcrt: all test suites passed"
