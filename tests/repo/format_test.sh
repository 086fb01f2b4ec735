#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every C, C++ and protobuf source in the repository is laid out as .clang-format says. Names each
# file that is not, with the command that lays it out.
# Usage: format_test.sh SOURCE_DIR [CLANG_FORMAT]
set -u
source=$(realpath "$1")
clang_format=${2:-clang-format}
cd "$source" || exit 1
if ! command -v "$clang_format" >/dev/null 2>&1; then
  echo "FAIL: $clang_format is not installed: run scripts/install-deps.sh (Debian package clang-format)"
  exit 1
fi
failures=0 passed=0
while read -r file; do
  if "$clang_format" --style=file --dry-run --Werror "$file" >/dev/null 2>&1; then
    passed=$((passed + 1))
  else
    echo "FAIL: $file is not laid out as .clang-format says: run '$clang_format -i $file'"
    failures=$((failures + 1))
  fi
done < <(find . \( -path ./.git -o -path './build*' \) -prune -o -type f \
           \( -name '*.h' -o -name '*.cc' -o -name '*.c' -o -name '*.proto' \) -print | sort)
echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ] && [ "$passed" -gt 100 ]
