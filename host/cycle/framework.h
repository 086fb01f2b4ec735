// SPDX-License-Identifier: Apache-2.0
// The binding cycle: one attempt at carrying out one BindRequest, through the profile's plugins.
//
//   Load > Validate > Mutate > assume > Reserve > Permit > WaitOnPermit > PreBind > Bind
//   > PostBind
//
// On any failure after assume, Unreserve runs for every plugin that has it, in reverse profile
// order, exactly once, whether or not its Reserve ran; then the cache forgets the pod.
// Per-cycle plugin state is released on every path. See README.md, "What a binding cycle does".
//
// A Framework holds no global state: everything a cycle touches comes from its constructor.
// Thread-safety: run() may be called from many threads at once (one cycle each).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "host/cluster/cluster.h"
#include "host/cluster/object_services.h"
#include "host/cycle/assume_cache.h"
#include "host/cycle/waiting_pods.h"
#include "host/plugin/cycle_plugin.h"

namespace kbinder::host {

class MetricsRecorder;

enum class CycleOutcome {
  kSucceeded,
  kRetry,   // failed; another attempt may succeed
  kFailed,  // failed for good: invalid pod, unresolvable, pod gone or bound elsewhere
};

std::string_view cycleOutcomeName(CycleOutcome outcome);

struct CycleResult {
  CycleOutcome outcome = CycleOutcome::kSucceeded;
  std::string reason;                    // for failures: what failed and why; for successes: a note
  std::string pod_uid;                   // the pod's uid as the cycle read it (empty if not read)
  bool already_bound = false;            // succeeded because the pod was bound to the node before
  std::chrono::nanoseconds duration{0};  // the whole cycle, as Framework::run measured it
  std::chrono::nanoseconds plugin_time{0};  // of which inside plugin hooks (with the host
                                            // services they called)
};

struct CycleInput {
  kbinder::v1::BindRequest request;
  uint32_t attempt = 1;                          // 1 for the request's first attempt
  std::string expected_pod_uid;                  // empty: not known
  const std::atomic<bool>* cancelled = nullptr;  // stop waiting (shutdown)
};

class Framework {
 public:
  // Runs cycles through `plugins` (a loaded profile, or plugins registered in-process), on
  // `cluster`, assuming pods into `cache`; records into `metrics` when it is not null.
  Framework(const ProfilePlugins& plugins, ClusterBackend& cluster, AssumeCache& cache,
            MetricsRecorder* metrics = nullptr)
      : plugins_(plugins), cluster_(cluster), cache_(cache), metrics_(metrics) {
    for (size_t i = 0; i < plugins.cyclePlugins().size(); ++i) slot_[plugins.cyclePlugins()[i]] = i;
  }

  CycleResult run(const CycleInput& input);

 private:
  class Cycle;

  const ProfilePlugins& plugins_;
  ClusterBackend& cluster_;
  AssumeCache& cache_;
  MetricsRecorder* metrics_;                             // may be null
  std::unordered_map<const CyclePlugin*, size_t> slot_;  // a plugin's cycle-state slot
  WaitingPodRegistry waiting_;
  std::atomic<uint64_t> next_cycle_id_{1};
};

}  // namespace kbinder::host
