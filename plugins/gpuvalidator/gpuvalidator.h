// gpuvalidator: checks the shape of a pod's GPU request (whole GPUs or fractions) and that the
// BindRequest's GPU fields agree with it, then that the node can hold what was granted.
//
// Plugin logic only: this file never sees ABI types (see entry.cc for the boundary).
// Thread-safety: a GpuValidator is immutable after construction and safe to share.
#pragma once

#include <string>

#include "kbinder/v1/plugin.pb.h"

namespace kbinder::plugins::gpuvalidator {

inline constexpr char kName[] = "gpuvalidator";
inline constexpr char kVersion[] = "0.1.0";

struct Config {
  // The extended resource that counts whole GPUs in container limits and node allocatable.
  std::string gpu_resource_name = "nvidia.com/gpu";
};

// Reads the plugin's arguments; throws sdk::ConfigError naming the argument and the fix.
Config parseConfig(const kbinder::v1::PluginConfig& config);

class GpuValidator {
 public:
  explicit GpuValidator(const kbinder::v1::PluginConfig& config) : config_(parseConfig(config)) {}
  const Config& config() const { return config_; }

 private:
  Config config_;
};

}  // namespace kbinder::plugins::gpuvalidator
