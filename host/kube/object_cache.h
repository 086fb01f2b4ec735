// SPDX-License-Identifier: Apache-2.0
// A watch-fed cache of one kind's objects on the API server, for the Kubernetes backend's reads
// and its subscribers (internal to host/kube/): an informer (informer.h) lists the kind page by
// page and follows its watch; the cache mirrors what it hands over, and hands the same on to
// its subscribers, so that each kind is listed and watched once however many follow it. Its
// reads answer only once it has listed.
//
// Thread-safety: every method may be called from any thread; start() and stop() from the owner.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "host/cluster/cluster.h"
#include "host/cluster/field_index.h"
#include "host/cluster/informer.h"
#include "host/cluster/list_filter.h"
#include "host/kube/kube_client.h"

namespace kbinder::host {

class ObjectCache {
 public:
  // `page_size`: the list's page; `watch_timeout`: how long one watch request lasts.
  ObjectCache(KubeClient& client, Kind kind, const std::string& namespace_, size_t page_size,
              std::chrono::seconds watch_timeout);
  // The same over another source of the kind's objects in `namespace_`.
  ObjectCache(std::unique_ptr<ListWatch> source, Kind kind, std::string namespace_);
  ~ObjectCache() { stop(); }
  ObjectCache(const ObjectCache&) = delete;
  ObjectCache& operator=(const ObjectCache&) = delete;

  void start() { informer_.start(); }
  // No subscriber is handed anything after this returns.
  void stop();
  // Whether it listed within `timeout`.
  bool waitSynced(std::chrono::milliseconds timeout);
  bool synced();
  // The namespace it holds; empty: all.
  const std::string& heldNamespace() const { return namespace_; }

  // Hands the object's typed form to `read`, under the cache's lock (what it takes is its
  // own: a copy, or the encoding); false if the object is not here (or the cache is not
  // synced yet).
  bool readTyped(const std::string& ns, const std::string& name,
                 const std::function<void(const kbinder::v1::Object&)>& read);
  // The object's raw form if the cache holds it at `resource_version` (only the raw form is
  // copied: most reads want the typed one alone).
  std::optional<Json> findRaw(const std::string& ns, const std::string& name,
                              const std::string& resource_version);
  // nullopt while not synced.
  std::optional<kbinder::v1::ObjectList> list(const std::string& ns, const ListFilter& filter);

  // Hands `handler` the objects the cache holds (in `namespace_`, or all when empty) as
  // additions, at once, on the caller's thread; then, on the cache's thread, in order, every
  // change the cache applies: what ClusterBackend::subscribe promises. When a new list no
  // longer has an object, its deletion is handed over.
  std::unique_ptr<Subscription> subscribe(const std::string& namespace_, WatchHandler handler);

 private:
  class CacheSubscription;
  struct Entry {
    std::shared_ptr<Json> raw;  // as listed; null once a watched change replaced the typed form
    kbinder::v1::Object typed;
    uint64_t list = 0;  // the list that last had it, or the last before it was added
  };
  struct Subscriber {
    std::string namespace_;
    WatchHandler handler;
  };

  // The informer's handlers: a change applied, then handed to the subscribers.
  void apply(const WatchEvent& event);
  void listed(Informer::ListPhase phase, const std::string& resource_version);
  void deliverLocked(const WatchEvent& event);  // requires deliver_mutex_
  const Entry* findLocked(const std::string& ns, const std::string& name) const;

  Kind kind_;
  std::string namespace_;
  // Held while a change is applied and handed to the subscribers, and while one joins or leaves:
  // a subscriber misses nothing and sees nothing twice.
  std::mutex deliver_mutex_;
  std::list<Subscriber> subscribers_;
  bool stopped_ = false;             // guarded by deliver_mutex_
  std::mutex mutex_;                 // the objects
  std::condition_variable changed_;  // synced_ or stopping_ became true
  bool synced_ = false;
  bool stopping_ = false;  // guarded by mutex_
  std::string rv_;
  uint64_t list_ = 0;     // lists begun
  bool listing_ = false;  // between a list's beginning and its end
  std::map<std::string, Entry> entries_;
  using EntryIt = std::map<std::string, Entry>::const_iterator;
  struct ByKey {
    bool operator()(const EntryIt& a, const EntryIt& b) const { return a->first < b->first; }
  };
  KindIndexes<EntryIt, ByKey> indexes_{kind_};  // see field_index.h
  Informer informer_;  // last: made once the rest is, stopped (by stop()) before it goes
};

}  // namespace kbinder::host
