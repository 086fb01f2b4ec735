// SPDX-License-Identifier: Apache-2.0
// dra: writes the dynamic resource claim allocations a BindRequest carries onto the pod's
// ResourceClaims and reserves them for the pod; on rollback, takes back what it wrote.
//
// Reserve resolves every claim and refuses early (no writes); PreBind writes, one status write
// per claim guarded by resourceVersion, re-reading and retrying on conflicts within
// bind_timeout; Unreserve removes the pod's reservation and, where this cycle wrote the
// allocation and nobody else holds the claim, the allocation.
//
// Plugin logic only: this file never sees ABI types (see entry.cc for the boundary).
// Thread-safety: a Dra is immutable after construction and safe to share; a CycleState belongs
// to one cycle.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "kbinder/sdk/cluster.h"
#include "kbinder/v1/plugin.pb.h"

namespace kbinder::plugins::dra {

inline constexpr char kName[] = "dra";
inline constexpr char kVersion[] = "0.2.0";
// The API server refuses a claim reserved for more consumers than this.
inline constexpr int kMaxReservedFor = 256;

struct Config {
  // How long a claim write keeps retrying on conflicts.
  std::chrono::milliseconds bind_timeout{std::chrono::seconds(30)};
};

// Reads the plugin's arguments; throws sdk::ConfigError naming the argument and the fix.
Config parseConfig(const kbinder::v1::PluginConfig& config);

// One claim the request allocates: resolved at Reserve, written at PreBind.
struct ClaimWork {
  std::string pod_claim;  // the pod's name for it (PodResourceClaim.name)
  std::string namespace_;
  std::string name;  // the ResourceClaim's name
  kbinder::v1::AllocationResult allocation;
  bool wrote_allocation = false;
  bool added_reservation = false;
};

struct CycleState {
  std::vector<ClaimWork> claims;
  bool resolved = false;
};

class Dra {
 public:
  explicit Dra(const kbinder::v1::PluginConfig& config) : config_(parseConfig(config)) {}
  explicit Dra(Config config) : config_(config) {}
  const Config& config() const { return config_; }

  sdk::Verdict reserve(sdk::Cluster& cluster, const kbinder::v1::Pod& pod,
                       const kbinder::v1::BindRequest& request, CycleState& state) const;
  sdk::Verdict preBind(sdk::Cluster& cluster, const kbinder::v1::Pod& pod,
                       const kbinder::v1::BindRequest& request, CycleState& state) const;
  void unreserve(sdk::Cluster& cluster, const kbinder::v1::Pod& pod, CycleState& state) const;

 private:
  Config config_;
};

}  // namespace kbinder::plugins::dra
