#!/usr/bin/env bash
# Every program a script in the repository runs (the suite's scripts, scripts/, bench/, .ci/) is
# one that scripts/install-deps.sh installs, or part of every Debian system (the packages of
# priority "required" and apt, which even `debootstrap --variant=minbase` installs), or a shell
# builtin or function. A program installed by hand on this machine would pass the suite here and
# fail it on a fresh one. And each PROGRAM:PACKAGE that install-deps.sh lists is true of the
# package where it is installed.
# Usage: install_deps_programs_test.sh SOURCE_DIR
set -eu
source=$(realpath "$1")
here=$(dirname "$(realpath "$0")")

# fresh-machine-check.sh is left out: it runs on the developer's machine, not on the fresh one,
# and says itself what it needs there (debootstrap, git).
mapfile -t scripts < <(find "$source/scripts" "$source/tests" "$source/bench" "$source/.ci" \
  -type f \( -name '*.sh' -o -path '*/.ci/run' \) -not -name fresh-machine-check.sh | sort)
[ ${#scripts[@]} -gt 0 ] || { echo "FAIL: no scripts found under $source"; exit 1; }

declare -A listed=() functions=() base=() builtin=()
while read -r program package; do listed[$program]=$package; done < <(
  bash "$source/scripts/install-deps.sh" --programs)
[ ${#listed[@]} -gt 0 ] || { echo "FAIL: install-deps.sh --programs listed nothing"; exit 1; }
while read -r word; do builtin[$word]=1; done < <(compgen -b; compgen -k)
while read -r package priority essential; do
  if [ "$priority" = required ] || [ "$essential" = yes ]; then base[$package]=1; fi
done < <(dpkg-query -W -f='${Package} ${Priority} ${Essential}\n')
base[apt]=1  # debootstrap's minbase: the required packages and apt

found=$(awk -f "$here/script_commands.awk" "${scripts[@]}")
while read -r _ name; do functions[$name]=1; done < <(grep '^function ' <<<"$found")

# Each command once, with the first place that runs it.
declare -A first=()
while read -r where word; do
  [ -n "${first[$word]:-}" ] || first[$word]=$where
done < <(grep -v '^function ' <<<"$found")
[ ${#first[@]} -gt 0 ] || { echo "FAIL: found no commands in ${#scripts[@]} scripts"; exit 1; }

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

checked=0 failures=0
for word in $(printf '%s\n' "${!first[@]}" | sort); do
  checked=$((checked + 1))
  [ -n "${builtin[$word]:-}" ] && continue
  [ -n "${functions[$word]:-}" ] && continue
  [ -n "${listed[$word]:-}" ] && continue
  where=${first[$word]#"$source/"}
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
[ "$failures" -eq 0 ]
