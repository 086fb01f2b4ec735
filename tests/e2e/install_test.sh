#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `cmake --install` lays out bin/kbinder and lib/kbinder/plugins/, and the installed kbinder
# finds its built-in plugins relative to itself.
# Usage: install_test.sh BUILD_DIR
set -eu
build=$1
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
for f in bin/kbinder lib/kbinder/plugins/volumebinding.so lib/kbinder/plugins/dra.so \
         lib/kbinder/plugins/gpuvalidator.so include/kbinder/abi.h \
         share/kbinder/proto/kbinder/v1/objects.proto share/kbinder/profiles/default.toml; do
  [ -e "$prefix/$f" ] || { echo "FAIL: $f is not installed"; exit 1; }
done
if ls "$prefix/lib/kbinder/plugins" | grep -q -E '^(fault_|cplugin|schema_)'; then
  echo "FAIL: test plugins were installed"; exit 1
fi
out=$("$prefix/bin/kbinder" profile check "$prefix/share/kbinder/profiles/default.toml")
grep -q -F "$prefix/lib/kbinder/plugins/volumebinding.so" <<<"$out" ||
  { echo "FAIL: the installed kbinder did not use its installed plugins:"; echo "$out"; exit 1; }
echo "1 passed, 0 failed"
