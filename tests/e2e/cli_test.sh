#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The kbinder command line as an operator runs it: output, messages and exit codes.
# Usage: cli_test.sh KBINDER SOURCE_DIR TEST_PLUGIN_DIR ALLOCATOR (jemalloc or glibc: what the
# build linked kbinder with)
set -u
kbinder=$1 src=$2 plugins=$3 allocator=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=../checks.sh
source "$(dirname "$0")/../checks.sh"

expect "help lists the commands" 0 "profile +Work with profiles" -- "$kbinder" --help
expect "profile check has help" 0 "Usage: .*profile check" -- "$kbinder" profile check --help
expect "plugin inspect has help" 0 "Usage: .*plugin inspect" -- "$kbinder" plugin inspect --help
if [ "$allocator" = jemalloc ]; then
  expect "version" 0 "^0\.[0-9]+\.[0-9]+ \(plugin ABI 1\.3, allocator jemalloc [0-9]+\.[0-9]+\.[0-9]+\)$" -- \
    "$kbinder" --version
  # kbinder's own jemalloc options are in effect (host/base/malloc_conf.cc); the statistics
  # jemalloc prints at exit on request name them.
  expect "jemalloc returns freed pages after a second" 0 "opt\.dirty_decay_ms: 1000 " -- \
    env MALLOC_CONF=stats_print:true "$kbinder" --version
else
  expect "version" 0 "^0\.[0-9]+\.[0-9]+ \(plugin ABI 1\.3, allocator glibc malloc\)$" -- "$kbinder" --version
fi
expect "no command is a usage error" 2 "A subcommand is required" -- "$kbinder"
expect "unknown option is a usage error" 2 "--bogus" -- "$kbinder" profile check --bogus x.toml
expect "bad log level" 2 "unknown log level 'loud'" -- \
  "$kbinder" --log-level loud profile check "$src/config/profiles/default.toml"

expect "default profile checks" 0 "^profile OK$" -- \
  "$kbinder" profile check "$src/config/profiles/default.toml"
expect "default profile plan lists the plugins in order" 0 \
  "^  3\. dra 0\.2\.0  ABI 1\.3, concurrent$" -- \
  "$kbinder" profile check "$src/config/profiles/default.toml"
expect "default profile plan shows the built-ins' hooks" 0 \
  "^  pre_bind:  gpuvalidator > volumebinding > dra$" -- \
  "$kbinder" profile check "$src/config/profiles/default.toml"
expect "a plugin's own hook timeout is shown" 0 \
  "^  2\. volumebinding 0\.2\.0  ABI 1\.3, concurrent, hook timeout 660s$" -- \
  "$kbinder" profile check "$src/config/profiles/default.toml"
expect "other shipped profile checks" 0 "gpuvalidator \(disabled\)" -- \
  "$kbinder" profile check "$src/config/profiles/storage-only.toml"

cat >"$tmp/order.toml" <<TOML
name = "order"
[[plugins]]
name = "cplugin"
[[plugins]]
name = "cplugin-concurrent"
library = "cplugin_concurrent.so"
TOML
expect "--plugin-dir is searched" 0 "^  unreserve: cplugin-concurrent > cplugin   \(reverse order\)$" -- \
  "$kbinder" profile check --plugin-dir "$plugins" "$tmp/order.toml"
expect "plugin not found lists where it looked" 1 \
  "plugin 'cplugin': library 'cplugin.so' not found in \[$tmp, .*/lib/kbinder/plugins\]" -- \
  "$kbinder" profile check "$tmp/order.toml"

printf 'name = "x"\n[cycle]\nworkers = -3\n' >"$tmp/bad.toml"
expect "bad profile value has a position" 1 \
  "^kbinder: profile $tmp/bad.toml:3:11: 'workers' must be between 1 and 1024, got -3$" -- \
  "$kbinder" profile check "$tmp/bad.toml"
