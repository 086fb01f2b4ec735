// SPDX-License-Identifier: Apache-2.0
// The gpuvalidator plugin's ABI boundary: the only file that sees abi.h.
#include <kbinder/abi.h>

#include "gpuvalidator.h"
#include "kbinder/sdk/plugin.h"

namespace {

using kbinder::plugins::gpuvalidator::GpuValidator;
using kbinder::sdk::Call;
using kbinder::sdk::CycleObjects;

const GpuValidator& self(void* instance) {
  return *static_cast<const GpuValidator*>(instance);
}

// Validate, Mutate and PreBind read the same pod and request: decoded once for the cycle.
CycleObjects& objects(void** state) {
  return kbinder::sdk::cycleState<CycleObjects>(state);
}

kbinder_status_t validate(void* instance, kbinder_call* call, const kbinder_cycle* cycle,
                          void** state) {
  const Call c(kbinder::sdk::hostServices(), call);
  return kbinder::sdk::guarded(c, [&] {
    const auto& pod = objects(state).pod(*cycle);
    const auto& request = objects(state).request(*cycle);
    const auto problems = self(instance).validate(pod, request);
    if (problems.empty()) return KBINDER_STATUS_SUCCESS;
    kbinder::v1::ValidateResult result;
    for (const auto& p : problems) result.add_errors(p);
    c.setResult(result);
    return KBINDER_STATUS_UNSCHEDULABLE_AND_UNRESOLVABLE;
  });
}

kbinder_status_t mutate(void* instance, kbinder_call* call, const kbinder_cycle* cycle,
                        void** state) {
  const Call c(kbinder::sdk::hostServices(), call);
  return kbinder::sdk::guarded(c, [&] {
    const auto& pod = objects(state).pod(*cycle);
    const auto& request = objects(state).request(*cycle);
    c.setResult(self(instance).mutate(pod, request));
    return KBINDER_STATUS_SUCCESS;
  });
}

kbinder_status_t preBind(void* instance, kbinder_call* call, const kbinder_cycle* cycle,
                         void** state) {
  const Call c(kbinder::sdk::hostServices(), call);
  return kbinder::sdk::guarded(c, [&] {
    const auto& request = objects(state).request(*cycle);
    if (!GpuValidator::grantsGpus(request)) return KBINDER_STATUS_SUCCESS;  // the node not decoded
    const auto& node = objects(state).node(*cycle);
    if (const auto refusal = self(instance).checkNode(request, node)) {
      c.setMessage(*refusal);
      return KBINDER_STATUS_UNSCHEDULABLE;
    }
    return KBINDER_STATUS_SUCCESS;
  });
}

const kbinder_plugin_descriptor kDescriptor = {
    .struct_size = sizeof(kbinder_plugin_descriptor),
    .struct_version = KBINDER_ABI_VERSION,
    .name = kbinder::plugins::gpuvalidator::kName,
    .version = kbinder::plugins::gpuvalidator::kVersion,
    .concurrency = KBINDER_CONCURRENCY_CONCURRENT,
    .reserved0 = 0,
    .create = &kbinder::sdk::createInstance<GpuValidator>,
    .destroy = &kbinder::sdk::destroyInstance<GpuValidator>,
    .release_cycle_state = &kbinder::sdk::releaseCycleState<CycleObjects>,
    .validate = &validate,
    .mutate = &mutate,
    .reserve = nullptr,
    .unreserve = nullptr,
    .permit = nullptr,
    .pre_bind = &preBind,
    .bind = nullptr,
    .post_bind = nullptr,
    .description =
        "Checks GPU request shape and that the BindRequest's GPU grant fits pod and node",
};

}  // namespace

extern "C" KBINDER_EXPORT const kbinder_plugin_descriptor* kbinder_plugin_v1(
    const kbinder_host_services* host, const char** error_out) {
  return kbinder::sdk::enter(host, error_out, kDescriptor);
}
