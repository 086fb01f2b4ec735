#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The test API server's fidelity, checked with a real client: kubectl lists (with paging),
# watches, reads a missing object, reads the OpenAPI document and validates against it, binds a
# pod as the Kubernetes documentation shows, and meets 401 and 403 answers as it would from a
# real API server. Runs with the kubectl on the PATH: Debian's (1.20, which validates on the
# client with /openapi/v2 in protobuf) and current ones (which ask the server to validate) both
# pass.
# Usage: kubectl_test.sh TEST_APISERVER SOURCE_DIR
set -u
apiserver=$1 src=$2
tmp=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
# shellcheck source=../checks.sh
source "$(dirname "$0")/../checks.sh"

if ! command -v kubectl >/dev/null; then
  echo "kubectl is not installed; run scripts/install-deps.sh (it installs kubernetes-client)"
  exit 1
fi
echo "kubectl: $(kubectl version --client 2>/dev/null | head -1)"

"$apiserver" --snapshot "$src/config/examples/demo-cluster.yaml" --dir "$tmp" --forbid configmaps \
  >"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q '^ready ' "$tmp/server.log" && break; sleep 0.1; done
export KUBECONFIG=$tmp/kubeconfig
k() { timeout 30 kubectl --request-timeout=20s "$@"; }

expect "discovery and list" 0 "^node/gpu-1$" -- k get nodes -o name
expect "list namespaced objects" 0 "^bindrequest.scheduling.run.ai/web$" -- k get bindrequests -n ml -o name
expect "paged list" 0 "pods\?continue=.*&limit=5" -- k get pods -n ml --chunk-size=5 -v=6
expect "get one object as JSON" 0 '"podName": "web"' -- k get bindrequest web -n ml -o json
expect "missing object" 1 'Error from server \(NotFound\): pods "nope" not found' -- k get pod nope -n ml
expect "wrong token" 1 "Unauthorized" -- k get pods -n ml --token=wrong
expect "the OpenAPI v2 document, as JSON" 0 '"swagger":"2.0"' -- k get --raw /openapi/v2
expect "the OpenAPI v2 document describes the kinds" 0 '"x-kubernetes-group-version-kind":\[\{"group":"scheduling.run.ai","kind":"BindRequest","version":"v1alpha2"\}\]' -- \
  k get --raw /openapi/v2
expect "forbidden resource" 1 'Error from server \(Forbidden\): configmaps is forbidden: User ".*" cannot list resource "configmaps" in API group "" in the namespace "ml"' -- \
  k get configmaps -n ml

# Watch while binding: the watch sees the pod get its node.
k get pods -n ml --watch-only -o jsonpath='{.metadata.name}={.spec.nodeName}{"\n"}' >"$tmp/watch.out" 2>&1 &
watcher=$!
sleep 2
cat >"$tmp/binding.json" <<'JSON'
{"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "web"},
 "target": {"apiVersion": "v1", "kind": "Node", "name": "cpu-1"}}
JSON
expect "bind a pod with kubectl create -f binding.json" 0 "created" -- k create -n ml -f "$tmp/binding.json"
# A misspelt field is refused, by kubectl against the OpenAPI document (1.20) or by the server
# (current kubectl), and nothing is bound.
cat >"$tmp/misspelt.json" <<'JSON'
{"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "db"},
 "tagret": {"apiVersion": "v1", "kind": "Node", "name": "cpu-1"}}
JSON
expect "a Binding with a misspelt field is refused" 1 \
  'unknown field "tagret"|The pods/binding "db" is invalid' -- k create -n ml -f "$tmp/misspelt.json"
expect "the refused Binding bound nothing" 0 "^db=$" -- \
  k get pod db -n ml -o 'jsonpath={.metadata.name}={.spec.nodeName}{"\n"}'
expect "the pod is bound" 0 "^cpu-1$" -- k get pod web -n ml -o 'jsonpath={.spec.nodeName}{"\n"}'
expect "binding twice is a conflict" 1 \
  'Error from server \(Conflict\).*Operation cannot be fulfilled on pods/binding "web": pod web is already assigned to node "cpu-1"' -- \
  k create -n ml -f "$tmp/binding.json"
for _ in $(seq 50); do grep -q '^web=cpu-1$' "$tmp/watch.out" && break; sleep 0.1; done
kill "$watcher" 2>/dev/null
wait "$watcher" 2>/dev/null
expect "the watch saw the binding" 0 "^web=cpu-1$" -- cat "$tmp/watch.out"

echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
