// SPDX-License-Identifier: Apache-2.0
// The pods waiting at Permit (WaitOnPermit), and the plugins each still waits for: what a
// plugin's `allow` host service reaches, from any thread, while the cycle waits.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "host/cluster/object_services.h"

namespace kbinder::host {

// Pods waiting at Permit, and the plugins each still waits for.
// Thread-safety: all methods are safe from any thread.
class WaitingPodRegistry final : public WaitingPods {
 public:
  Status allow(std::string_view pod_uid, std::string_view plugin_name) override;

  // Registers the pod with the plugins it waits for and their deadlines, blocks until every
  // one allowed it, one deadline passed, or `cancelled` became true, then unregisters it.
  // Returns the plugin whose deadline passed, or empty when all allowed; sets `*was_cancelled`.
  std::string wait(const std::string& pod_uid,
                   const std::map<std::string, std::chrono::steady_clock::time_point>& plugins,
                   const std::atomic<bool>* cancelled, bool* was_cancelled);

 private:
  struct Waiting {
    std::set<std::string> pending;
  };
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, Waiting, std::less<>> waiting_;
};

}  // namespace kbinder::host
