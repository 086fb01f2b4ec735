#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every program a script in the repository runs (the suite's scripts, scripts/, bench/, .ci/) is
# one that scripts/install-deps.sh installs, or part of every Debian system (the packages of
# priority "required" and apt, which even `debootstrap --variant=minbase` installs), or a shell
# builtin or function. A program installed by hand on this machine would pass the suite here and
# fail it on a fresh one. And each PROGRAM:PACKAGE that install-deps.sh lists is true of the
# package where it is installed.
# Usage: install_deps_programs_test.sh SOURCE_DIR
set -u
source=$(realpath "$1")
here=$(dirname "$(realpath "$0")")

declare -A base=() builtin=()
while read -r word; do builtin[$word]=1; done < <(compgen -b; compgen -k)
while read -r package priority essential; do
  if [ "$priority" = required ] || [ "$essential" = yes ]; then base[$package]=1; fi
done < <(dpkg-query -W -f='${Package} ${Priority} ${Essential}\n')
base[apt]=1  # debootstrap's minbase: the required packages and apt

# The package each program on the PATH comes from (its resolved path, asked both ways under
# Debian's merged /usr).
owner_of() {
  local path=$1 real candidate
  real=$(readlink -f "$path")
  for candidate in "$path" "$real" "${real#/usr}" "/usr$real"; do
    dpkg-query -S "$candidate" 2>/dev/null | sed -n 's/^\([^:,]*\)[^ ]* .*$/\1/p' | head -1 |
      grep . && return 0
  done
  return 0
}

# scan ROOT: one FAIL line per program the scripts under ROOT run that nothing installs, and a
# last line "N passed, M failed (...)".
scan() {
  local root=$1 scripts found where word path package program checked=0 failures=0 carried file
  # fresh-machine-check.sh is left out: it runs on the developer's machine, not on the fresh
  # one, and says itself what it needs there (debootstrap, git).
  mapfile -t scripts < <(find "$root/scripts" "$root/tests" "$root/bench" "$root/.ci" -type f \
    \( -name '*.sh' -o -path '*/.ci/run' \) -not -name fresh-machine-check.sh 2>/dev/null | sort)
  [ ${#scripts[@]} -gt 0 ] || { echo "FAIL: no scripts found under $root"; return; }
  local -A listed=() functions=() first=()
  while read -r program package; do listed[$program]=$package; done < <(
    bash "$root/scripts/install-deps.sh" --programs)
  [ ${#listed[@]} -gt 0 ] || { echo "FAIL: install-deps.sh --programs listed nothing"; return; }
  found=$(awk -f "$here/script_commands.awk" "${scripts[@]}")
  while read -r _ word; do functions[$word]=1; done < <(grep '^function ' <<<"$found")
  # Each command once, with the first place that runs it.
  while read -r where word; do
    [ -n "${first[$word]:-}" ] || first[$word]=$where
  done < <(grep -v '^function ' <<<"$found")
  [ ${#first[@]} -gt 0 ] || { echo "FAIL: found no commands in ${#scripts[@]} scripts"; return; }

  for word in $(printf '%s\n' "${!first[@]}" | sort); do
    checked=$((checked + 1))
    [ -n "${builtin[$word]:-}" ] && continue
    [ -n "${functions[$word]:-}" ] && continue
    [ -n "${listed[$word]:-}" ] && continue
    where=${first[$word]#"$root/"}
    path=$(command -v "$word" || true)
    if [ -z "$path" ]; then
      echo "FAIL: $where runs '$word', which is not installed here: add '$word:PACKAGE' to the" \
           "programs in scripts/install-deps.sh"
      failures=$((failures + 1))
      continue
    fi
    package=$(owner_of "$path")
    if [ -z "$package" ]; then
      echo "FAIL: $where runs '$word' ($path), which belongs to no Debian package: use one from" \
           "the registry and add '$word:PACKAGE' to the programs in scripts/install-deps.sh"
      failures=$((failures + 1))
    elif [ -z "${base[$package]:-}" ]; then
      echo "FAIL: $where runs '$word', which comes from the package $package that a fresh Debian" \
           "12 does not have: add '$word:$package' to the programs in scripts/install-deps.sh"
      failures=$((failures + 1))
    fi
  done

  # A listed package that is installed must carry its program.
  for program in "${!listed[@]}"; do
    package=${listed[$program]}
    checked=$((checked + 1))
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || continue
    carried=0
    while read -r file; do
      if [[ $file == */bin/"$program" || $file == */sbin/"$program" ]]; then carried=1; break; fi
    done < <(dpkg-query -L "$package")
    if [ "$carried" -eq 0 ]; then
      echo "FAIL: scripts/install-deps.sh lists '$program:$package', but $package installs no" \
           "bin/$program"
      failures=$((failures + 1))
    fi
  done
  echo "$((checked - failures)) passed, $failures failed (${#scripts[@]} scripts," \
       "${#first[@]} commands, ${#listed[@]} listed programs)"
}

# shellcheck source=../checks.sh
source "$(dirname "$0")/../checks.sh"  # check, $passed, $failures

# The check itself, on a planted tree: install-deps.sh without curl, and a script that runs
# curl and a program that exists nowhere.
plant=$(mktemp -d)
trap 'rm -rf "$plant"' EXIT
mkdir -p "$plant/scripts" "$plant/tests"
grep -v '^ *curl:curl' "$source/scripts/install-deps.sh" >"$plant/scripts/install-deps.sh"
printf '#!/bin/bash\nout=$(curl -s x | tr a b)\nif kbinder-no-such-program; then :; fi\n' \
  >"$plant/tests/planted_test.sh"
out=$(scan "$plant")
for want in "tests/planted_test.sh:2 runs 'curl', which comes from the package curl" \
            "tests/planted_test.sh:3 runs 'kbinder-no-such-program', which is not installed here"; do
  check "the check finds a planted program" "FAIL: $want"
done

# The repository.
out=$(scan "$source")
grep '^FAIL: ' <<<"$out"
summary=$(tail -1 <<<"$out")
echo "the repository: $summary"
if [[ $summary =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
  passed=$((passed + BASH_REMATCH[1])) failures=$((failures + BASH_REMATCH[2]))
else
  failures=$((failures + 1))
fi
echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
