// SPDX-License-Identifier: Apache-2.0
// The volumebinding plugin's ABI boundary: the only file that sees abi.h.
#include <kbinder/abi.h>

#include "kbinder/sdk/plugin.h"
#include "kbinder/sdk/wire.h"
#include "volumebinding.h"

namespace {

using kbinder::plugins::volumebinding::CycleState;
using kbinder::plugins::volumebinding::VolumeBinding;
using kbinder::sdk::Call;
using kbinder::sdk::decode;

VolumeBinding& self(void* instance) {
  return *static_cast<VolumeBinding*>(instance);
}

// Whether a volume of the pod may name a claim (a claim source or an ephemeral volume): read
// from the pod's bytes, so that a pod without (most pods) is not decoded at all.
bool mayHaveClaims(kbinder_bytes pod) {
  using kbinder::sdk::wire::present;
  using kbinder::v1::Pod, kbinder::v1::PodSpec, kbinder::v1::Volume;
  return present(pod.data, pod.size,
                 {Pod::kSpecFieldNumber, PodSpec::kVolumesFieldNumber,
                  Volume::kPersistentVolumeClaimFieldNumber}) ||
         present(
             pod.data, pod.size,
             {Pod::kSpecFieldNumber, PodSpec::kVolumesFieldNumber, Volume::kEphemeralFieldNumber});
}

// Runs `body` for pods with claims; steps aside at once for pods without.
template <class Body>
kbinder_status_t hook(kbinder_call* call, const kbinder_cycle* cycle, Body&& body) {
  const Call c(kbinder::sdk::hostServices(), call);
  return kbinder::sdk::guarded(c, [&]() -> kbinder_status_t {
    if (!mayHaveClaims(cycle->pod)) return KBINDER_STATUS_SUCCESS;
    const auto pod = decode<kbinder::v1::Pod>(cycle->pod, "pod");
    if (kbinder::plugins::volumebinding::podClaimNames(pod).empty()) return KBINDER_STATUS_SUCCESS;
    const auto node = decode<kbinder::v1::Node>(cycle->node, "node");
    kbinder::sdk::HostCluster cluster(c);
    return kbinder::sdk::report(c, body(cluster, pod, node));
  });
}

kbinder_status_t reserve(void* instance, kbinder_call* call, const kbinder_cycle* cycle,
                         void** slot) {
  return hook(call, cycle, [&](auto& cluster, const auto& pod, const auto& node) {
    return self(instance).reserve(cluster, pod, node, kbinder::sdk::cycleState<CycleState>(slot));
  });
}

kbinder_status_t preBind(void* instance, kbinder_call* call, const kbinder_cycle* cycle,
                         void** slot) {
  return hook(call, cycle, [&](auto& cluster, const auto& pod, const auto& node) {
    return self(instance).preBind(cluster, pod, node, kbinder::sdk::cycleState<CycleState>(slot));
  });
}

kbinder_status_t unreserve(void* instance, kbinder_call* call, const kbinder_cycle* cycle,
                           void** slot) {
  if (*slot == nullptr) return KBINDER_STATUS_SUCCESS;  // nothing decided, nothing written
  return hook(call, cycle, [&](auto& cluster, const auto& pod, const auto&) {
    self(instance).unreserve(cluster, pod, kbinder::sdk::cycleState<CycleState>(slot));
    return kbinder::sdk::Verdict::success();
  });
}

void release(void* instance, void* state) {
  auto* s = static_cast<CycleState*>(state);
  self(instance).releaseHeld(*s);
  delete s;
}

const kbinder_plugin_descriptor kDescriptor = {
    .struct_size = sizeof(kbinder_plugin_descriptor),
    .struct_version = KBINDER_ABI_VERSION,
    .name = kbinder::plugins::volumebinding::kName,
    .version = kbinder::plugins::volumebinding::kVersion,
    .concurrency = KBINDER_CONCURRENCY_CONCURRENT,
    .reserved0 = 0,
    .create = &kbinder::sdk::createInstance<VolumeBinding>,
    .destroy = &kbinder::sdk::destroyInstance<VolumeBinding>,
    .release_cycle_state = &release,
    .validate = nullptr,
    .mutate = nullptr,
    .reserve = &reserve,
    .unreserve = &unreserve,
    .permit = nullptr,
    .pre_bind = &preBind,
    .bind = nullptr,
    .post_bind = nullptr,
    .description =
        "Binds the pod's PersistentVolumeClaims: chooses volumes or asks for "
        "provisioning, writes the binds and waits until they complete",
};

}  // namespace

extern "C" KBINDER_EXPORT const kbinder_plugin_descriptor* kbinder_plugin_v1(
    const kbinder_host_services* host, const char** error_out) {
  return kbinder::sdk::enter(host, error_out, kDescriptor);
}
