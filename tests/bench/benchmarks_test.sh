#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Each Google Benchmark program runs every benchmark it has to the end: it exits 0 (a setup
# that fails, such as a plugin not built, exits 1 with the reason) and no benchmark stopped
# with an error (a failed request, say, reported as "ERROR OCCURRED"). Each runs once,
# briefly: speed is not checked here (see bench/README.md).
# Usage: benchmarks_test.sh PROGRAM...
set -u
# shellcheck source=../checks.sh
source "$(dirname "$0")/../checks.sh"

for program in "$@"; do
  name=$(basename "$program")
  run 0 "$program" --benchmark_min_time=0.001
  check "$name ran its benchmarks" "^BM_"
  if grep -q "ERROR OCCURRED" <<<"$out"; then
    echo "FAIL: $name: a benchmark stopped with an error:"
    grep "ERROR OCCURRED" <<<"$out" | sed 's/^/    /'
    failures=$((failures + 1))
  else
    passed=$((passed + 1))
  fi
done

echo "$passed checks passed, $failures failed"
[ "$failures" -eq 0 ]
