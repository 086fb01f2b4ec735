// The dra plugin's ABI boundary: the only file that sees abi.h.
#include <kbinder/abi.h>

#include "dra.h"
#include "kbinder/sdk/plugin.h"

namespace {

using kbinder::plugins::dra::Dra;

// Hooks are wired here as the plugin implements them; a NULL hook is "not implemented".
const kbinder_plugin_descriptor kDescriptor = {
    .struct_size = sizeof(kbinder_plugin_descriptor),
    .struct_version = KBINDER_ABI_VERSION,
    .name = kbinder::plugins::dra::kName,
    .version = kbinder::plugins::dra::kVersion,
    .concurrency = KBINDER_CONCURRENCY_CONCURRENT,
    .reserved0 = 0,
    .create = &kbinder::sdk::createInstance<Dra>,
    .destroy = &kbinder::sdk::destroyInstance<Dra>,
    .release_cycle_state = nullptr,
    .validate = nullptr,
    .mutate = nullptr,
    .reserve = nullptr,
    .unreserve = nullptr,
    .permit = nullptr,
    .pre_bind = nullptr,
    .bind = nullptr,
    .post_bind = nullptr,
    .description = "Writes dynamic resource claim allocations and reserves the claims for the pod",
};

}  // namespace

extern "C" KBINDER_EXPORT const kbinder_plugin_descriptor* kbinder_plugin_v1(
    const kbinder_host_services* host, const char** error_out) {
  return kbinder::sdk::enter(host, error_out, kDescriptor);
}
