// SPDX-License-Identifier: Apache-2.0
// An informer: lists one kind from a source (a ListWatch: a cluster backend's list and watch,
// or the API server's own), then watches it from the list's resourceVersion, and hands every
// change to a handler in order, on its own thread. When the watch ends (as after a "too old
// resource version") it lists again, replaying the current state as additions; a failed list
// is tried again with backoff. The one list-watch loop of kbinder: the controller's informers
// and the Kubernetes backend's caches all run on it.
//
// Thread-safety: start/stop/waitForSync from one owner thread; the handlers run on the
// informer's thread only.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "host/cluster/cluster.h"

namespace kbinder::host {

// What an informer follows: one kind, listed, then watched from the list's resourceVersion.
class ListWatch {
 public:
  virtual ~ListWatch() = default;
  // Hands every object there is now to `item`, as an addition, one at a time (the list is
  // never held whole), and returns the list's resourceVersion.
  virtual StatusOr<std::string> list(const std::function<void(WatchEvent&&)>& item) = 0;
  // The changes after `resource_version`; an error ends the watch (ABORTED "too old resource
  // version": list again).
  virtual StatusOr<std::unique_ptr<Watch>> watch(const std::string& resource_version) = 0;
};

// A kind of a backend's, in one namespace or all: its list() and watch().
class BackendListWatch final : public ListWatch {
 public:
  BackendListWatch(ClusterBackend& cluster, Kind kind, std::string namespace_)
      : cluster_(cluster), kind_(kind), namespace_(std::move(namespace_)) {}
  StatusOr<std::string> list(const std::function<void(WatchEvent&&)>& item) override;
  StatusOr<std::unique_ptr<Watch>> watch(const std::string& resource_version) override;

 private:
  ClusterBackend& cluster_;
  Kind kind_;
  std::string namespace_;
};

class Informer final : public Subscription {
 public:
  using Handler = WatchHandler;
  using EncodedHandler = EncodedWatchHandler;
  // Told when a list begins, and whether it ended complete (its last object handed over) or
  // failed (some objects handed over, then an error: it is tried again): what a handler that
  // mirrors the kind needs to drop what a complete list no longer has.
  // With kComplete, the list's resourceVersion; else empty.
  enum class ListPhase { kBegin, kComplete, kFailed };
  using ListHandler = std::function<void(ListPhase, const std::string& resource_version)>;

  // Follows `source`'s objects of `kind`; changes outside `namespace_` (when not empty) are
  // passed over.
  Informer(std::unique_ptr<ListWatch> source, Kind kind, std::string namespace_, Handler handler)
      : source_(std::move(source)),
        kind_(kind),
        namespace_(std::move(namespace_)),
        handler_(std::move(handler)) {}
  // The same over a backend's list() and watch().
  Informer(ClusterBackend& cluster, Kind kind, const std::string& namespace_, Handler handler)
      : Informer(std::make_unique<BackendListWatch>(cluster, kind, namespace_), kind, namespace_,
                 std::move(handler)) {}
  ~Informer() override { stop(); }
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Before start(): changes that come through a watch serving them encoded (Watch::encoded)
  // go to `handler` instead, so that it can read what it needs without decoding the rest. The
  // lists, and watches that decode, still go to the Handler. Only for an informer of every
  // namespace (it filters by decoded metadata otherwise).
  void handleEncoded(EncodedHandler handler) { encoded_handler_ = std::move(handler); }
  // Before start(): see ListHandler.
  void handleLists(ListHandler handler) { list_handler_ = std::move(handler); }

  void start();
  // Blocks until the first list was handed to the handler, or the informer stopped. Returns
  // the error of the last failed list when it stopped without syncing.
  Status waitForSync() override;
  void stop() override;

 private:
  void run();

  std::unique_ptr<ListWatch> source_;
  Kind kind_;
  std::string namespace_;
  Handler handler_;
  EncodedHandler encoded_handler_;
  ListHandler list_handler_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
  bool synced_ = false;
  Status last_error_;
};

}  // namespace kbinder::host
