// SPDX-License-Identifier: Apache-2.0
// Leader election through a coordination.k8s.io/v1 Lease, with the usual algorithm: the holder
// renews every retry period; a candidate takes the lease over once it has seen no renewal for
// the lease duration (by its own clock, not the holder's); a leader that cannot renew within the
// renew deadline steps down at once.
//
// Thread-safety: acquire() and release() from one owner thread; the renewal runs on its own.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "host/kube/kube_backend.h"

namespace kbinder::host {

struct LeaderElectionOptions {
  std::string namespace_ = "kbinder-system";
  std::string name = "kbinder";
  std::string identity;  // this replica; defaults to the host name and process id
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
};

class LeaderElector {
 public:
  LeaderElector(KubernetesBackend& backend, LeaderElectionOptions options);
  ~LeaderElector();

  // Blocks until this replica holds the lease (true) or `stop` became true (false).
  bool acquire(const std::atomic<bool>& stop);
  // Renews in the background; calls `on_lost` once when a renewal failed for the renew deadline.
  void keepRenewing(std::function<void()> on_lost);
  // Stops renewing and gives the lease up so another replica takes over without waiting.
  void release();
  bool leading() const { return leading_; }
  const std::string& identity() const { return options_.identity; }

 private:
  // One attempt to take or renew the lease; true when this replica holds it afterwards.
  bool tryAcquireOrRenew();

  KubernetesBackend& backend_;
  LeaderElectionOptions options_;
  std::atomic<bool> leading_{false};
  std::atomic<bool> stop_renewing_{false};
  std::thread renewer_;
  // What this replica last saw of another holder's record, and when (its own clock).
  std::string observed_record_;
  std::chrono::steady_clock::time_point observed_at_{};
};

}  // namespace kbinder::host
