#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `kbinder run` as an operator runs it: the shipped demo's outcomes, --out, --strict, and every
# kind of bad input giving a clear message, a non-zero exit and nothing written to --out.
# Usage: run_test.sh KBINDER SOURCE_DIR
set -u
kbinder=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=../checks.sh
source "$(dirname "$0")/../checks.sh"
profile="$src/config/profiles/default.toml"
demo="$src/config/examples/demo-cluster.yaml"

# ---- the demo, with the default profile --------------------------------------------------
run 0 "$kbinder" run --profile "$profile" --cluster "$demo" --out "$tmp/final.yaml"
check "plain pod binds"            "^ml/web +web +cpu-1 +Succeeded +1 +-$"
check "volume pod binds"           "^ml/db +db +cpu-1 +Succeeded +1 "
check "provisioning pod binds"     "^ml/cache +cache +cpu-1 +Succeeded +1 "
check "claim pod binds"            "^ml/infer +infer +gpu-1 +Succeeded +1 "
check "fractional GPU pod binds"   "^ml/frac +frac +gpu-1 +Succeeded +1 "
check "whole GPU pod binds"        "^ml/train +train +gpu-1 +Succeeded +1 "
check "already bound succeeds"     "^ml/metrics +metrics +cpu-1 +Succeeded +1 +pod already bound to cpu-1$"
check "cordoned node fails after its backoffLimit" \
  "^ml/batch +batch +cpu-2 +Failed +2 +assume: node cpu-2 is cordoned \(spec\.unschedulable\)$"
check "untolerated taint fails" \
  "^ml/render +render +gpu-1 +Failed +1 +assume: node gpu-1 has taint nvidia\.com/gpu=present:NoSchedule that the pod does not tolerate$"
check "full node fails" \
  "^ml/finetune +finetune +gpu-2 +Failed +1 +assume: node gpu-2 has too little room \(nvidia\.com/gpu: requested 2, 0 of 2 free\)$"
check "pod bound elsewhere fails" \
  "^ml/etl +etl +gpu-2 +Failed +1 +pod is bound to node cpu-1, not the selected node gpu-2$"
check "deleted pod fails"          "^ml/report +report +cpu-1 +Failed +1 +pod ml/report not found \(deleted\)$"
check "events are shown"           "^Warning +BindFailed +pod/batch +Gave up binding pod batch \(backoffLimit 2 reached\)"
check "success events are shown"   "^Normal +Bound +pod/web +Bound pod web to node cpu-1$"
check "volumebinding: Immediate claim unbound" \
  "^ml/archive .* Failed +1 +reserve volumebinding: Unschedulable: claim ml/archive-data uses Immediate binding"
check "volumebinding: nothing fits" \
  "^ml/warehouse .* Failed +1 +reserve volumebinding: Unschedulable: no volume available for claim ml/warehouse-data on node cpu-1"
check "volumebinding: bound volume out of reach" \
  "^ml/resume .* Failed +1 +reserve volumebinding: Unschedulable: claim ml/checkpoints: its volume local-gpu-2-a has a node affinity that does not admit node cpu-1$"
check "volumebinding: claim missing" \
  "^ml/orphan .* Failed +1 +reserve volumebinding: Unschedulable: claim ml/never-created not found$"
check "dra: template claim not created" \
  "^ml/nic-template .* Failed +1 +reserve dra: Unschedulable: the ResourceClaim for pod claim \"nic\" \(from template \"rdma-nic\"\) is not created yet"
check "dra: unknown claim"     "^ml/nic-typo .* Failed +1 +reserve dra: UnschedulableAndUnresolvable: BindRequest resourceClaimAllocations names claim \"rdma\""
check "dra: empty allocation"  "^ml/nic-empty .* Failed +1 +reserve dra: UnschedulableAndUnresolvable: .* has an empty allocation$"
check "dra: claim deleting"    "^ml/nic-stale .* Failed +1 +reserve dra: Unschedulable: ResourceClaim ml/old-nic \(pod claim \"nic\"\) is being deleted$"
check "dra: allocated elsewhere" "^ml/gpu-raced .* Failed +1 +reserve dra: Unschedulable: .* was allocated elsewhere in the meantime$"
for rule in "mps-only .*mps: \"true\" needs a fractional GPU request" \
            "frac-and-whole .*gpu-fraction cannot be combined with a nvidia.com/gpu limit" \
            "mem-and-frac .*gpu-memory cannot be combined with gpu-fraction" \
            "mem-and-whole .*gpu-memory cannot be combined with a nvidia.com/gpu limit" \
            "devices-only .*gpu-fraction-num-devices needs gpu-fraction or gpu-memory" \
            "mem-units .*gpu-memory must be a positive integer" \
            "frac-percent .*gpu-fraction must be a decimal number strictly between 0 and 1" \
            "devices-zero .*gpu-fraction-num-devices must be a positive integer" \
            "half-gpu-limit .*must be a whole number of GPUs" \
            "frac-as-regular .*receivedResourceType is \"Regular\" but the pod asks for a GPU fraction" \
            "frac-portion .*receivedGPU.portion \"0.50\" does not match the pod's gpu-fraction \"0.25\"" \
            "frac-count .*receivedGPU.count 2 does not match the 1 fractional device" \
            "frac-devices .*selectedGPUGroups has 1 group\(s\) for the 2 fractional device" \
            "whole-count .*receivedGPU.count 1 does not match the pod's nvidia.com/gpu limits \(2\)"; do
  check "gpuvalidator: $rule" "^ml/${rule%% *} .* Failed +1 +validate: gpuvalidator: ${rule#* }"