printf 'name = [\n' >"$tmp/broken.toml"
expect "invalid TOML has a position" 1 "^kbinder: profile $tmp/broken.toml:[0-9]+:[0-9]+: invalid TOML" -- \
  "$kbinder" profile check "$tmp/broken.toml"
expect "missing profile" 1 "^kbinder: profile $tmp/none.toml: cannot read it: No such file" -- \
  "$kbinder" profile check "$tmp/none.toml"
expect "profile that is a directory" 1 "^kbinder: profile $tmp: is a directory; name a .toml file$" -- "$kbinder" profile check "$tmp"
printf '\x00\xff\xfe garbage' >"$tmp/binary.toml"
expect "binary garbage profile" 1 "^kbinder: profile $tmp/binary.toml:" -- \
  "$kbinder" profile check "$tmp/binary.toml"

expect "inspect a built-in plugin" 0 "^hooks: +\(none\)$|^hooks: +[a-z_, ]+$" -- \
  "$kbinder" plugin inspect "$(dirname "$kbinder")/../lib/kbinder/plugins/dra.so"
expect "inspect the C plugin" 0 \
  "^hooks: +validate, mutate, reserve, unreserve, permit, pre_bind, bind, post_bind$" -- \
  "$kbinder" plugin inspect "$plugins/cplugin.so"
expect "inspect the README's minimal plugin" 0 "^hooks: +reserve, unreserve$" -- \
  "$kbinder" plugin inspect "$plugins/minimal.so"
expect "inspect shows concurrency" 0 "^concurrency: +serialized$" -- \
  "$kbinder" plugin inspect "$plugins/cplugin.so"
expect "inspect shows the ABI" 0 "^ABI: +1\.0 \(this host: 1\.3\)$" -- \
  "$kbinder" plugin inspect "$plugins/fault_old_minor.so"
expect "inspect a newer-minor plugin" 1 "needs kbinder ABI 1\.99, but this host provides 1\.3" -- \
  "$kbinder" plugin inspect "$plugins/fault_newer_minor.so"
expect "inspect a v2 plugin" 1 "it exports kbinder_plugin_v2" -- \
  "$kbinder" plugin inspect "$plugins/fault_v2_only.so"
expect "inspect a malformed plugin" 1 "malformed descriptor: plugin 'faulty' has reserve without unreserve" -- \
  "$kbinder" plugin inspect "$plugins/fault_reserve_only.so"
expect "inspect a missing file" 1 "^kbinder: plugin library $tmp/none.so: no such file$" -- \
  "$kbinder" plugin inspect "$tmp/none.so"
head -c 4096 /dev/zero | tr '\0' 'x' >"$tmp/text.so"
expect "inspect a directory" 1 "^kbinder: plugin library $tmp: not a regular file; name the plugin's \.so file$" -- \
  "$kbinder" plugin inspect "$tmp"
expect "inspect a non-ELF file" 1 "cannot be loaded: .*invalid ELF header" -- \
  "$kbinder" plugin inspect "$tmp/text.so"

# serve: the Deployment's arguments parse; a missing kubeconfig is named.
expect "serve with the Deployment's arguments" 1 "^kbinder: kubeconfig $tmp/none cannot be read" -- \
  "$kbinder" --log-level=info serve --profile="$src/config/profiles/default.toml" --leader-elect \
  --identity=kbinder-0 --listen-address=127.0.0.1:0 --shutdown-grace-seconds=45 --log-format=json \
  --kubeconfig "$tmp/none"
expect "serve refuses impossible lease timings" 2 "lease duration > renew deadline > retry period" -- \
  "$kbinder" serve --profile="$src/config/profiles/default.toml" --leader-elect \
  --lease-duration-seconds 5 --renew-deadline-seconds 10
expect "serve refuses an unknown log format" 2 "unknown log format 'xml'" -- \
  "$kbinder" serve --profile="$src/config/profiles/default.toml" --log-format xml
expect "serve with a bad profile" 1 "^kbinder: profile .*bad.toml:3:11" -- \
  "$kbinder" serve --profile "$tmp/bad.toml"

echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
