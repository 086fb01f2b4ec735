#!/usr/bin/env bash
# Everything the build used comes from a package scripts/install-deps.sh installs (or one of
# their dependencies): every system header the compiler read (Ninja's record of them) and every
# shared library the built programs and plugins load. A header from a package installed by
# hand on this machine would pass the build here and break the quick start on a fresh one.
# Usage: install_deps_test.sh BUILD_DIR SOURCE_DIR
set -eu
build=$(realpath "$1")
source=$(realpath "$2")

listed=$(bash "$source/scripts/install-deps.sh" --list)
# The listed packages and, recursively, what they depend on (as installed here).
# shellcheck disable=SC2086
allowed=$(apt-cache depends --recurse --installed --no-recommends --no-suggests --no-conflicts \
            --no-breaks --no-replaces --no-enhances $listed 2>/dev/null |
          grep -v '^ ' | sed 's/:.*//' | sort -u)
[ -n "$allowed" ] || { echo "FAIL: apt-cache found none of: $listed"; exit 1; }

headers=$(ninja -C "$build" -t deps | sed -n 's/^ \+\(\/.*\)/\1/p' |
          grep -v -e "^$source/" -e "^$build/" | sort -u)
[ -n "$headers" ] || { echo "FAIL: Ninja recorded no system headers in $build"; exit 1; }

elves=$(find "$build/bin" "$build/lib" -type f \( -perm -u+x -o -name '*.so' \) 2>/dev/null)
libraries=$(for f in $elves; do ldd "$f" 2>/dev/null; done | awk '/=> \// {print $3}' | sort -u)
[ -n "$libraries" ] || { echo "FAIL: no shared libraries found for the programs in $build"; exit 1; }

# "PATH PACKAGE" for each path dpkg knows; /usr-merged paths are asked for both ways.
owners() {
  xargs -r dpkg-query -S 2>/dev/null | sed -n 's/^\([^:,]*\)[^ ]* \(\/.*\)$/\2 \1/p'
}
paths=$(printf '%s\n%s\n' "$headers" "$libraries")
known=$(owners <<<"$paths")
known+=$'\n'$(sed 's/^/\/usr/' <<<"$paths" | owners | sed 's/^\/usr//')

# One line per package at fault, naming the first of its files the build used.
declare -A strays=() first=()
checked=0
while read -r path; do
  checked=$((checked + 1))
  package=$(awk -v p="$path" '$1 == p {print $2; exit}' <<<"$known")
  if [ -z "$package" ]; then
    echo "FAIL: $path belongs to no Debian package: use one from the registry" \
         "and list it in scripts/install-deps.sh"
    strays[$path]=1
  elif ! grep -q -x -F "$package" <<<"$allowed"; then
    strays[$package]=$(( ${strays[$package]:-0} + 1 ))
    first[$package]=${first[$package]:-$path}
  fi
done <<<"$paths"
for package in "${!first[@]}"; do
  echo "FAIL: ${first[$package]} (and $(( strays[$package] - 1 )) more files) comes from" \
       "$package, which scripts/install-deps.sh does not install: list it there (and say why" \
       "in the README), or stop using it"
done
failures=0
for package in "${!strays[@]}"; do failures=$((failures + ${strays[$package]})); done
echo "$((checked - failures)) passed, $failures failed ($(wc -l <<<"$headers") headers," \
     "$(wc -l <<<"$libraries") libraries)"
[ "$failures" -eq 0 ]