done
check "gpuvalidator: node without GPUs" \
  "^ml/frac-on-cpu .* Failed +1 +pre_bind gpuvalidator: Unschedulable: node cpu-1 has 0 nvidia.com/gpu allocatable, fewer than the 1 granted$"
check "summary"                    "^36 requests: 7 succeeded, 29 failed, 0 pending \([0-9.]+s\)$"
check "out is written"             "^final state written to $tmp/final.yaml$"

final=$(cat "$tmp/final.yaml" 2>/dev/null)
out=$final
check "final state has the binding"       "^  nodeName: cpu-1$"
check "final state keeps unmodeled kinds" "^kind: ConfigMap$"
check "final state keeps unmodeled fields" "^      httpGet:$"
check "final state has the status"        "^  phase: Succeeded$"
check "final state has the events"        "^kind: Event$"
check "the static volume is bound"        "^  volumeName: local-cpu-1-a$"
check "the provisioned volume is bound"   "^  volumeName: pvc-"
check "the fraction pod is labelled"      "^    runai-gpu-group: 3f8c2d1e-frac$"
check "the claim is reserved for infer"   "^  - resource: pods$"
check "final state is multi-document YAML" "^---$"

# The final state is a snapshot too: nothing is left to do in it.
run 0 "$kbinder" run --profile "$profile" --cluster "$tmp/final.yaml"
check "a finished snapshot has nothing to do" "^36 requests: 7 succeeded, 29 failed, 0 pending"
check "nothing ran again"                      "^ml/web +web +cpu-1 +Succeeded +0 +-$"

# On a terminal (script(1) gives it one), a progress line shows while requests run.
run 0 script -qec "$kbinder run --profile $profile --cluster $demo" /dev/null
check "progress on a terminal" "kbinder: [0-9]+/36 requests settled"
run 0 "$kbinder" run --profile "$profile" --cluster "$demo"
if grep -q "requests settled" <<<"$out"; then
  echo "FAIL: progress shown when not on a terminal"
  failures=$((failures + 1))
fi

run 3 "$kbinder" run --strict --profile "$profile" --cluster "$demo"
check "--strict exits 3 when a request failed" "^36 requests: 7 succeeded, 29 failed"

# JSON in, JSON out (a List, as kubectl get -o json prints it).
cat >"$tmp/small.json" <<'JSON'
{"apiVersion": "v1", "kind": "List", "items": [
 {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
  "status": {"allocatable": {"cpu": "2", "pods": "10"}, "conditions": [{"type": "Ready", "status": "True"}]}},
 {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
  "spec": {"containers": [{"name": "c", "image": "i", "resources": {"requests": {"cpu": "1"}}}]}},
 {"apiVersion": "scheduling.run.ai/v1alpha2", "kind": "BindRequest",
  "metadata": {"name": "r", "namespace": "default"}, "spec": {"podName": "p", "selectedNode": "n1"}}]}
JSON
run 0 "$kbinder" run --strict --profile "$profile" --cluster "$tmp/small.json" --out "$tmp/small-out.json"
check "JSON snapshot runs" "^1 requests: 1 succeeded, 0 failed, 0 pending"
out=$(cat "$tmp/small-out.json")
check "JSON out is a List" '^    "kind": "List",$'
check "JSON out has the binding" '"nodeName": "n1"'

# ---- bad input: a clear message, exit 1, nothing written -----------------------------------
rm -f "$tmp/bad-out.yaml"
bad() {
  local name=$1 pattern=$2
  shift 2
  run 1 "$kbinder" run --profile "$@" --out "$tmp/bad-out.yaml"
  check "$name" "$pattern"
  if [ -e "$tmp/bad-out.yaml" ] || ls "$tmp" | grep -q '\.tmp-'; then
    echo "FAIL: $name: --out was written"
    failures=$((failures + 1))
  fi
}
bad "missing snapshot" "^kbinder: cannot read $tmp/none\.yaml: No such file or directory$" \
  "$profile" --cluster "$tmp/none.yaml"
bad "snapshot is a directory" "^kbinder: $tmp: is a directory, not a manifest file$" \
  "$profile" --cluster "$tmp"
printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: p\n' >"$tmp/broken.yaml"
bad "invalid YAML has a position" "^kbinder: $tmp/broken\.yaml:[0-9]+:[0-9]+: invalid YAML" \
  "$profile" --cluster "$tmp/broken.yaml"
printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: {name: c}\n' >"$tmp/wrong.yaml"
bad "invalid object names the object and field" \
  "^kbinder: $tmp/wrong\.yaml: Pod default/p: spec\.containers: expected a list, found an object$" \
  "$profile" --cluster "$tmp/wrong.yaml"
printf 'apiVersion: v1\nkind: Pod\n' >"$tmp/noname.yaml"
bad "object without a name" "document 1: Pod has no metadata\.name" \
  "$profile" --cluster "$tmp/noname.yaml"
printf 'name = "x"\n[cycle]\nworkers = 0\n' >"$tmp/bad.toml"
bad "bad profile" "^kbinder: profile $tmp/bad\.toml:3:11: .workers. must be between 1 and 1024" "$tmp/bad.toml" --cluster "$demo"
run 1 "$kbinder" run --profile "$profile" --cluster "$demo" --out "$tmp/no/such/dir/out.yaml"
check "--out in a missing directory is refused before running" "directory $tmp/no/such/dir does not exist"
run 2 "$kbinder" run --cluster "$demo"
check "--profile is required" "--profile is required"

echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
