#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `kbinder serve` end to end, as real processes against the test API server: a batch bound with
# the three plugins, health and metrics, SIGHUP reloads (good and bad), SIGTERM mid-run, faults
# injected while binding, and two replicas where the leader is killed mid-run.
# Usage: serve_test.sh KBINDER TEST_APISERVER SOURCE_DIR
set -u
kbinder=$1 apiserver=$2 src=$3
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
failures=0 passed=0
demo=$src/config/examples/demo-cluster.yaml
profile=$src/config/profiles/default.toml
election=(--leader-elect --lease-namespace default --lease-duration-seconds 3
          --renew-deadline-seconds 2 --retry-period-seconds 0.5)

ok() { passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failures=$((failures + 1)); }
check() {  # check NAME PATTERN TEXT
  if grep -q -E -- "$2" <<<"$3"; then ok; else bad "$1: no line matching $2 in:"; sed 's/^/    /' <<<"$3"; fi
}

# start_server DIR [flags...]: the test API server with the demo cluster.
start_server() {
  local dir=$1
  shift
  mkdir -p "$dir"
  "$apiserver" --snapshot "$demo" --dir "$dir" "$@" >"$dir/server.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do grep -q '^ready ' "$dir/server.log" && return; sleep 0.1; done
  bad "the test API server did not start"
}
# start_kbinder DIR NAME [flags...]: kbinder serve against the server in DIR; pid in DIR/NAME.pid.
start_kbinder() {
  local dir=$1 name=$2
  shift 2
  "$kbinder" --log-level info serve --kubeconfig "$dir/kubeconfig" --listen-address 127.0.0.1:0 "$@" \
    >"$dir/$name.log" 2>&1 &
  echo $! >"$dir/$name.pid"
  pids+=($!)
}
phases() {  # the BindRequests' phases, one per line, as "name=phase"
  KUBECONFIG=$1/kubeconfig timeout 20 kubectl get bindrequests -n ml \
    -o jsonpath='{range .items[*]}{.metadata.name}={.status.phase}{"\n"}{end}'
}
wait_settled() {  # wait_settled DIR SECONDS: until every request is Succeeded or Failed
  local deadline=$((SECONDS + $2))
  while [ $SECONDS -lt $deadline ]; do
    if ! phases "$1" | grep -q -v -E '=(Succeeded|Failed)$'; then return 0; fi
    sleep 0.5
  done
  bad "requests still pending after $2 s: $(phases "$1" | grep -v -E '=(Succeeded|Failed)$' | tr '\n' ' ')"
  return 1
}
port_of() { grep -o 'on port [0-9]*' "$1" | head -1 | awk '{print $3}'; }
# Nothing bound twice, nothing left reserved for a pod that did not bind.
check_cluster_consistent() {
  local dir=$1 json
  json=$(KUBECONFIG=$dir/kubeconfig kubectl get pods,pv,resourceclaims -A -o json)
  local bound
  bound=$(KUBECONFIG=$dir/kubeconfig kubectl get pods -n ml -o jsonpath='{range .items[*]}{.metadata.name}={.spec.nodeName}{"\n"}{end}')
  check "demo pods that bind are bound" "^web=cpu-1$" "$bound"
  # The dra claim is reserved only for infer, which bound.
  local reserved
  reserved=$(KUBECONFIG=$dir/kubeconfig kubectl get resourceclaims -n ml -o jsonpath='{range .items[*]}{.metadata.name}:{range .status.reservedFor[*]}{.name},{end}{"\n"}{end}')
  check "infer's claim is reserved for it" "^infer-nic:infer,$" "$reserved"
  if grep -q -E '^(old-nic|busy-gpu):.*(nic-stale|gpu-raced)' <<<"$reserved"; then
    bad "a claim is reserved for a pod that failed: $reserved"
  else ok; fi
  local claimrefs
  claimrefs=$(KUBECONFIG=$dir/kubeconfig kubectl get pv -o jsonpath='{range .items[*]}{.metadata.name}:{.spec.claimRef.name}{"\n"}{end}')
  check "the static volume went to db" "^local-cpu-1-a:db-data$" "$claimrefs"
  # No request met a pod already bound by another attempt or replica.
  local reasons
  reasons=$(KUBECONFIG=$dir/kubeconfig kubectl get bindrequests -n ml -o jsonpath='{range .items[*]}{.status.reason}{"\n"}{end}')
  if grep -q 'already assigned' <<<"$reasons"; then bad "a pod was bound twice: $reasons"; else ok; fi
}

# ---- 1. a batch with all three plugins; health and metrics ----------------------------------
d=$tmp/batch
start_server "$d"
cp "$profile" "$tmp/live.toml"  # the profile file SIGHUP reloads, changed below
start_kbinder "$d" a --profile "$tmp/live.toml"
if wait_settled "$d" 120; then
  out=$(phases "$d")
  check "outcomes: 7 succeeded" "^7$" "$(grep -c '=Succeeded$' <<<"$out")"
  check "outcomes: 29 failed" "^29$" "$(grep -c '=Failed$' <<<"$out")"
  check_cluster_consistent "$d"
