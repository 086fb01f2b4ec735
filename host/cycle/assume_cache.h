// SPDX-License-Identifier: Apache-2.0
// The assume cache: what every node has room for, counting the pods bound to it and the pods
// the binder assumed onto it but has not bound yet.
//
// Requests are counted per resource (cpu, memory, ephemeral-storage, extended resources such
// as nvidia.com/gpu) with the Kubernetes rules: the larger of the biggest init container
// (plus the sidecars started before it) and the sum of app containers and sidecars, plus the
// pod's overhead; a container without a request for a resource it limits requests the limit.
// Each pod also takes one of the node's `pods`.
//
// An assumed pod is confirmed when the cluster shows it bound, forgotten when its cycle fails,
// and never expires on a timer. Pods in phase Succeeded or Failed take no room.
//
// Thread-safety: every method may be called from many threads; one mutex guards the state.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "host/base/status.h"
#include "host/model/objects.h"
#include "kbinder/v1/objects.pb.h"

namespace kbinder::host {

// Resource name -> amount in milli-units (1 cpu = 1000; 1Gi memory = 1024^3 * 1000).
using ResourceAmounts = std::map<std::string, int64_t>;

// What a pod asks of its node. Fails when a quantity does not parse (names the container).
StatusOr<ResourceAmounts> podRequests(const kbinder::v1::Pod& pod);

// "500m", "4", "2Gi"-free: amounts printed in the resource's natural unit for messages.
std::string formatAmount(const std::string& resource, int64_t milli);

class AssumeCache {
 public:
  struct NodeUsage {
    ResourceAmounts requested;  // by bound and assumed pods
    int64_t pods = 0;
  };

  // Cluster changes, from informers.
  void upsertNode(const kbinder::v1::Node& node);
  void removeNode(const std::string& name);
  void upsertPod(const kbinder::v1::Pod& pod);
  void removePod(const kbinder::v1::Pod& pod);
  // What upsertPod (removePod when `deleted`) does, from the pod's facts alone; false, with
  // nothing done, when they do not suffice: a bound pod the cache does not hold on that node,
  // whose requests must be counted (call upsertPod then).
  bool notePod(const PodFacts& facts, bool deleted);

  // Accounts `pod` on `node` if the node takes it. FAILED_PRECONDITION, with a reason naming
  // the node and what is wrong, when the node is missing, cordoned, not Ready, tainted
  // NoSchedule/NoExecute without a matching toleration, or short of room. ALREADY_EXISTS when
  // the pod is already assumed or bound.
  Status assume(const kbinder::v1::Pod& pod, const std::string& node);
  // Drops an assumption (after a failed cycle). Does nothing for confirmed or unknown pods.
  void forget(const std::string& pod_uid);

  // How many pods are assumed and not yet confirmed or forgotten.
  size_t assumedPods() const;
  NodeUsage usage(const std::string& node) const;

 private:
  struct PodEntry {
    std::string node;
    ResourceAmounts requests;
    bool assumed = false;  // true until the cluster shows the pod bound
  };
  // What admission needs of a node, taken out of it once per change rather than per pod.
  struct NodeEntry {
    bool known = false;  // false for a node only pods referred to so far
    bool unschedulable = false;
    bool ready = false;
    std::vector<kbinder::v1::Taint> taints;  // NoSchedule and NoExecute only
    ResourceAmounts allocatable;             // what parses; an unparsable amount counts as 0
    std::optional<int64_t> pod_limit;        // allocatable "pods", when present and parsable
    NodeUsage usage;
  };

  void addLocked(const std::string& uid, PodEntry entry);
  void dropLocked(const std::string& uid);
  // upsertPod and notePod: `pod`, when given, for the requests of a pod the facts do not
  // settle; false when they do not and it is not given.
  bool noteLocked(const PodFacts& facts, bool deleted, const kbinder::v1::Pod* pod);

  mutable std::mutex mutex_;
  std::map<std::string, NodeEntry> nodes_;
  std::unordered_map<std::string, PodEntry> pods_;
  size_t assumed_ = 0;  // entries of pods_ with `assumed` set
};

}  // namespace kbinder::host
