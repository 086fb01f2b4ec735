#include "gpuvalidator.h"

#include "plugins/plugin_test_support.h"

namespace kbinder::plugins::gpuvalidator {
namespace {

using namespace kbinder::plugins::testing;

TEST(GpuValidatorConfigTest, DefaultsToNvidiaGpus) {
  EXPECT_EQ(parseConfig({}).gpu_resource_name, "nvidia.com/gpu");
}

TEST(GpuValidatorConfigTest, TakesAnotherExtendedResource) {
  EXPECT_EQ(parseConfig(configWith("gpu_resource_name", textValue("amd.com/gpu"))).gpu_resource_name,
            "amd.com/gpu");
}

TEST(GpuValidatorConfigTest, RejectsBadArguments) {
  const std::vector<std::pair<kbinder::v1::PluginConfig, std::string>> cases = {
      {configWith("gpu_resource_name", textValue("gpu")),
       "argument 'gpu_resource_name' must be an extended resource name such as "
       "\"nvidia.com/gpu\", got \"gpu\""},
      {configWith("gpu_resource_name", intValue(1)),
       "argument 'gpu_resource_name' must be a string"},
      {configWith("gpus", textValue("x")),
       "unknown argument(s) 'gpus'; it accepts: gpu_resource_name"},
  };
  for (const auto& [config, message] : cases) {
    expectConfigError([&] { parseConfig(config); }, message);
  }
}

}  // namespace
}  // namespace kbinder::plugins::gpuvalidator
