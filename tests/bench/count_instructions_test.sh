#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/count_instructions.sh counts the instructions of a binding cycle under callgrind with
# 0 and 3 no-op plugins: a row per count with a whole number, more instructions with the
# plugins than without, the ratio line; and bad usage refused. The ratio's target is not
# checked here (see bench/README.md), only that it is produced.
# Usage: count_instructions_test.sh SCRIPT BUILD_DIR
set -u
script=$1
build=$2
# shellcheck source=../checks.sh
source "$(dirname "$0")/../checks.sh"

run 0 bash "$script" --build "$build" 0 3
check "the header" "^plugins +cycles +instructions/cycle$"
check "no plugins" "^0 +5000 +[0-9]+$"
check "three plugins" "^3 +5000 +[0-9]+$"
check "the ratio" "^3 no-op plugins through the ABI: [0-9]+\.[0-9]{2} x the host alone's instructions \(target <= 1.5 x the same logic linked directly: (met|missed)\)$"
alone=$(awk 'NF == 3 && $1 == "0" { print $3 }' <<<"$out")
three=$(awk 'NF == 3 && $1 == "3" { print $3 }' <<<"$out")
if [ -n "$alone" ] && [ -n "$three" ] && [ "$alone" -gt 10000 ] && [ "$three" -gt "$alone" ]; then
  passed=$((passed + 1))
else
  echo "FAIL: a cycle should take over 10,000 instructions, and more with 3 plugins: '$alone' and '$three'"
  failures=$((failures + 1))
fi

run 2 bash "$script" --build "$build" 2
check "a count with no plugins built for it" "unknown argument '2': plugin counts are 0, 1, 3 or 10"
run 1 bash "$script" --build /nonexistent/build 0
check "no build" "/nonexistent/build/bin/cycle_benchmark not found: build first"

echo "$passed checks passed, $failures failed"
[ "$failures" -eq 0 ]
