#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Counts the instructions one binding cycle executes on the embedded store with 0, 1, 3 and 10
# no-op plugins loaded through the ABI (cycle_benchmark's BM_CycleOnEmbeddedStore), under
# valgrind's callgrind. Unlike the time a cycle takes, the count does not depend on the machine's
# speed or on what else runs on it: the same binary gives the same count, so it shows what the
# host and the ABI cost on a shared, noisy machine. Only Framework::run is counted (the
# fixture's setup is not); the count is divided by the cycles the benchmark ran.
#
# Usage: bench/count_instructions.sh [--build DIR] [PLUGINS...]
#   --build DIR   the build tree holding bin/cycle_benchmark (default: build)
#   PLUGINS       the no-op plugin counts to run (default: 0 1 3 10; each of 0, 1, 3, 10)
# Needs valgrind (Debian's package `valgrind`). Prints a table and, when 0 and 3 are both run,
# the three plugins' ratio to the host alone. Exits 1 when a run fails, 2 on bad usage.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
counts=()
while [ $# -gt 0 ]; do
  case $1 in
    --build)
      [ $# -ge 2 ] || { echo "count_instructions.sh: --build needs a directory" >&2; exit 2; }
      build=$2
      shift 2
      ;;
    -h|--help)
      awk 'NR == 1 || /SPDX-License-Identifier/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
      exit 0
      ;;
    0|1|3|10)
      counts+=("$1")
      shift
      ;;
    *)
      echo "count_instructions.sh: unknown argument '$1': plugin counts are 0, 1, 3 or 10" >&2
      exit 2
      ;;
  esac
done
[ ${#counts[@]} -gt 0 ] || counts=(0 1 3 10)

program=$build/bin/cycle_benchmark
if [ ! -x "$program" ]; then
  echo "count_instructions.sh: $program not found: build first (cmake -S . -B build -G Ninja && cmake --build build) or pass --build DIR" >&2
  exit 1
fi
if ! command -v valgrind >/dev/null 2>&1; then
  echo "count_instructions.sh: valgrind not found: install it (apt-get install valgrind)" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

declare -A per_cycle
printf '%-8s %8s %20s\n' plugins cycles "instructions/cycle"
for n in "${counts[@]}"; do
  if ! valgrind --tool=callgrind --log-file="$work/valgrind.$n" \
      --callgrind-out-file="$work/callgrind.$n" \
      '--toggle-collect=kbinder::host::Framework::run(*' \
      "$program" "--benchmark_filter=^BM_CycleOnEmbeddedStore/$n/" \
      --benchmark_out="$work/result.$n.csv" --benchmark_out_format=csv \
      >"$work/out.$n" 2>&1; then
    echo "count_instructions.sh: cycle_benchmark with $n plugins failed under valgrind:" >&2
    sed 's/^/    /' "$work/out.$n" "$work/valgrind.$n" >&2
    exit 1
  fi
  # The CSV's row for the benchmark: name, iterations, ..., and error_occurred further on.
  row=$(grep "^\"BM_CycleOnEmbeddedStore/$n/" "$work/result.$n.csv" || true)
  cycles=$(cut -d, -f2 <<<"$row")
  if [ -z "$row" ] || grep -q ',true,' <<<"$row" || ! [[ $cycles =~ ^[0-9]+$ ]] || [ "$cycles" -eq 0 ]; then
    echo "count_instructions.sh: cycle_benchmark with $n plugins ran no cycle without an error:" >&2
    sed 's/^/    /' "$work/out.$n" >&2
    exit 1
  fi
  collected=$(sed -n 's/^==[0-9]*== Collected : \([0-9]*\)$/\1/p' "$work/valgrind.$n")
  if ! [[ $collected =~ ^[0-9]+$ ]] || [ "$collected" -eq 0 ]; then
    echo "count_instructions.sh: callgrind counted nothing in Framework::run with $n plugins:" >&2
    sed 's/^/    /' "$work/valgrind.$n" >&2
    exit 1
  fi
  per_cycle[$n]=$((collected / cycles))
  printf '%-8s %8d %20d\n' "$n" "$cycles" "${per_cycle[$n]}"
done

if [ -n "${per_cycle[0]:-}" ] && [ -n "${per_cycle[3]:-}" ]; then
  # The same logic linked in is the host alone plus 21 direct calls of functions that return at
  # once, so this ratio is at least the ratio to it.
  awk -v a="${per_cycle[3]}" -v b="${per_cycle[0]}" 'BEGIN {
    printf "3 no-op plugins through the ABI: %.2f x the host alone'"'"'s instructions", a / b
    printf " (target <= 1.5 x the same logic linked directly: %s)\n", (a / b > 1.5) ? "missed" : "met"
  }'
fi
