// SPDX-License-Identifier: Apache-2.0
// gpuvalidator: checks the shape of a pod's GPU request (whole GPUs or fractions) and that the
// BindRequest's GPU fields agree with it, labels the pod for GPU-sharing components, then checks
// that the node can hold what was granted.
//
// Plugin logic only: this file never sees ABI types (see entry.cc for the boundary).
// Thread-safety: a GpuValidator is immutable after construction and safe to share.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "kbinder/v1/plugin.pb.h"

namespace kbinder::plugins::gpuvalidator {

inline constexpr char kName[] = "gpuvalidator";
inline constexpr char kVersion[] = "0.2.0";

// The pod annotations a GPU request is made with, and what the binder writes for the GPU-sharing
// components downstream (the KAI scheduler's names).
inline constexpr char kFractionAnnotation[] = "gpu-fraction";
inline constexpr char kMemoryAnnotation[] = "gpu-memory";
inline constexpr char kDevicesAnnotation[] = "gpu-fraction-num-devices";
inline constexpr char kMpsAnnotation[] = "mps";
inline constexpr char kReceivedTypeAnnotation[] = "received-resource-type";
inline constexpr char kGpuGroupLabel[] = "runai-gpu-group";
inline constexpr char kMultiGpuGroupLabelPrefix[] = "runai-gpu-group/";

struct Config {
  // The extended resource that counts whole GPUs in container limits and node allocatable.
  std::string gpu_resource_name = "nvidia.com/gpu";
};

// Reads the plugin's arguments; throws sdk::ConfigError naming the argument and the fix.
Config parseConfig(const kbinder::v1::PluginConfig& config);

class GpuValidator {
 public:
  explicit GpuValidator(const kbinder::v1::PluginConfig& config) : config_(parseConfig(config)) {}
  explicit GpuValidator(Config config) : config_(std::move(config)) {}
  const Config& config() const { return config_; }

  // Every rule the pod's GPU request, or the request's agreement with it, breaks; empty when
  // valid. Each problem is a sentence naming the annotation, limit or field.
  std::vector<std::string> validate(const kbinder::v1::Pod& pod,
                                    const kbinder::v1::BindRequest& request) const;

  // The received-resource-type annotation, and for fractions the GPU group label(s); group
  // labels of an earlier grant that this one does not have are removed.
  kbinder::v1::MutateResult mutate(const kbinder::v1::Pod& pod,
                                   const kbinder::v1::BindRequest& request) const;

  // Whether checkNode needs the node at all: only a request granted GPUs is checked against it.
  static bool grantsGpus(const kbinder::v1::BindRequest& request);
  // Why the node cannot hold the GPUs granted; nullopt when it can.
  std::optional<std::string> checkNode(const kbinder::v1::BindRequest& request,
                                       const kbinder::v1::Node& node) const;

 private:
  Config config_;
};

}  // namespace kbinder::plugins::gpuvalidator
