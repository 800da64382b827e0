#!/usr/bin/env bash
# Long stress runs (not part of tools/test.sh): the stress tests at a larger
# scale. Override with GCRT_STRESS_OPS / GCRT_STRESS_THREADS / GCRT_STRESS_PHASES
# (and GCRT_STRESS_ROUNDS: test_sched_stress's ping-pong round trips, default 20000).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh
cmake -S . -B build-stress -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGCRT_ASSERT_LEVEL=2 >/dev/null
cmake --build build-stress -j"$(nproc)" >/dev/null
export GCRT_STRESS_OPS=${GCRT_STRESS_OPS:-5000000}
export GCRT_STRESS_THREADS=${GCRT_STRESS_THREADS:-8}
export GCRT_STRESS_PHASES=${GCRT_STRESS_PHASES:-10}
cd build-stress && ctest -L stress --output-on-failure --timeout 7200
