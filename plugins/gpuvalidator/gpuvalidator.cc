#include "gpuvalidator.h"

#include "kbinder/sdk/args.h"

namespace kbinder::plugins::gpuvalidator {

Config parseConfig(const kbinder::v1::PluginConfig& config) {
  sdk::Args args(config);
  Config parsed;
  parsed.gpu_resource_name = args.string("gpu_resource_name", parsed.gpu_resource_name);
  if (parsed.gpu_resource_name.empty() || parsed.gpu_resource_name.find('/') == std::string::npos) {
    throw sdk::ConfigError(
        "argument 'gpu_resource_name' must be an extended resource name such as "
        "\"nvidia.com/gpu\", got \"" + parsed.gpu_resource_name + "\"");
  }
  args.finish();
  return parsed;
}

}  // namespace kbinder::plugins::gpuvalidator
