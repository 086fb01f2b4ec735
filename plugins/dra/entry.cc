// SPDX-License-Identifier: Apache-2.0
// The dra plugin's ABI boundary: the only file that sees abi.h.
#include <kbinder/abi.h>

#include "dra.h"
#include "kbinder/sdk/plugin.h"
#include "kbinder/sdk/wire.h"

namespace {

using kbinder::plugins::dra::CycleState;
using kbinder::plugins::dra::Dra;
using kbinder::sdk::Call;
using kbinder::sdk::decode;

const Dra& self(void* instance) {
  return *static_cast<const Dra*>(instance);
}

template <class Body>
kbinder_status_t hook(kbinder_call* call, const kbinder_cycle* cycle, Body&& body) {
  const Call c(kbinder::sdk::hostServices(), call);
  return kbinder::sdk::guarded(c, [&]() -> kbinder_status_t {
    // Most requests carry no claim allocation: that is read from their bytes, undecoded.
    using kbinder::v1::BindRequest, kbinder::v1::BindRequestSpec;
    if (!kbinder::sdk::wire::present(cycle->bind_request.data, cycle->bind_request.size,
                                     {BindRequest::kSpecFieldNumber,
                                      BindRequestSpec::kResourceClaimAllocationsFieldNumber})) {
      return KBINDER_STATUS_SUCCESS;
    }
    const auto request = decode<kbinder::v1::BindRequest>(cycle->bind_request, "bind request");
    const auto pod = decode<kbinder::v1::Pod>(cycle->pod, "pod");
    kbinder::sdk::HostCluster cluster(c);
    return kbinder::sdk::report(c, body(cluster, pod, request));
  });
}

kbinder_status_t reserve(void* instance, kbinder_call* call, const kbinder_cycle* cycle,
                         void** slot) {
  return hook(call, cycle, [&](auto& cluster, const auto& pod, const auto& request) {
    return self(instance).reserve(cluster, pod, request,
                                  kbinder::sdk::cycleState<CycleState>(slot));
  });
}

kbinder_status_t preBind(void* instance, kbinder_call* call, const kbinder_cycle* cycle,
                         void** slot) {
  return hook(call, cycle, [&](auto& cluster, const auto& pod, const auto& request) {
    return self(instance).preBind(cluster, pod, request,
                                  kbinder::sdk::cycleState<CycleState>(slot));
  });
}

kbinder_status_t unreserve(void* instance, kbinder_call* call, const kbinder_cycle* cycle,
                           void** slot) {
  if (*slot == nullptr) return KBINDER_STATUS_SUCCESS;  // nothing resolved, nothing written
  return hook(call, cycle, [&](auto& cluster, const auto& pod, const auto&) {
    self(instance).unreserve(cluster, pod, kbinder::sdk::cycleState<CycleState>(slot));
    return kbinder::sdk::Verdict::success();
  });
}

void release(void*, void* state) {
  delete static_cast<CycleState*>(state);
}

const kbinder_plugin_descriptor kDescriptor = {
    .struct_size = sizeof(kbinder_plugin_descriptor),
    .struct_version = KBINDER_ABI_VERSION,
    .name = kbinder::plugins::dra::kName,
    .version = kbinder::plugins::dra::kVersion,
    .concurrency = KBINDER_CONCURRENCY_CONCURRENT,
    .reserved0 = 0,
    .create = &kbinder::sdk::createInstance<Dra>,
    .destroy = &kbinder::sdk::destroyInstance<Dra>,
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
        "Writes the request's dynamic resource claim allocations and reserves the claims",
};

}  // namespace

extern "C" KBINDER_EXPORT const kbinder_plugin_descriptor* kbinder_plugin_v1(
    const kbinder_host_services* host, const char** error_out) {
  return kbinder::sdk::enter(host, error_out, kDescriptor);
}
