// SPDX-License-Identifier: Apache-2.0
#include "host/cycle/work_queue.h"

#include <algorithm>

namespace kbinder::host {

void WorkQueue::add(const std::string& key, Clock::time_point not_before) {
  std::lock_guard lock(mutex_);
  addLocked(key, not_before);
}

void WorkQueue::addLocked(const std::string& key, Clock::time_point not_before) {
  Item& item = items_[key];
  not_before = std::max(not_before, item.hold);
  if (item.processing) {
    item.changed = true;
    return;
  }
  if (item.queued) {
    if (not_before <= item.not_before) return;
    ready_.erase({item.not_before, key});
  }
  item.queued = true;
  item.not_before = not_before;
  ready_.insert({not_before, key});
  work_.notify_one();
}

void WorkQueue::holdUntil(const std::string& key, Clock::time_point until) {
  std::lock_guard lock(mutex_);
  Item& item = items_[key];
  item.hold = until;
  if (item.processing) {
    item.changed = true;
  } else {
    addLocked(key, Clock::now());
  }
}

std::optional<std::string> WorkQueue::get() {
  std::unique_lock lock(mutex_);
  while (!shut_down_) {
    if (ready_.empty()) {
      work_.wait(lock);
      continue;
    }
    const auto [when, key] = *ready_.begin();
    if (when > Clock::now()) {
      work_.wait_until(lock, when);
      continue;
    }
    ready_.erase(ready_.begin());
    Item& item = items_[key];
    item.queued = false;
    item.processing = true;
    ++processing_;
    return key;
  }
  return std::nullopt;
}

void WorkQueue::done(const std::string& key, After after) {
  std::lock_guard lock(mutex_);
  --processing_;
  work_.notify_all();  // waitIdle, and get() for a key added meanwhile
  const auto it = items_.find(key);
  if (it == items_.end()) return;  // forgotten meanwhile
  Item& item = it->second;
  item.processing = false;
  const bool again = item.changed && after == After::kAgainIfChanged;
  item.changed = false;
  if (again) addLocked(key, Clock::now());
}

void WorkQueue::forget(const std::string& key) {
  std::lock_guard lock(mutex_);
  const auto it = items_.find(key);
  if (it == items_.end()) return;
  if (it->second.queued) ready_.erase({it->second.not_before, key});
  items_.erase(it);
}

void WorkQueue::shutDown() {
  std::lock_guard lock(mutex_);
  shut_down_ = true;
  work_.notify_all();
}

bool WorkQueue::waitIdle(std::chrono::milliseconds grace) {
  std::unique_lock lock(mutex_);
  return work_.wait_for(lock, grace, [&] { return processing_ == 0; });
}

size_t WorkQueue::depth() const {
  std::lock_guard lock(mutex_);
  return ready_.size();
}

int WorkQueue::processing() const {
  std::lock_guard lock(mutex_);
  return processing_;
}

}  // namespace kbinder::host
