#include "dra.h"

#include <gtest/gtest.h>

#include "kbinder/sdk/args.h"

namespace kbinder::plugins::dra {
namespace {

kbinder::v1::PluginConfig configWith(const std::string& key, const kbinder::v1::Value& value) {
  kbinder::v1::PluginConfig config;
  config.set_plugin_name("dra");
  (*config.mutable_args()->mutable_fields())[key] = value;
  return config;
}

kbinder::v1::Value intValue(int64_t v) {
  kbinder::v1::Value value;
  value.set_int_value(v);
  return value;
}

TEST(DraConfigTest, DefaultsToThirtySeconds) {
  EXPECT_EQ(parseConfig(kbinder::v1::PluginConfig()).bind_timeout, std::chrono::seconds(30));
}

TEST(DraConfigTest, AcceptsIntegerAndFractionalSeconds) {
  EXPECT_EQ(parseConfig(configWith("bind_timeout_seconds", intValue(30))).bind_timeout,
            std::chrono::seconds(30));
  kbinder::v1::Value half;
  half.set_float_value(0.5);
  EXPECT_EQ(parseConfig(configWith("bind_timeout_seconds", half)).bind_timeout,
            std::chrono::milliseconds(500));
}

TEST(DraConfigTest, RejectsBadArguments) {
  struct Case {
    std::string key;
    kbinder::v1::Value value;
    std::string message;
  };
  kbinder::v1::Value text;
  text.set_string_value("10m");
  const std::vector<Case> cases = {
      {"bind_timeout_seconds", intValue(0),
       "argument 'bind_timeout_seconds' must be more than 0 and at most 3600 seconds"},
      {"bind_timeout_seconds", intValue(3601),
       "argument 'bind_timeout_seconds' must be more than 0 and at most 3600 seconds"},
      {"bind_timeout_seconds", text, "argument 'bind_timeout_seconds' must be a number of seconds"},
      {"bind_timeout", intValue(5),
       "unknown argument(s) 'bind_timeout'; it accepts: bind_timeout_seconds"},
  };
  for (const auto& c : cases) {
    try {
      parseConfig(configWith(c.key, c.value));
      ADD_FAILURE() << c.key << " was accepted";
    } catch (const sdk::ConfigError& e) {
      EXPECT_EQ(std::string(e.what()), c.message);
    }
  }
}

}  // namespace
}  // namespace kbinder::plugins::dra
