// SPDX-License-Identifier: Apache-2.0
#include "host/kube/object_cache.h"

#include "host/base/logging.h"
#include "host/base/object_key.h"
#include "host/kube/watch_stream.h"

namespace kbinder::host {

using kbinder::v1::Object;

void ObjectCache::stop() {
  stopping_ = true;
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool ObjectCache::waitSynced(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return synced_; });
}

bool ObjectCache::readTyped(const std::string& ns, const std::string& name,
               const std::function<void(const Object&)>& read) {
  std::lock_guard lock(mutex_);
  const Entry* entry = findLocked(ns, name);
  if (entry == nullptr) return false;
  read(entry->typed);
  return true;
}

std::optional<Json> ObjectCache::findRaw(const std::string& ns, const std::string& name,
                            const std::string& resource_version) {
  std::lock_guard lock(mutex_);
  const Entry* entry = findLocked(ns, name);
  if (entry == nullptr || entry->raw.is_null() ||
      rawString(entry->raw, {"metadata", "resourceVersion"}) != resource_version) {
    return std::nullopt;
  }
  return entry->raw;
}

std::optional<kbinder::v1::ObjectList> ObjectCache::list(const std::string& ns, const ListFilter& filter) {
  std::lock_guard lock(mutex_);
  if (!synced_) return std::nullopt;
  kbinder::v1::ObjectList out;
  const auto take = [&](const Entry& entry) {
    if (!ns.empty() && metadataOf(entry.typed).namespace_() != ns) return;
    if (!filter.matches(entry.typed)) return;
    *out.add_items() = entry.typed;
  };
  // A selector on an indexed field, or volumes a node must admit, look only where an index
  // points.
  if (!indexes_.forEachCandidate(filter, [&](const EntryIt& it) { take(it->second); })) {
    for (const auto& [key, entry] : entries_) take(entry);
  }
  out.set_resource_version(rv_);
  return out;
}

bool ObjectCache::synced() {
  std::lock_guard lock(mutex_);
  return synced_;
}

std::optional<std::pair<uint64_t, uint64_t>> ObjectCache::positionOf(const std::string& rv) {
  std::lock_guard lock(mutex_);
  if (!synced_ || rv.empty()) return std::nullopt;
  for (auto it = log_.rbegin(); it != log_.rend(); ++it) {
    if (it->rv == rv) return std::make_pair(generation_, it->seq);
  }
  if (rv == list_rv_ && (log_.empty() || log_.front().seq == list_seq_ + 1)) {
    return std::make_pair(generation_, list_seq_);
  }
  return std::nullopt;
}

StatusOr<std::optional<WatchEvent>> ObjectCache::next(uint64_t generation, uint64_t& seq,
                                         std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mutex_);
  while (true) {
    if (stopping_) return Status(StatusCode::kUnavailable, "watch stopped");
    if (generation != generation_) {
      return Status(StatusCode::kAborted, "too old resource version: the cache of " +
                                              std::string(kindResource(kind_)) + " listed again");
    }
    if (!log_.empty() && log_.back().seq > seq) {
      if (seq + 1 < log_.front().seq) {
        return Status(StatusCode::kAborted, "too old resource version: the watch of " +
                                                std::string(kindResource(kind_)) + " fell behind");
      }
      const Logged& logged = log_[seq + 1 - log_.front().seq];
      ++seq;
      return std::optional<WatchEvent>(logged.event);
    }
    if (changed_.wait_until(lock, deadline) == std::cv_status::timeout) {
      return std::optional<WatchEvent>();
    }
  }
}

const ObjectCache::Entry* ObjectCache::findLocked(const std::string& ns, const std::string& name) const {
  if (!synced_) return nullptr;
  const auto it = entries_.find(objectKey(kindNamespaced(kind_) ? ns : "", name));
  return it == entries_.end() ? nullptr : &it->second;
}

void ObjectCache::run() {
  while (!stopping_) {
    // List, raw, page by page.
    std::map<std::string, Entry> fresh;
    std::string rv, cont;
    bool ok = true;
    do {
      std::string path = resourcePath(kind_, namespace_) + "?limit=" +
                         std::to_string(page_size_);
      if (!cont.empty()) path += "&continue=" + client_.escape(cont);
      const HttpResult r = client_.request("GET", path);
      if (r.status != 200) {
        hostLogger().warn("{}; retrying", statusOf(r, "listing " + std::string(kindResource(kind_))).message());
        ok = false;
        break;
      }
      Json page = Json::parse(r.body, nullptr, false);
      if (page.is_discarded()) {
        ok = false;
        break;
      }
      if (rv.empty()) rv = rawString(page, {"metadata", "resourceVersion"});
      cont = rawString(page, {"metadata", "continue"});
      for (auto& item : page["items"]) {
        auto typed = objectFromJson(kind_, item);
        if (!typed.ok()) continue;
        // The key first: the assignment's right side is evaluated before its left.
        const std::string key =
            objectKey(rawString(item, {"metadata", "namespace"}), rawString(item, {"metadata", "name"}));
        fresh[key] = Entry{std::move(item), std::move(typed).value()};
      }
    } while (!cont.empty() && !stopping_);
    if (!ok) {
      std::unique_lock lock(mutex_);
      changed_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_.load(); });
      continue;
    }
    {
      std::lock_guard lock(mutex_);
      entries_ = std::move(fresh);
      indexes_.clear();
      for (auto it = entries_.begin(); it != entries_.end(); ++it) {
        indexes_.update(it, nullptr, &it->second.typed);
      }
      rv_ = rv;
      synced_ = true;
      ++generation_;  // watches served from before this list are Gone
      log_.clear();
      list_rv_ = rv;
      list_seq_ = next_seq_ - 1;
      changed_.notify_all();
    }
    // Then follow the changes, raw, until the watch is gone.
    const auto watch = watchApi(client_, kind_, namespace_, rv, watch_timeout_);
    while (!stopping_) {
      auto event = watch->next(std::chrono::milliseconds(200));
      if (!event.ok()) break;  // gone: list again
      if (!event->has_value()) continue;
      WatchEvent& e = **event;
      const auto& meta = metadataOf(e.object);
      std::lock_guard lock(mutex_);
      const std::string key = objectKey(meta.namespace_(), meta.name());
      if (e.type == WatchEvent::Type::kDeleted) {
        if (const auto it = entries_.find(key); it != entries_.end()) {
          indexes_.update(it, &it->second.typed, nullptr);
          entries_.erase(it);
        }
      } else {
        // The typed object carries what the cycle needs; the raw form is fetched again when
        // a patch needs it, so a watched change only keeps the typed form current.
        auto [it, created] = entries_.try_emplace(key);
        indexes_.update(it, created ? nullptr : &it->second.typed, &e.object);
        it->second.typed = e.object;
        it->second.raw = Json();
      }
      rv_ = meta.resource_version();
      log_.push_back(Logged{next_seq_++, rv_, std::move(e)});  // `meta` is not read after this
      if (log_.size() > kLogLimit) log_.pop_front();
      changed_.notify_all();
    }
  }
}

}  // namespace kbinder::host
