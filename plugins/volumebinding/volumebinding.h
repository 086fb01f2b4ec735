// SPDX-License-Identifier: Apache-2.0
// volumebinding: binds a pod's unbound PersistentVolumeClaims to volumes, or asks for
// provisioning on the selected node, and waits for the binds to complete.
//
// Reserve decides, per claim not yet bound: the volume pre-bound to it (claimRef), else the
// smallest available volume matching class, capacity, access modes, volume mode, selector and
// node affinity, else provisioning on the node for a WaitForFirstConsumer class with a
// provisioner. Volumes chosen by cycles in flight are held so no two pods get the same one.
// PreBind writes each volume's claimRef, then each claim to provision, and waits until every
// claim is bound (volumeName set and pv.kubernetes.io/bind-completed present), failing early
// when provisioning is abandoned, a volume is taken by another claim, the pod is deleted, or a
// volume's node affinity no longer admits the node. Unreserve takes back what the cycle wrote
// while it is still as written (same resourceVersion), and never touches anything else.
//
// Plugin logic only: this file never sees ABI types (see entry.cc for the boundary).
// Thread-safety: a VolumeBinding may be used by many cycles at once (the held volumes are
// guarded by a mutex); a CycleState belongs to one cycle.
#pragma once

#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "kbinder/sdk/cluster.h"
#include "kbinder/sdk/node_affinity.h"
#include "kbinder/v1/plugin.pb.h"

namespace kbinder::plugins::volumebinding {

inline constexpr char kName[] = "volumebinding";
inline constexpr char kVersion[] = "0.2.0";

inline constexpr char kSelectedNodeAnnotation[] = "volume.kubernetes.io/selected-node";
inline constexpr char kBindCompletedAnnotation[] = "pv.kubernetes.io/bind-completed";
inline constexpr char kBoundByControllerAnnotation[] = "pv.kubernetes.io/bound-by-controller";
inline constexpr char kNoProvisioner[] = "kubernetes.io/no-provisioner";

struct Config {
  // How long PreBind waits for every claim to be fully bound.
  std::chrono::milliseconds bind_timeout{std::chrono::seconds(600)};
  // How often PreBind looks again while it waits: first after first_poll, then twice as long
  // each time up to poll_interval. A claim the volume controller binds at once is seen bound
  // within milliseconds, and a worker is not held for a whole interval for it.
  std::chrono::milliseconds poll_interval{std::chrono::milliseconds(50)};
  std::chrono::milliseconds first_poll{std::chrono::milliseconds(2)};
};

// Reads the plugin's arguments; throws sdk::ConfigError naming the argument and the fix.
Config parseConfig(const kbinder::v1::PluginConfig& config);

// The pod's claim names: persistentVolumeClaim volumes, and "<pod>-<volume>" for ephemeral ones.
std::vector<std::string> podClaimNames(const kbinder::v1::Pod& pod);

// Whether a volume's node affinity admits the node (no affinity admits every node).
using sdk::nodeAffinityAdmits;

// What Reserve decided for one claim, and what PreBind wrote for it.
struct ClaimDecision {
  enum class Action { kAlreadyBound, kBindVolume, kProvision };
  std::string claim;  // name, in the pod's namespace
  Action action = Action::kAlreadyBound;
  std::string volume;  // kAlreadyBound and kBindVolume
  // Written by PreBind; the resourceVersion each write produced, for Unreserve's guard.
  std::string claim_ref_written_at;      // the volume's, after its claimRef was written
  std::string selected_node_written_at;  // the claim's, after the annotation was written
  bool complete = false;
};

struct CycleState {
  bool decided = false;
  std::vector<ClaimDecision> claims;
  std::vector<std::string> held;  // volumes held for this cycle in the instance
};

class VolumeBinding {
 public:
  explicit VolumeBinding(const kbinder::v1::PluginConfig& config) : config_(parseConfig(config)) {}
  explicit VolumeBinding(Config config) : config_(config) {}
  const Config& config() const { return config_; }

  sdk::Verdict reserve(sdk::Cluster& cluster, const kbinder::v1::Pod& pod,
                       const kbinder::v1::Node& node, CycleState& state);
  sdk::Verdict preBind(sdk::Cluster& cluster, const kbinder::v1::Pod& pod,
                       const kbinder::v1::Node& node, CycleState& state);
  void unreserve(sdk::Cluster& cluster, const kbinder::v1::Pod& pod, CycleState& state);

  // Volumes held by cycles in flight (for tests and logs).
  std::set<std::string> held() const;
  // Lets go of the volumes the cycle holds (also when its state is released, on every path).
  void releaseHeld(CycleState& state);

 private:
  Config config_;
  mutable std::mutex mutex_;
  std::set<std::string> held_;  // volume names chosen by cycles between Reserve and their end
};

}  // namespace kbinder::plugins::volumebinding