fi
port=$(port_of "$d/a.log")
check "/healthz" "^ok$" "$(curl -s "127.0.0.1:$port/healthz")"
check "/readyz" "^ok$" "$(curl -s "127.0.0.1:$port/readyz")"
metrics=$(curl -s "127.0.0.1:$port/metrics")
check "metrics: requests by outcome" '^kbinder_requests_total\{phase="Succeeded"\} 7$' "$metrics"
check "metrics: plugin durations" '^kbinder_plugin_duration_seconds_count\{plugin="volumebinding",extension_point="pre_bind",status="Success"\} [0-9]+$' "$metrics"
check "metrics: API requests" '^kbinder_api_requests_total\{verb="POST",code="201"\} [0-9]+$' "$metrics"
check "metrics: queue depth" '^kbinder_queue_depth 0$' "$metrics"
# Every assumption is confirmed once the pod watch shows the bindings.
for _ in $(seq 50); do
  grep -qE '^kbinder_assumed_pods 0$' <<<"$metrics" && break
  sleep 0.1
  metrics=$(curl -s "127.0.0.1:$port/metrics")
done
check "metrics: assumed pods confirmed" '^kbinder_assumed_pods 0$' "$metrics"

# ---- 2. SIGHUP: a good profile takes over, a bad one is refused ------------------------------
cat >"$tmp/live.toml" <<'TOML'
name = "no-gpu-checks"
[[plugins]]
name = "volumebinding"
TOML
kill -HUP "$(cat "$d/a.pid")"
for _ in $(seq 50); do grep -q 'now binding with profile "no-gpu-checks"' "$d/a.log" && break; sleep 0.1; done
check "SIGHUP loads the new profile" 'now binding with profile "no-gpu-checks"' "$(cat "$d/a.log")"
# A request gpuvalidator would have refused now binds.
KUBECONFIG=$d/kubeconfig kubectl delete bindrequest mps-only -n ml >/dev/null
cat >"$tmp/again.yaml" <<'YAML'
apiVersion: scheduling.run.ai/v1alpha2
kind: BindRequest
metadata: {name: mps-again, namespace: ml}
spec: {podName: mps-only, selectedNode: cpu-1}
YAML
KUBECONFIG=$d/kubeconfig kubectl create -f "$tmp/again.yaml" >/dev/null
wait_settled "$d" 30
check "the new profile bound it" "^mps-again=Succeeded$" "$(phases "$d")"
printf 'name = "x"\n[cycle]\nworkers = 0\n' >"$tmp/live.toml"
kill -HUP "$(cat "$d/a.pid")"
for _ in $(seq 50); do grep -q 'SIGHUP: keeping profile' "$d/a.log" && break; sleep 0.1; done
check "a bad profile is refused and the old one kept" \
  'SIGHUP: keeping profile "no-gpu-checks": profile .*workers. must be between 1 and 1024' "$(cat "$d/a.log")"

# ---- 3. SIGTERM: exits 0 and releases the lease ---------------------------------------------
kill -TERM "$(cat "$d/a.pid")"
wait "$(cat "$d/a.pid")"
check "SIGTERM exits 0" "^0$" "$?"

d=$tmp/term
start_server "$d"
start_kbinder "$d" a --profile "$profile" "${election[@]}" --identity a --shutdown-grace-seconds 5 \
  --log-format json
sleep 1
check "JSON logs: one object per line" \
  '^\{"time":"[0-9T:.-]+Z","level":"info","logger":"kbinder","message":"leader election: a leads"\}$' \
  "$(cat "$d/a.log")"
kill -TERM "$(cat "$d/a.pid")"
wait "$(cat "$d/a.pid")"
check "SIGTERM mid-run exits 0" "^0$" "$?"
check "the lease is released" "^\|1$" \
  "$(KUBECONFIG=$d/kubeconfig kubectl get lease kbinder -n default -o jsonpath='{.spec.holderIdentity}|{.spec.leaseDurationSeconds}')"

# ---- 4. faults injected while binding -------------------------------------------------------
d=$tmp/faults
start_server "$d" --latency-ms 2 --conflict-share 0.05 --throttle-share 0.03 --error-share 0.03 \
  --drop-share 0.02 --cut-watch-after 9
start_kbinder "$d" a --profile "$profile"
if wait_settled "$d" 240; then
  out=$(phases "$d")
  check "with faults, the binding requests still succeed" "^7$" "$(grep -c "=Succeeded$" <<<"$out")" || echo "$out" >&2
  check_cluster_consistent "$d"
fi
kill -TERM "$(cat "$d/a.pid")"

# ---- 5. two replicas; the leader is killed mid-run ------------------------------------------
d=$tmp/ha
start_server "$d" --latency-ms 20
start_kbinder "$d" a --profile "$profile" "${election[@]}" --identity a
for _ in $(seq 50); do grep -q 'a leads' "$d/a.log" && break; sleep 0.1; done
start_kbinder "$d" b --profile "$profile" "${election[@]}" --identity b
sleep 1.5
kill -9 "$(cat "$d/a.pid")"
# The lease runs out 3 s after a's last renewal; b takes it at its next try. Waited for: once
# every request is settled, nothing else shows that b leads.
for _ in $(seq 100); do grep -q 'b leads' "$d/b.log" && break; sleep 0.1; done
if wait_settled "$d" 180; then
  check "the standby took over" "b leads" "$(cat "$d/b.log")"
  out=$(phases "$d")
  check "after the takeover: 7 succeeded" "^7$" "$(grep -c '=Succeeded$' <<<"$out")"
  check_cluster_consistent "$d"
fi
kill -TERM "$(cat "$d/b.pid")"

echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
