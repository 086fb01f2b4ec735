// volumebinding: binds a pod's unbound PersistentVolumeClaims to volumes, or asks for
// provisioning on the selected node, and waits for the bind to complete.
//
// Plugin logic only: this file never sees ABI types (see entry.cc for the boundary).
// Thread-safety: a VolumeBinding is immutable after construction and safe to share.
#pragma once

#include <chrono>

#include "kbinder/v1/plugin.pb.h"

namespace kbinder::plugins::volumebinding {

inline constexpr char kName[] = "volumebinding";
inline constexpr char kVersion[] = "0.1.0";

struct Config {
  // How long PreBind waits for every claim to be fully bound.
  std::chrono::milliseconds bind_timeout{std::chrono::seconds(600)};
};

// Reads the plugin's arguments; throws sdk::ConfigError naming the argument and the fix.
Config parseConfig(const kbinder::v1::PluginConfig& config);

class VolumeBinding {
 public:
  explicit VolumeBinding(const kbinder::v1::PluginConfig& config) : config_(parseConfig(config)) {}
  const Config& config() const { return config_; }

 private:
  Config config_;
};

}  // namespace kbinder::plugins::volumebinding
