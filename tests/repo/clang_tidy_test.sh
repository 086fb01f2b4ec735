#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The product's sources (host/, plugins/, and the SDK headers they include) have no finding under
# .clang-tidy, read with the build's compile commands. Prints each finding; fails on any, and on
# a source clang-tidy cannot read.
# Usage: clang_tidy_test.sh SOURCE_DIR BUILD_DIR [CLANG_TIDY]
set -u
source=$(realpath "$1")
build=$(realpath "$2")
clang_tidy=${3:-clang-tidy}
if ! command -v "$clang_tidy" >/dev/null 2>&1; then
  echo "FAIL: $clang_tidy is not installed: run scripts/install-deps.sh (Debian package clang-tidy)"
  exit 1
fi
if [ ! -f "$build/compile_commands.json" ]; then
  echo "FAIL: $build/compile_commands.json is missing: configure with CMAKE_EXPORT_COMPILE_COMMANDS=ON"
  exit 1
fi
cd "$source" || exit 1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mapfile -t files < <(find host plugins -name '*.cc' | sort)
jobs=$(nproc)

# One clang-tidy per file, as many at once as there are cores; each file's findings to its log.
check() {
  local file=$1 log
  log="$out/$(echo "$file" | tr / _).log"
  if ! "$clang_tidy" -p "$build" --quiet "$file" >"$log" 2>&1; then echo "$file" >>"$out/unreadable"; fi
}
running=0
for file in "${files[@]}"; do
  check "$file" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait

failures=0
for file in "${files[@]}"; do
  log="$out/$(echo "$file" | tr / _).log"
  findings=$(grep -E ': (warning|error): ' "$log" | sort -u)
  if [ -n "$findings" ]; then
    echo "FAIL: $file:"
    echo "$findings" | sed 's/^/  /'
    failures=$((failures + 1))
  elif grep -qx "$file" "$out/unreadable" 2>/dev/null; then
    echo "FAIL: clang-tidy could not read $file:"
    sed 's/^/  /' "$log"
    failures=$((failures + 1))
  fi
done
echo "${#files[@]} files checked, $failures with findings"
[ "$failures" -eq 0 ] && [ "${#files[@]}" -gt 40 ]
