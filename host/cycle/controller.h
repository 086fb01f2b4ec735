// SPDX-License-Identifier: Apache-2.0
// The controller: watches BindRequests and runs each one that is not yet Succeeded or Failed
// through the binding cycle on the profile's worker threads, with per-request exponential
// backoff, and writes the outcome to the request's status and as Events.
//
// Status rules: `phase` stays Pending, with `reason` and a growing `failedAttempts`, while
// attempts remain; it becomes Failed when failedAttempts reaches the request's backoffLimit
// (the profile's default when it has none), or at once for failures that retrying cannot fix;
// Succeeded on success. Events: Normal "Bound" on success, Warning "BindAttemptFailed" on every
// failed attempt, Warning "BindFailed" when the request fails for good.
//
// A request is processed by one worker at a time; changes to a request waiting for its next
// attempt do not cut its backoff short. Thread-safety: start/stop/wait from one owner thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "host/cluster/cluster.h"
#include "host/cycle/assume_cache.h"
#include "host/cycle/framework.h"
#include "host/cycle/status_writer.h"
#include "host/cycle/work_queue.h"
#include "host/plugin/loaded_profile.h"

namespace kbinder::host {

class MetricsRecorder;

struct ControllerOptions {
  std::string namespace_;                      // BindRequests of one namespace; empty: all
  std::string reporting_instance = "kbinder";  // Events' reportingInstance
  MetricsRecorder* metrics = nullptr;          // where to record; may be null
};

// What the controller did with one request during its lifetime (for `kbinder run`).
struct RequestRecord {
  std::string namespace_, name, pod, node;
  std::string phase;  // as last written or seen
  std::string reason;
  int attempts = 0;  // cycles run by this controller
};

class Controller {
 public:
  Controller(const LoadedProfile& profile, ClusterBackend& cluster, ControllerOptions options);
  // Shares ownership of the profile (so replaceProfile can retire it).
  Controller(std::shared_ptr<const LoadedProfile> profile, ClusterBackend& cluster,
             ControllerOptions options);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Subscribes to pods, nodes and BindRequests (ClusterBackend::subscribe), waits until each
  // was listed, then starts the workers.
  Status start();
  // Cancels waiting cycles, lets running ones end, joins every thread. Idempotent.
  void stop() { drain(std::chrono::milliseconds(0)); }
  // Stops taking requests, gives the cycles in flight up to `grace` to finish, then cancels
  // the rest (they roll back), and joins every thread.
  void drain(std::chrono::milliseconds grace);

  // Cycles that start from now on run with `profile`; cycles in flight finish on the old one.
  void replaceProfile(std::shared_ptr<const LoadedProfile> profile);
  size_t queueDepth() const;
  int cyclesInFlight() const;
  // Pods assumed onto nodes whose binding the cluster does not show yet.
  size_t assumedPods() const;

  // Blocks until every BindRequest seen is Succeeded or Failed. `progress` (may be empty) is
  // called about every `interval` with (settled, total).
  void waitUntilSettled(const std::function<void(size_t, size_t)>& progress,
                        std::chrono::milliseconds interval = std::chrono::milliseconds(200));

  // Every request seen, by namespace, then name.
  std::vector<RequestRecord> records() const;

  // Delay before attempt `failed_attempts + 1` (base * 2^(failed-1), capped, with jitter).
  static std::chrono::milliseconds backoffDelay(const CycleSettings& settings, int failed_attempts,
                                                double random_unit);

 private:
  using Clock = std::chrono::steady_clock;
  // A profile and the framework that runs it; cycles hold it while they run.
  struct Generation {
    std::shared_ptr<const LoadedProfile> profile;
    std::unique_ptr<Framework> framework;
  };
  std::shared_ptr<Generation> current() const;
  // What the controller keeps of a request between attempts.
  struct Tracked {
    bool terminal = false;  // settled by this controller (or found settled)
    // The request as the informer last delivered it: what the next attempt starts from,
    // without reading it from the cluster again. A stale copy (a write the informer has yet
    // to deliver) costs no more than a conflict on the status write, which reads afresh.
    std::shared_ptr<const kbinder::v1::BindRequest> latest;
  };

  void onRequestEvent(const WatchEvent& event);
  // Keep settled_keys_/settled_count_ current; wake waitUntilSettled when all are settled.
  void noteSettledLocked(const std::string& key, bool terminal);
  void forgetSettledLocked(const std::string& key);
  void worker();
  void process(const std::string& key);

  ClusterBackend& cluster_;
  ControllerOptions options_;
  RequestStatusWriter status_writer_;
  WorkQueue queue_;
  AssumeCache cache_;
  std::shared_ptr<Generation> generation_;  // guarded by mutex_
  std::unique_ptr<Subscription> requests_, pods_, nodes_;

  std::atomic<bool> stopping_{false};   // no more requests are taken
  std::atomic<bool> cancelled_{false};  // cycles in flight stop waiting and roll back
  std::vector<std::thread> workers_;
  mutable std::mutex mutex_;
  std::condition_variable settled_;
  // Keyed "namespace/name"; hashed, as the work queue's keys are.
  std::unordered_map<std::string, Tracked> tracked_;
  // Every request seen: key -> whether its phase (as last seen) is final; how many are.
  std::unordered_map<std::string, bool> settled_keys_;
  size_t settled_count_ = 0;
  std::unordered_map<std::string, RequestRecord> records_;
  std::unordered_map<std::string, std::string> pod_uids_;  // request uid -> pod uid first seen
  std::mt19937_64 random_{std::random_device{}()};
};

}  // namespace kbinder::host
