#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kbinder-bench works end to end on a small synthetic cluster: every request bound on the
# embedded store (YAML and JSON snapshots, the default and the empty profile) and against the
# test API server over HTTPS (several worker counts, a QPS limit), and bad options refused.
# Speed is not checked here (see bench/README.md), only that every figure is produced.
# Usage: load_generator_test.sh KBINDER_BENCH
set -u
bench=$1
# shellcheck source=../checks.sh
source "$(dirname "$0")/../checks.sh"

run 0 "$bench" --nodes 20 --pods 300 --format yaml
check "the mix" "^synthetic cluster: 20 nodes, 300 pods \(246 plain, 12 with a volume to provision, 6 with a local volume to bind, 12 with a resource claim, 12 fractional-GPU, 12 whole-GPU\)$"
check "default profile" "^embedded store, profile default \(3 plugins\), 16 workers$"
check "every request bound" "^  binds +300 succeeded, 0 not, in [0-9.]+ s: [0-9]+ binds/s$"
check "latencies" "^  cycles +300: p50 [0-9.]+ ms, p99 [0-9.]+ ms, max [0-9.]+ ms$"
check "host share" "^  host share +[0-9.]+ % of cycle time"
check "CPU" "^  CPU +[0-9.]+ s over [0-9.]+ s: [0-9]+ us per bind"
check "memory" "^  peak RSS +[0-9]+ MiB"
check "load" "^  snapshot load +[0-9.]+ s \([0-9]+ MB: read and parsed"
check "write-back" "^  snapshot write +[0-9.]+ s"

run 0 "$bench" --nodes 20 --pods 200 --format json --profile empty --workers 1,4
check "host alone" "^embedded store, profile empty \(0 plugins\), 1 workers$"
check "one run per worker count" "^embedded store, profile empty \(0 plugins\), 4 workers$"
check "host alone binds all" "^  binds +200 succeeded, 0 not"
check "no plugin time" "^  host share +100.0 %"

run 0 "$bench" --backend apiserver --nodes 20 --pods 200 --latency-ms 1 --workers 4,8 --qps 500
check "over HTTPS with latency and a QPS limit" "^test API server over HTTPS, 1 ms per request, QPS limit 500; profile default \(3 plugins\), 8 workers$"
check "every request bound through the API" "^  binds +200 succeeded, 0 not"
check "calls per bind" "^  API calls +[0-9]+ \(GET 200 [0-9.]+,.*per bind\)$"
check "the bound" "^  API bound +8 workers / \([0-9.]+ calls x 1 ms\) = [0-9]+ binds/s; reached [0-9]+ %$"
check "both processes' CPU" "^  CPU +kbinder [0-9.]+ s .* API server [0-9.]+ s"

run 105 "$bench" --nodes 1
check "too few nodes" "--nodes: Value 1 not in range 2"
run 1 "$bench" --nodes 20 --pods 20 --profile /nonexistent/profile.toml
check "missing profile" "kbinder-bench: profile /nonexistent/profile.toml: cannot read it"
run 1 "$bench" --nodes 20 --pods 20 --backend apiserver --apiserver /nonexistent/apiserver
check "missing API server" "cannot start the test API server /nonexistent/apiserver: .*pass --apiserver"

echo "$passed checks passed, $failures failed"
[ "$failures" -eq 0 ]
