// SPDX-License-Identifier: Apache-2.0
// The controller's work queue: keys (a BindRequest's "namespace/name") waiting to be processed
// by a pool of workers, as client-go's delaying work queue keeps them.
//
// Promises:
// - a key is processed by one worker at a time: a key added while it is processed is marked
//   changed, and queued again when its worker is done (unless the worker settled it);
// - a key is queued at most once, and taken no earlier than the time it was added for, nor
//   before its hold (holdUntil): a later add never brings a queued key forward, so changes to
//   a key waiting out its backoff do not cut the backoff short;
// - keys are taken in the order of their times; get() blocks until one is due or the queue is
//   shut down.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

namespace kbinder::host {

class WorkQueue {
 public:
  using Clock = std::chrono::steady_clock;

  // Queues `key` to be taken at `not_before` (or its hold, if later); see the promises above.
  void add(const std::string& key, Clock::time_point not_before = Clock::now());
  // No attempt at `key` before `until`; and look at it again then: once its worker is done
  // (see done()), or now, if no worker holds it.
  void holdUntil(const std::string& key, Clock::time_point until);
  // The next key due, marked as processed by the caller until done(); nullopt once shut down.
  std::optional<std::string> get();
  // How a worker leaves a key it took.
  enum class After {
    kAgainIfChanged,  // queued again if it was added (or held) while processed
    kSettled,         // not queued again for what happened while it was processed
  };
  void done(const std::string& key, After after);
  // Drops `key` (its object is gone); a worker holding it finishes without effect.
  void forget(const std::string& key);

  // Wakes every get() with nullopt; keys stay, and nothing is taken any more.
  void shutDown();
  // Waits up to `grace` for no key to be processed; whether none is.
  bool waitIdle(std::chrono::milliseconds grace);

  size_t depth() const;    // keys queued
  int processing() const;  // keys taken and not done

 private:
  struct Item {
    bool queued = false;
    bool processing = false;
    bool changed = false;  // added or held while processed
    Clock::time_point not_before{};
    Clock::time_point hold{};  // no attempt before this
  };
  void addLocked(const std::string& key, Clock::time_point not_before);

  mutable std::mutex mutex_;
  std::condition_variable work_;
  bool shut_down_ = false;
  int processing_ = 0;
  // Hashed: keys share long prefixes (their namespace), which an ordered map compares on every
  // step of every lookup.
  std::unordered_map<std::string, Item> items_;
  std::set<std::pair<Clock::time_point, std::string>> ready_;  // queued keys by time
};

}  // namespace kbinder::host
