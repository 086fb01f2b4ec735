#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The repository is under the Apache License 2.0: LICENSE holds its text, and every source file
# (C and C++, protobuf schemas, shell and awk scripts, CMake files) names it in an SPDX line in
# its first two lines. Names each file that lacks it.
# Usage: license_test.sh SOURCE_DIR
set -u
source=$(realpath "$1")
cd "$source" || exit 1
failures=0 passed=0
if grep -q 'Apache License' LICENSE 2>/dev/null && grep -q 'Version 2.0, January 2004' LICENSE; then
  passed=$((passed + 1))
else
  echo "FAIL: LICENSE is missing or is not the Apache License 2.0"
  failures=$((failures + 1))
fi
while read -r file; do
  if head -2 "$file" | grep -q -E '^(//|#) SPDX-License-Identifier: Apache-2\.0$'; then
    passed=$((passed + 1))
  else
    echo "FAIL: $file has no SPDX line: put '// SPDX-License-Identifier: Apache-2.0' (or '#' for" \
         "scripts and CMake) first, after a #! line"
    failures=$((failures + 1))
  fi
done < <(find . \( -path ./.git -o -path './build*' \) -prune -o -type f \
           \( -name '*.h' -o -name '*.cc' -o -name '*.c' -o -name '*.proto' -o -name '*.sh' \
              -o -name '*.awk' -o -name '*.cmake' -o -name CMakeLists.txt -o -path ./.ci/run \) \
           -print | sort)
echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ] && [ "$passed" -gt 100 ]
