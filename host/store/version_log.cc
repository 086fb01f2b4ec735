// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <deque>
#include <thread>
#include <utility>

#include "host/store/store_state.h"

namespace kbinder::host::store_internal {

StatusOr<const StoreState::Logged*> StoreState::nextLoggedLocked(
    std::unique_lock<AdaptiveMutex>& lock, uint64_t& after,
    std::chrono::steady_clock::time_point deadline, const std::string& kind_name,
    const std::function<bool(const Logged&)>& wanted) {
  while (true) {
    if (after < history_floor_) {
      return Status(StatusCode::kAborted, "too old resource version: " + std::to_string(after) +
                                              " (" + std::to_string(history_floor_) + ")");
    }
    auto it = std::upper_bound(
        history_.begin(), history_.end(), after,
        [](uint64_t rv, const Logged& logged) { return rv < logged.resource_version; });
    for (; it != history_.end(); ++it) {
      after = it->resource_version;
      if (it->kind_name == kind_name && wanted(*it)) return &*it;
    }
    if (deadline == std::chrono::steady_clock::time_point::min() ||
        changed_[kind_name].wait_until(lock, deadline) == std::cv_status::timeout) {
      return static_cast<const Logged*>(nullptr);
    }
  }
}

void StoreState::logLocked(WatchEvent::Type type, const std::string& kind_name,
                           std::optional<Kind> kind, Typed typed, std::shared_ptr<const Json> raw) {
  // Without raw watches nobody reads a logged raw version: the entry keeps it to itself.
  if (!options_.raw_watches) raw.reset();
  history_.push_back(
      Logged{resource_version_, kind_name, kind, type, std::move(typed), std::move(raw)});
  uint64_t slowest = resource_version_;  // what every open watch has read
  for (uint64_t position : watch_positions_) slowest = std::min(slowest, position);
  while (history_.size() > options_.watch_history ||
         (history_.size() > options_.watch_history_idle &&
          history_.front().resource_version <= slowest)) {
    history_floor_ = history_.front().resource_version;
    retired_.push_back(std::move(history_.front()));  // destroyed once the lock is let go
    history_.pop_front();
  }
  if (const auto waiting = changed_.find(kind_name); waiting != changed_.end()) {
    std::condition_variable_any* condition = &waiting->second;
    if (std::find(to_wake_.begin(), to_wake_.end(), condition) == to_wake_.end()) {
      to_wake_.push_back(condition);  // woken by the WriteLock, once it lets the lock go
    }
  }
}

namespace {

using Logged = StoreState::Logged;
using Typed = StoreState::Typed;

class StoreWatch final : public Watch {
 public:
  // Made under the store's lock (by watch()).
  StoreWatch(StoreState& store, Kind kind, uint64_t after)
      : store_(store),
        kind_name_(kindName(kind)),
        encoded_(Typed::encoded(kind)),
        position_(store, after) {}

  StatusOr<std::optional<WatchEvent>> next(std::chrono::milliseconds timeout) override {
    auto taken = take(timeout);
    if (!taken.ok()) return taken.status();
    if (!taken->has_value()) return std::optional<WatchEvent>();
    auto object = (*taken)->second.get();  // outside the lock
    if (!object.ok()) return object.status();
    return std::optional<WatchEvent>(WatchEvent{(*taken)->first, std::move(object).value()});
  }

  bool encoded() const override { return encoded_; }

  StatusOr<std::optional<EncodedWatchEvent>> nextEncoded(
      std::chrono::milliseconds timeout) override {
    if (!encoded_) return Watch::nextEncoded(timeout);
    auto taken = take(timeout);
    if (!taken.ok()) return taken.status();
    if (!taken->has_value()) return std::optional<EncodedWatchEvent>();
    return std::optional<EncodedWatchEvent>(
        EncodedWatchEvent{(*taken)->first, (*taken)->second.encoding()});
  }

 private:
  static constexpr size_t kBatch = 256;
  static constexpr std::chrono::milliseconds kGather{1};

  // The next change taken from the history, as logged; nullopt when none came in time.
  StatusOr<std::optional<std::pair<WatchEvent::Type, Typed>>> take(
      std::chrono::milliseconds timeout) {
    using Taken = std::optional<std::pair<WatchEvent::Type, Typed>>;
    if (pending_.empty()) {
      // Events are taken in batches, under one lock, so that a watcher keeps up with busy
      // writers without taking the store's lock once per event. A watcher that had to wait lets
      // a moment's worth of events gather before it takes them, so that it is not woken once
      // per write (bench/HISTORY.md has both). Every event of the kind is wanted.
      const auto wanted = [](const Logged&) { return true; };
      // What is logged already, up to a batch (nothing is read past what the batch holds).
      const auto take_logged = [&](std::unique_lock<AdaptiveMutex>& lock) {
        while (pending_.size() < kBatch) {
          auto logged = store_.nextLoggedLocked(lock, position_.after(),
                                                std::chrono::steady_clock::time_point::min(),
                                                kind_name_, wanted);
          if (!logged.ok()) return logged.status();
          if (*logged == nullptr) break;
          pending_.emplace_back((*logged)->type, (*logged)->typed);
        }
        return okStatus();
      };
      std::unique_lock lock(store_.mutex_);
      Status taken = take_logged(lock);
      if (pending_.empty() && taken.ok()) {
        auto logged =
            store_.nextLoggedLocked(lock, position_.after(),
                                    std::chrono::steady_clock::now() + timeout, kind_name_, wanted);
        if (!logged.ok()) return logged.status();
        if (*logged == nullptr) return Taken();
        pending_.emplace_back((*logged)->type, (*logged)->typed);
        lock.unlock();
        std::this_thread::sleep_for(kGather);
        lock.lock();
        taken = take_logged(lock);  // an error here comes after the events taken before it
      }
      if (pending_.empty()) return taken;  // reached only with the error that stopped it
    }
    Taken next(std::move(pending_.front()));
    pending_.pop_front();
    return next;
  }

  StoreState& store_;
  std::string kind_name_;
  bool encoded_;  // the kind is kept encoded: nextEncoded() serves it
  StoreState::ReadPosition position_;
  // Taken from the history, not yet handed out (a batch holds its versions alive).
  std::deque<std::pair<WatchEvent::Type, Typed>> pending_;
};

}  // namespace

std::unique_ptr<Watch> StoreState::watchLocked(Kind kind, uint64_t after) {
  return std::make_unique<StoreWatch>(*this, kind, after);
}

}  // namespace kbinder::host::store_internal
