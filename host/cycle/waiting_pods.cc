// SPDX-License-Identifier: Apache-2.0
#include "host/cycle/waiting_pods.h"

#include <algorithm>

namespace kbinder::host {

using Clock = std::chrono::steady_clock;

Status WaitingPodRegistry::allow(std::string_view pod_uid, std::string_view plugin_name) {
  std::lock_guard lock(mutex_);
  const auto it = waiting_.find(pod_uid);
  if (it == waiting_.end()) {
    return notFound("no pod with uid " + std::string(pod_uid) + " waits at Permit");
  }
  if (it->second.pending.erase(std::string(plugin_name)) == 0) {
    return notFound("pod " + std::string(pod_uid) + " does not wait for plugin '" +
                    std::string(plugin_name) + "'");
  }
  changed_.notify_all();
  return okStatus();
}

std::string WaitingPodRegistry::wait(const std::string& pod_uid,
                                     const std::map<std::string, Clock::time_point>& plugins,
                                     const std::atomic<bool>* cancelled, bool* was_cancelled) {
  std::unique_lock lock(mutex_);
  Waiting& waiting = waiting_[pod_uid];
  for (const auto& [name, deadline] : plugins) waiting.pending.insert(name);
  *was_cancelled = false;
  std::string timed_out;
  while (!waiting.pending.empty()) {
    if (cancelled != nullptr && cancelled->load()) {
      *was_cancelled = true;
      break;
    }
    // The earliest deadline among the plugins still pending.
    auto next = Clock::time_point::max();
    std::string first;
    for (const auto& name : waiting.pending) {
      const auto deadline = plugins.at(name);
      if (deadline < next) {
        next = deadline;
        first = name;
      }
    }
    if (Clock::now() >= next) {
      timed_out = first;
      break;
    }
    // Wake at least every 100ms to notice cancellation.
    changed_.wait_until(lock, std::min(next, Clock::now() + std::chrono::milliseconds(100)));
  }
  waiting_.erase(pod_uid);
  return timed_out;
}

}  // namespace kbinder::host
