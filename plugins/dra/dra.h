// dra: writes the dynamic resource claim allocations a BindRequest carries onto the pod's
// ResourceClaims and reserves them for the pod.
//
// Plugin logic only: this file never sees ABI types (see entry.cc for the boundary).
// Thread-safety: a Dra is immutable after construction and safe to share.
#pragma once

#include <chrono>

#include "kbinder/v1/plugin.pb.h"

namespace kbinder::plugins::dra {

inline constexpr char kName[] = "dra";
inline constexpr char kVersion[] = "0.1.0";

struct Config {
  // How long a claim write keeps retrying on conflicts.
  std::chrono::milliseconds bind_timeout{std::chrono::seconds(30)};
};

// Reads the plugin's arguments; throws sdk::ConfigError naming the argument and the fix.
Config parseConfig(const kbinder::v1::PluginConfig& config);

class Dra {
 public:
  explicit Dra(const kbinder::v1::PluginConfig& config) : config_(parseConfig(config)) {}
  const Config& config() const { return config_; }

 private:
  Config config_;
};

}  // namespace kbinder::plugins::dra
