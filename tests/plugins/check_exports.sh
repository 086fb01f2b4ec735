#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fails if a well-formed plugin exports a dynamic symbol other than its entry symbol.
# Usage: check_exports.sh DIR...   (deliberately faulty fault_*.so fixtures are skipped)
set -u
status=0
checked=0
for dir in "$@"; do
  for so in "$dir"/*.so; do
    [ -e "$so" ] || continue
    case "$(basename "$so")" in fault_*) continue ;; esac
    checked=$((checked + 1))
    extra=$(nm -D --defined-only "$so" | awk '{print $NF}' |
      grep -v -x -E 'kbinder_plugin_v1|_init|_fini|_edata|_end|__bss_start' || true)
    if [ -n "$extra" ]; then
      echo "FAIL: $so exports more than kbinder_plugin_v1:"
      echo "$extra" | head -20 | sed 's/^/    /'
      status=1
    elif ! nm -D --defined-only "$so" | grep -q ' kbinder_plugin_v1$'; then
      echo "FAIL: $so does not export kbinder_plugin_v1"
      status=1
    else
      echo "ok: $so"
    fi
  done
done
if [ "$checked" -eq 0 ]; then
  echo "FAIL: no plugins found in $*"
  exit 1
fi
exit $status
