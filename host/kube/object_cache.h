// SPDX-License-Identifier: Apache-2.0
// A watch-fed cache of one kind's objects on the API server, for the Kubernetes backend's reads
// (internal to host/kube/): it lists the kind page by page, then follows its watch from the
// list's resourceVersion, and lists again when the watch is gone. Its reads answer only once it
// has listed. Watches of the kind are served from the changes it applied (CacheWatch), so the
// server streams each kind once.
//
// Thread-safety: every method may be called from any thread; start() and stop() from the owner.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "host/cluster/cluster.h"
#include "host/cluster/field_index.h"
#include "host/cluster/list_filter.h"
#include "host/kube/kube_client.h"

namespace kbinder::host {

class ObjectCache {
 public:
  // `page_size`: the list's page; `watch_timeout`: how long one watch request lasts.
  ObjectCache(KubeClient& client, Kind kind, std::string namespace_, size_t page_size,
              std::chrono::seconds watch_timeout)
      : client_(client),
        kind_(kind),
        namespace_(std::move(namespace_)),
        page_size_(page_size),
        watch_timeout_(watch_timeout) {}
  ~ObjectCache() { stop(); }
  ObjectCache(const ObjectCache&) = delete;
  ObjectCache& operator=(const ObjectCache&) = delete;

  void start() { thread_ = std::thread([this] { run(); }); }
  void stop();
  // Whether it listed within `timeout`.
  bool waitSynced(std::chrono::milliseconds timeout);
  bool synced();

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

  // Watches of the kind are served from the changes the cache applied (one stream per kind,
  // each event parsed once), for as long as the cache keeps them: the newest kLogLimit, and
  // only since its last list. Where a watch from `rv` starts, as (generation, the sequence
  // number after which its events are); nullopt when the cache cannot serve `rv` (not one it
  // listed or applied since its last list, or older than what it keeps).
  std::optional<std::pair<uint64_t, uint64_t>> positionOf(const std::string& rv);
  // The change after `seq` (then advanced), waiting up to `timeout`; ABORTED ("too old
  // resource version", as the API server says it) once the cache listed again or no longer
  // keeps it, UNAVAILABLE once the cache stopped.
  StatusOr<std::optional<WatchEvent>> next(uint64_t generation, uint64_t& seq,
                                           std::chrono::milliseconds timeout);

 private:
  static constexpr size_t kLogLimit = 4096;

  struct Entry {
    Json raw;  // as listed; null once a watched change replaced the typed form
    kbinder::v1::Object typed;
  };
  struct Logged {
    uint64_t seq;
    std::string rv;  // the resourceVersion the change brought the cache to
    WatchEvent event;
  };

  const Entry* findLocked(const std::string& ns, const std::string& name) const;
  void run();

  KubeClient& client_;
  Kind kind_;
  std::string namespace_;
  size_t page_size_;
  std::chrono::seconds watch_timeout_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable changed_;
  bool synced_ = false;
  std::string rv_;
  std::map<std::string, Entry> entries_;
  using EntryIt = std::map<std::string, Entry>::const_iterator;
  struct ByKey {
    bool operator()(const EntryIt& a, const EntryIt& b) const { return a->first < b->first; }
  };
  KindIndexes<EntryIt, ByKey> indexes_{kind_};  // see field_index.h
  std::deque<Logged> log_;       // the newest changes applied since the last list
  uint64_t next_seq_ = 1;
  uint64_t generation_ = 0;      // lists so far
  std::string list_rv_;          // the resourceVersion of the last list
  uint64_t list_seq_ = 0;        // the sequence number before the last list's first change
  std::thread thread_;
};

// A watch served from a cache's log of the changes it applied.
class CacheWatch final : public Watch {
 public:
  CacheWatch(ObjectCache& cache, uint64_t generation, uint64_t seq)
      : cache_(cache), generation_(generation), seq_(seq) {}
  StatusOr<std::optional<WatchEvent>> next(std::chrono::milliseconds timeout) override {
    return cache_.next(generation_, seq_, timeout);
  }

 private:
  ObjectCache& cache_;
  uint64_t generation_;
  uint64_t seq_;
};

}  // namespace kbinder::host
