#include "volumebinding.h"

#include "plugins/plugin_test_support.h"

namespace kbinder::plugins::volumebinding {
namespace {

using namespace kbinder::plugins::testing;

TEST(VolumeBindingConfigTest, DefaultsToTenMinutes) {
  EXPECT_EQ(parseConfig({}).bind_timeout, std::chrono::seconds(600));
}

TEST(VolumeBindingConfigTest, AcceptsIntegerAndFractionalSeconds) {
  EXPECT_EQ(parseConfig(configWith("bind_timeout_seconds", intValue(30))).bind_timeout,
            std::chrono::seconds(30));
  EXPECT_EQ(parseConfig(configWith("bind_timeout_seconds", floatValue(0.5))).bind_timeout,
            std::chrono::milliseconds(500));
}

TEST(VolumeBindingConfigTest, RejectsBadArguments) {
  const std::string range = "argument 'bind_timeout_seconds' must be more than 0 and at most 86400 seconds";
  const std::vector<std::pair<kbinder::v1::PluginConfig, std::string>> cases = {
      {configWith("bind_timeout_seconds", intValue(0)), range},
      {configWith("bind_timeout_seconds", intValue(86401)), range},
      {configWith("bind_timeout_seconds", textValue("10m")),
       "argument 'bind_timeout_seconds' must be a number of seconds"},
      {configWith("bind_timeout", intValue(5)),
       "unknown argument(s) 'bind_timeout'; it accepts: bind_timeout_seconds"},
  };
  for (const auto& [config, message] : cases) {
    expectConfigError([&] { parseConfig(config); }, message);
  }
}

}  // namespace
}  // namespace kbinder::plugins::volumebinding
