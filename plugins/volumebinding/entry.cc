// The volumebinding plugin's ABI boundary: the only file that sees abi.h.
#include <kbinder/abi.h>

#include "volumebinding.h"
#include "kbinder/sdk/plugin.h"

namespace {

using kbinder::plugins::volumebinding::VolumeBinding;

// Hooks are wired here as the plugin implements them; a NULL hook is "not implemented".
const kbinder_plugin_descriptor kDescriptor = {
    .struct_size = sizeof(kbinder_plugin_descriptor),
    .struct_version = KBINDER_ABI_VERSION,
    .name = kbinder::plugins::volumebinding::kName,
    .version = kbinder::plugins::volumebinding::kVersion,
    .concurrency = KBINDER_CONCURRENCY_CONCURRENT,
    .reserved0 = 0,
    .create = &kbinder::sdk::createInstance<VolumeBinding>,
    .destroy = &kbinder::sdk::destroyInstance<VolumeBinding>,
    .release_cycle_state = nullptr,
    .validate = nullptr,
    .mutate = nullptr,
    .reserve = nullptr,
    .unreserve = nullptr,
    .permit = nullptr,
    .pre_bind = nullptr,
    .bind = nullptr,
    .post_bind = nullptr,
    .description = "Binds the pod's PersistentVolumeClaims to volumes or provisions them on the node",
};

}  // namespace

extern "C" KBINDER_EXPORT const kbinder_plugin_descriptor* kbinder_plugin_v1(
    const kbinder_host_services* host, const char** error_out) {
  return kbinder::sdk::enter(host, error_out, kDescriptor);
}
