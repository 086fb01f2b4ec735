#include "gpuvalidator.h"

#include <gtest/gtest.h>

#include "kbinder/sdk/args.h"

namespace kbinder::plugins::gpuvalidator {
namespace {

kbinder::v1::PluginConfig configWith(const std::string& key, const kbinder::v1::Value& value) {
  kbinder::v1::PluginConfig config;
  (*config.mutable_args()->mutable_fields())[key] = value;
  return config;
}

kbinder::v1::Value text(const std::string& s) {
  kbinder::v1::Value value;
  value.set_string_value(s);
  return value;
}

TEST(GpuValidatorConfigTest, DefaultsToNvidiaGpus) {
  EXPECT_EQ(parseConfig(kbinder::v1::PluginConfig()).gpu_resource_name, "nvidia.com/gpu");
}

TEST(GpuValidatorConfigTest, TakesAnotherExtendedResource) {
  EXPECT_EQ(parseConfig(configWith("gpu_resource_name", text("amd.com/gpu"))).gpu_resource_name,
            "amd.com/gpu");
}

TEST(GpuValidatorConfigTest, RejectsBadArguments) {
  kbinder::v1::Value number;
  number.set_int_value(1);
  const std::vector<std::pair<kbinder::v1::PluginConfig, std::string>> cases = {
      {configWith("gpu_resource_name", text("gpu")),
       "argument 'gpu_resource_name' must be an extended resource name such as "
       "\"nvidia.com/gpu\", got \"gpu\""},
      {configWith("gpu_resource_name", number), "argument 'gpu_resource_name' must be a string"},
      {configWith("gpus", text("x")), "unknown argument(s) 'gpus'; it accepts: gpu_resource_name"},
  };
  for (const auto& [config, message] : cases) {
    try {
      parseConfig(config);
      ADD_FAILURE() << "accepted: " << message;
    } catch (const sdk::ConfigError& e) {
      EXPECT_EQ(std::string(e.what()), message);
    }
  }
}

}  // namespace
}  // namespace kbinder::plugins::gpuvalidator
