// SPDX-License-Identifier: Apache-2.0
// Typed, checked reading of a plugin's arguments (kbinder.v1.PluginConfig.args).
//
// Independent of abi.h, so a plugin's logic can parse its own configuration.
// Thread-safety: an Args object is used by one thread.
#pragma once

#include <cmath>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>

#include "kbinder/v1/plugin.pb.h"

namespace kbinder::sdk {

// Thrown by Args for a bad argument; the entry turns it into a failed create with its message.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Typed, checked access to a plugin's arguments table. Each getter records the key as known;
// finish() rejects keys nobody asked for, so a typo in a profile is an error, not a silent default.
class Args {
 public:
  explicit Args(const kbinder::v1::PluginConfig& config) : config_(config) {}

  int64_t integer(const std::string& key, int64_t fallback, int64_t min, int64_t max) {
    const auto* value = find(key);
    if (value == nullptr) return fallback;
    if (value->kind_case() != kbinder::v1::Value::kIntValue) {
      fail(key, "must be an integer");
    }
    const int64_t v = value->int_value();
    if (v < min || v > max) {
      fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                    ", got " + std::to_string(v));
    }
    return v;
  }

  // A number of seconds, integer or float, strictly positive and at most `max`.
  double seconds(const std::string& key, double fallback, double max) {
    const auto* value = find(key);
    if (value == nullptr) return fallback;
    double v = 0;
    if (value->kind_case() == kbinder::v1::Value::kIntValue) {
      v = static_cast<double>(value->int_value());
    } else if (value->kind_case() == kbinder::v1::Value::kFloatValue) {
      v = value->float_value();
    } else {
      fail(key, "must be a number of seconds");
    }
    if (!std::isfinite(v) || v <= 0 || v > max) {
      fail(key, "must be more than 0 and at most " + std::to_string(static_cast<int64_t>(max)) +
                    " seconds");
    }
    return v;
  }

  std::string string(const std::string& key, const std::string& fallback) {
    const auto* value = find(key);
    if (value == nullptr) return fallback;
    if (value->kind_case() != kbinder::v1::Value::kStringValue) fail(key, "must be a string");
    return value->string_value();
  }

  bool boolean(const std::string& key, bool fallback) {
    const auto* value = find(key);
    if (value == nullptr) return fallback;
    if (value->kind_case() != kbinder::v1::Value::kBoolValue) fail(key, "must be true or false");
    return value->bool_value();
  }

  // Throws ConfigError naming every argument no getter asked for.
  void finish() const {
    std::string unknown;
    for (const auto& [key, value] : config_.args().fields()) {
      if (known_.count(key) == 0) unknown += (unknown.empty() ? "'" : ", '") + key + "'";
    }
    if (unknown.empty()) return;
    std::string known;
    for (const auto& key : known_) known += (known.empty() ? "" : ", ") + key;
    throw ConfigError("unknown argument(s) " + unknown +
                      "; it accepts: " + (known.empty() ? "none" : known));
  }

 private:
  const kbinder::v1::Value* find(const std::string& key) {
    known_.insert(key);
    const auto& fields = config_.args().fields();
    auto it = fields.find(key);
    return it == fields.end() ? nullptr : &it->second;
  }
  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw ConfigError("argument '" + key + "' " + what);
  }

  const kbinder::v1::PluginConfig& config_;
  std::set<std::string> known_;
};

}  // namespace kbinder::sdk
