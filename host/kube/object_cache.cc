// SPDX-License-Identifier: Apache-2.0
#include "host/kube/object_cache.h"

#include <utility>
#include <vector>

#include "host/base/logging.h"
#include "host/base/object_key.h"
#include "host/kube/watch_stream.h"

namespace kbinder::host {

using kbinder::v1::Object;

ObjectCache::ObjectCache(KubeClient& client, Kind kind, const std::string& namespace_,
                         size_t page_size, std::chrono::seconds watch_timeout)
    : ObjectCache(
          std::make_unique<ApiListWatch>(client, kind, namespace_, page_size, watch_timeout), kind,
          namespace_) {}

ObjectCache::ObjectCache(std::unique_ptr<ListWatch> source, Kind kind, std::string namespace_)
    : kind_(kind),
      namespace_(std::move(namespace_)),
      informer_(std::move(source), kind, this->namespace_,
                [this](const WatchEvent& event) { apply(event); }) {
  informer_.handleLists([this](Informer::ListPhase phase, const std::string& resource_version) {
    listed(phase, resource_version);
  });
}

void ObjectCache::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  informer_.stop();
  std::lock_guard deliver(deliver_mutex_);
  stopped_ = true;
}

bool ObjectCache::waitSynced(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return synced_ || stopping_; }) && synced_;
}

bool ObjectCache::synced() {
  std::lock_guard lock(mutex_);
  return synced_;
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
  if (entry == nullptr || entry->raw == nullptr ||
      rawString(*entry->raw, {"metadata", "resourceVersion"}) != resource_version) {
    return std::nullopt;
  }
  return *entry->raw;
}

std::optional<kbinder::v1::ObjectList> ObjectCache::list(const std::string& ns,
                                                         const ListFilter& filter) {
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

const ObjectCache::Entry* ObjectCache::findLocked(const std::string& ns,
                                                  const std::string& name) const {
  if (!synced_) return nullptr;
  const auto it = entries_.find(objectKey(kindNamespaced(kind_) ? ns : "", name));
  return it == entries_.end() ? nullptr : &it->second;
}

void ObjectCache::apply(const WatchEvent& event) {
  std::lock_guard deliver(deliver_mutex_);
  {
    const auto& meta = metadataOf(event.object);
    const std::string key = objectKey(kindNamespaced(kind_) ? meta.namespace_() : "", meta.name());
    std::lock_guard lock(mutex_);
    if (event.type == WatchEvent::Type::kDeleted) {
      if (const auto it = entries_.find(key); it != entries_.end()) {
        indexes_.update(it, &it->second.typed, nullptr);
        entries_.erase(it);
      }
    } else {
      // The typed object carries what the cycle needs. A listed object keeps its raw form, the
      // base of a patch guarded by its version; a watched change replaces it, and the raw form
      // is fetched again when a patch needs it.
      auto [it, created] = entries_.try_emplace(key);
      indexes_.update(it, created ? nullptr : &it->second.typed, &event.object);
      it->second.typed = event.object;
      it->second.raw = event.raw;
      it->second.list = list_;
    }
    // Objects listed carry older versions than the list's: the list sets it when complete.
    if (!listing_) rv_ = meta.resource_version();
  }
  deliverLocked(event);
}

void ObjectCache::listed(Informer::ListPhase phase, const std::string& resource_version) {
  std::lock_guard deliver(deliver_mutex_);
  std::vector<WatchEvent> gone;
  {
    std::lock_guard lock(mutex_);
    listing_ = phase == Informer::ListPhase::kBegin;
    if (phase == Informer::ListPhase::kBegin) {
      ++list_;
      return;
    }
    if (phase != Informer::ListPhase::kComplete) return;  // kept as they are: listed again
    // What the complete list no longer has was deleted while no watch ran.
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (it->second.list == list_) {
        ++it;
        continue;
      }
      indexes_.update(it, &it->second.typed, nullptr);
      gone.push_back(WatchEvent{WatchEvent::Type::kDeleted, std::move(it->second.typed), nullptr});
      it = entries_.erase(it);
    }
    rv_ = resource_version;
    synced_ = true;
    changed_.notify_all();
  }
  for (const WatchEvent& event : gone) deliverLocked(event);
}

void ObjectCache::deliverLocked(const WatchEvent& event) {
  if (stopped_ || subscribers_.empty()) return;
  const std::string& ns = metadataOf(event.object).namespace_();
  for (const Subscriber& subscriber : subscribers_) {
    if (subscriber.namespace_.empty() || subscriber.namespace_ == ns) subscriber.handler(event);
  }
}

class ObjectCache::CacheSubscription final : public Subscription {
 public:
  CacheSubscription(ObjectCache& cache, std::list<Subscriber>::iterator at)
      : cache_(cache), at_(at) {}
  ~CacheSubscription() override { stop(); }
  Status waitForSync() override {
    std::unique_lock lock(cache_.mutex_);
    cache_.changed_.wait(lock, [&] { return cache_.synced_ || cache_.stopping_; });
    if (cache_.synced_) return okStatus();
    return Status(StatusCode::kUnavailable,
                  "the cache of " + std::string(kindResource(cache_.kind_)) + " stopped");
  }
  void stop() override {
    std::lock_guard deliver(cache_.deliver_mutex_);
    if (!left_) cache_.subscribers_.erase(at_);
    left_ = true;
  }

 private:
  ObjectCache& cache_;
  std::list<Subscriber>::iterator at_;
  bool left_ = false;  // guarded by the cache's deliver_mutex_
};

std::unique_ptr<Subscription> ObjectCache::subscribe(const std::string& namespace_,
                                                     WatchHandler handler) {
  std::lock_guard deliver(deliver_mutex_);
  std::vector<WatchEvent> now;
  {
    std::lock_guard lock(mutex_);
    now.reserve(entries_.size());
    for (const auto& [key, entry] : entries_) {
      if (!namespace_.empty() && metadataOf(entry.typed).namespace_() != namespace_) continue;
      now.push_back(WatchEvent{WatchEvent::Type::kAdded, entry.typed, nullptr});
    }
  }
  for (const WatchEvent& event : now) handler(event);
  subscribers_.push_back(Subscriber{namespace_, std::move(handler)});
  return std::make_unique<CacheSubscription>(*this, std::prev(subscribers_.end()));
}

}  // namespace kbinder::host
