// SPDX-License-Identifier: Apache-2.0
// An informer: lists one kind through a cluster backend, then watches it, and hands every
// change to a handler in order, on its own thread. Re-lists when a watch ends (as after a
// "too old resource version"), replaying the current state as additions.
//
// Thread-safety: start/stop/waitForSync from one owner thread; the handler runs on the
// informer's thread only.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "host/cluster/cluster.h"

namespace kbinder::host {

class Informer {
 public:
  using Handler = std::function<void(const WatchEvent&)>;
  // A change with its object in wire form (kbinder.v1.Object), valid during the call.
  using EncodedHandler = std::function<void(WatchEvent::Type, std::string_view)>;

  Informer(ClusterBackend& cluster, Kind kind, std::string namespace_, Handler handler)
      : cluster_(cluster), kind_(kind), namespace_(std::move(namespace_)),
        handler_(std::move(handler)) {}
  ~Informer() { stop(); }
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Before start(): changes that come through a watch serving them encoded (Watch::encoded)
  // go to `handler` instead, so that it can read what it needs without decoding the rest. The
  // first list, and watches that decode, still go to the Handler. Only for an informer of
  // every namespace (it filters by decoded metadata otherwise).
  void handleEncoded(EncodedHandler handler) { encoded_handler_ = std::move(handler); }

  void start();
  void stop();
  // Blocks until the first list was handed to the handler, or the informer stopped. Returns
  // the error of the last failed list when it stopped without syncing.
  Status waitForSync();

 private:
  void run();

  ClusterBackend& cluster_;
  Kind kind_;
  std::string namespace_;
  Handler handler_;
  EncodedHandler encoded_handler_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
  bool synced_ = false;
  Status last_error_;
};

}  // namespace kbinder::host
