#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The host's layers, as README.md ("How the code is laid out") states them, checked on every
# #include in host/, plugins/ and abi/, and on the layers each host/<layer>/CMakeLists.txt links:
#   base <- model <- cluster <- plugin <- cycle <- cli: a layer uses only those to its left;
#   store/ and kube/ (the backends) use only base, model and cluster, never each other;
#   nothing uses cli/; plugins/<name>/ use only abi/ (kbinder/...) and their own folder;
#   abi/ uses only itself.
# Each break is named with its file, line and the rule. Before checking the tree, it checks
# itself on a planted tree, so that it cannot pass by finding nothing.
# Usage: layering_test.sh SOURCE_DIR
set -u
source=$(realpath "$1")

# scan ROOT: prints one FAIL line per break, and "checked N" last.
scan() {
  local root=$1
  (cd "$root" && find host plugins abi -type f \( -name '*.h' -o -name '*.cc' -o -name '*.c' \
     -o -name CMakeLists.txt \) 2>/dev/null | sort | xargs -r awk '
    BEGIN {
      split("base model cluster plugin cycle store kube cli", order, " ")
      for (i in order) known[order[i]] = 1
      allowed["base"] = "base"
      allowed["model"] = "base model"
      allowed["cluster"] = "base model cluster"
      allowed["plugin"] = "base model cluster plugin"
      allowed["cycle"] = "base model cluster plugin cycle"
      allowed["store"] = "base model cluster store"
      allowed["kube"] = "base model cluster kube"
      allowed["cli"] = "base model cluster plugin cycle store kube cli"
      rules = "(base <- model <- cluster <- plugin <- cycle <- cli; store/ and kube/ use only " \
              "base, model and cluster; nothing uses cli/)"
      checked = 0
    }
    function may(layer, other,    n, i, list) {
      n = split(allowed[layer], list, " ")
      for (i = 1; i <= n; i++) if (list[i] == other) return 1
      return 0
    }
    function list_of(layer,    s) { s = allowed[layer]; gsub(/ /, "/, ", s); return s "/" }
    function fail(what) { print "FAIL: " FILENAME ":" FNR ": " what; failures++ }
    FNR == 1 {
      split(FILENAME, part, "/")
      zone = part[1]; layer = part[2]; cmake = part[3] == "CMakeLists.txt"
      if (zone == "host" && part[3] != "" && !(layer in known))
        fail("host/" layer "/ is not a layer: add it to the rules (README.md and this test) or move its files into one")
    }
    # A host layer library links only the layers it may use.
    cmake && zone == "host" && (layer in known) {
      line = $0
      if (line ~ /USES/) uses = 1
      if (uses) {
        sub(/.*USES/, "", line)
        stop = line ~ /(LIBRARIES|\))/
        sub(/(LIBRARIES|\)).*/, "", line)
        n = split(line, words, /[ \t]+/)
        for (i = 1; i <= n; i++) {
          if (words[i] == "") continue
          checked++
          if (!may(layer, words[i]))
            fail("the " layer " library uses " words[i] ", but " layer "/ may use only " list_of(layer) " " rules)
        }
        if (stop) uses = 0
      }
      next
    }
    cmake { next }
    /^[ \t]*#[ \t]*include[ \t]*["<]/ {
      target = $0
      sub(/^[ \t]*#[ \t]*include[ \t]*["<]/, "", target)
      sub(/[">].*/, "", target)
      checked++
      if (zone == "host") {
        if (target ~ /^host\//) {
          split(target, t, "/")
          if (!(t[2] in known)) fail("includes " target ", which is in no layer")
          else if (!may(layer, t[2]))
            fail("includes " target ", but " layer "/ may use only " list_of(layer) " " rules)
        } else if (target ~ /^plugins\//) {
          fail("includes " target ": the host never uses a plugin'"'"'s code, only the ABI")
        }
      } else if (zone == "plugins") {
        if (target ~ /^(host|plugins)\//)
          fail("includes " target ", but a plugin uses only abi/ (kbinder/...) and its own folder")
      } else if (zone == "abi") {
        if (target ~ /^(host|plugins)\//) fail("includes " target ", but abi/ uses only itself")
      }
    }
    END { print "checked " checked }')
}

# shellcheck source=../checks.sh
source "$(dirname "$0")/../checks.sh"  # check, $passed, $failures

# The check itself, on a planted tree: every break found, a clean file passes.
plant=$(mktemp -d)
trap 'rm -rf "$plant"' EXIT
mkdir -p "$plant"/host/{base,model,cycle,store,kube,cli,extra} "$plant/plugins/p" "$plant/abi/include"
printf '#include "host/cluster/object_services.h"\n' >"$plant/host/model/a.h"
printf '#include <vector>\n\n#include "host/kube/kube_client.h"\n' >"$plant/host/store/b.cc"
printf '#include "host/store/embedded_store.h"\n' >"$plant/host/cycle/c.cc"
printf '#include "host/cli/commands.h"\n' >"$plant/host/base/d.cc"
printf '#include "host/base/status.h"\n' >"$plant/plugins/p/e.cc"
printf '#include "plugins/dra/dra.h"\n' >"$plant/host/cli/f.cc"
printf '#include "host/base/status.h"\n' >"$plant/abi/include/g.h"
printf 'x\n' >"$plant/host/extra/h.h"
printf 'kbinder_layer(kube\n  SOURCES k.cc\n  USES base model cluster store\n  LIBRARIES CURL::libcurl)\n' \
  >"$plant/host/kube/CMakeLists.txt"
printf '#include "host/plugin/loaded_profile.h"\n#include "kbinder/abi.h"\n#include <string>\n' \
  >"$plant/host/cycle/clean.cc"
out=$(scan "$plant")
for want in \
  "host/model/a.h:1: includes host/cluster/object_services.h, but model/ may use only base/, model/" \
  "host/store/b.cc:3: includes host/kube/kube_client.h, but store/ may use only base/, model/, cluster/, store/" \
  "host/cycle/c.cc:1: includes host/store/embedded_store.h, but cycle/" \
  "host/base/d.cc:1: includes host/cli/commands.h, but base/ may use only base/" \
  "plugins/p/e.cc:1: includes host/base/status.h, but a plugin uses only abi/" \
  "host/cli/f.cc:1: includes plugins/dra/dra.h: the host never uses a plugin's code" \
  "abi/include/g.h:1: includes host/base/status.h, but abi/ uses only itself" \
  "host/extra/h.h:1: host/extra/ is not a layer" \
  "host/kube/CMakeLists.txt:3: the kube library uses store, but kube/ may use only base/, model/, cluster/, kube/"; do
  check "the check finds a planted break" "FAIL: $want"
done
if grep -q 'clean.cc' <<<"$out"; then
  echo "FAIL: the check refused a file that keeps the rules:"
  grep 'clean.cc' <<<"$out" | sed 's/^/    /'
  failures=$((failures + 1))
else
  passed=$((passed + 1))
fi

# The tree.
out=$(scan "$source")
checked=$(sed -n 's/^checked //p' <<<"$out")
breaks=$(grep -c '^FAIL: ' <<<"$out")
if [ "$breaks" -gt 0 ]; then
  grep '^FAIL: ' <<<"$out"
  failures=$((failures + breaks))
elif [ "${checked:-0}" -lt 100 ]; then
  echo "FAIL: only ${checked:-0} includes found in $source/host, plugins and abi: is this the source tree?"
  failures=$((failures + 1))
else
  passed=$((passed + checked))
fi
echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
