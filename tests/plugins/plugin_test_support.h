// SPDX-License-Identifier: Apache-2.0
// Helpers for the built-in plugins' own tests: building configurations, expecting errors.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "kbinder/sdk/args.h"
#include "kbinder/v1/plugin.pb.h"

namespace kbinder::plugins::testing {

inline kbinder::v1::Value intValue(int64_t v) {
  kbinder::v1::Value value;
  value.set_int_value(v);
  return value;
}
inline kbinder::v1::Value floatValue(double v) {
  kbinder::v1::Value value;
  value.set_float_value(v);
  return value;
}
inline kbinder::v1::Value textValue(const std::string& v) {
  kbinder::v1::Value value;
  value.set_string_value(v);
  return value;
}

inline kbinder::v1::PluginConfig configWith(const std::string& key,
                                            const kbinder::v1::Value& value) {
  kbinder::v1::PluginConfig config;
  (*config.mutable_args()->mutable_fields())[key] = value;
  return config;
}

// Expects `parse` to throw sdk::ConfigError with exactly `message`.
inline void expectConfigError(const std::function<void()>& parse, const std::string& message) {
  try {
    parse();
    ADD_FAILURE() << "accepted, but expected: " << message;
  } catch (const kbinder::sdk::ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), message);
  }
}

}  // namespace kbinder::plugins::testing
