# SPDX-License-Identifier: Apache-2.0
# Helpers for the command tests (source it): run a command, check its output and exit code,
# count what passed and failed in $passed and $failures.

failures=0 passed=0

# check NAME PATTERN: the last run's output has a line matching PATTERN (grep -E).
check() {
  if grep -q -E -- "$2" <<<"$out"; then
    passed=$((passed + 1))
  else
    echo "FAIL: $1: no line matching: $2"
    sed 's/^/    /' <<<"$out"
    failures=$((failures + 1))
  fi
}

# run CODE COMMAND...: runs it, keeps its output in $out, checks the exit code.
run() {
  local code=$1
  shift
  out=$("$@" 2>&1)
  local rc=$?
  if [ "$rc" -ne "$code" ]; then
    echo "FAIL: exit $rc (want $code): $*"
    sed 's/^/    /' <<<"$out"
    failures=$((failures + 1))
  else
    passed=$((passed + 1))
  fi
}

# expect NAME CODE PATTERN -- COMMAND...: runs COMMAND, checks its exit code and that its
# stdout+stderr have a line matching the (grep -E) pattern; the output stays in $out.
expect() {
  local name=$1 code=$2 pattern=$3
  shift 4
  out=$("$@" 2>&1)
  local rc=$?
  if [ "$rc" -ne "$code" ] || ! grep -q -E -- "$pattern" <<<"$out"; then
    echo "FAIL: $name: exit $rc (want $code), output:"
    sed 's/^/    /' <<<"$out"
    echo "    (wanted a line matching: $pattern)"
    failures=$((failures + 1))
  else
    passed=$((passed + 1))
  fi
}
