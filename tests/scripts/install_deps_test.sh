#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
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

# Each path's package, as dpkg knows it; /usr-merged paths are asked for both ways.
owners() {
  xargs -r dpkg-query -S 2>/dev/null | sed -n 's/^\([^:,]*\)[^ ]* \(\/.*\)$/\2 \1/p'
}
paths=$(printf '%s\n%s\n' "$headers" "$libraries")
declare -A owner=() allowed_set=()
while read -r path package; do owner[$path]=$package; done < <(
  owners <<<"$paths"
  sed 's/^/\/usr/' <<<"$paths" | owners | sed 's/^\/usr//')
while read -r package; do allowed_set[$package]=1; done <<<"$allowed"

# One line per package at fault, naming the first of its files the build used.
declare -A count=() first=()
checked=0 failures=0
while read -r path; do
  checked=$((checked + 1))
  package=${owner[$path]:-}
  if [ -z "$package" ]; then
    echo "FAIL: $path belongs to no Debian package: use one from the registry" \
         "and list it in scripts/install-deps.sh"
    failures=$((failures + 1))
  elif [ -z "${allowed_set[$package]:-}" ]; then
    count[$package]=$(( ${count[$package]:-0} + 1 ))
    first[$package]=${first[$package]:-$path}
    failures=$((failures + 1))
  fi
done <<<"$paths"
for package in "${!first[@]}"; do
  echo "FAIL: ${first[$package]} (and $(( count[$package] - 1 )) more files) comes from" \
       "$package, which scripts/install-deps.sh does not install: list it there (and say why" \
       "in the README), or stop using it"
done
echo "$((checked - failures)) passed, $failures failed ($(wc -l <<<"$headers") headers," \
     "$(wc -l <<<"$libraries") libraries)"
[ "$failures" -eq 0 ]
