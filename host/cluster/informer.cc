// SPDX-License-Identifier: Apache-2.0
#include "host/cluster/informer.h"

#include "host/base/backoff.h"
#include "host/base/logging.h"

namespace kbinder::host {

void Informer::start() {
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void Informer::stop() {
  stopping_ = true;
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  cv_.notify_all();
}

Status Informer::waitForSync() {
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] { return synced_ || stopping_; });
  if (synced_) return okStatus();
  return last_error_.ok() ? Status(StatusCode::kUnavailable, "informer stopped") : last_error_;
}

StatusOr<std::string> BackendListWatch::list(const std::function<void(WatchEvent&&)>& item) {
  kbinder::v1::ListRequest request;
  request.set_kind(std::string(kindName(kind_)));
  request.set_namespace_(namespace_);
  auto listed = cluster_.list(request);
  if (!listed.ok()) return listed.status();
  // Each item is handed over and let go of at once: the list, as large as the cluster, is not
  // kept while the watch runs.
  for (auto& object : *listed->mutable_items()) {
    item(WatchEvent{WatchEvent::Type::kAdded, std::move(object), nullptr});
  }
  return listed->resource_version();
}

StatusOr<std::unique_ptr<Watch>> BackendListWatch::watch(const std::string& resource_version) {
  return cluster_.watch(kind_, resource_version);
}

StatusOr<std::unique_ptr<Subscription>> ClusterBackend::subscribe(Kind kind,
                                                                  const std::string& namespace_,
                                                                  WatchHandler handler,
                                                                  EncodedWatchHandler encoded) {
  auto informer = std::make_unique<Informer>(*this, kind, namespace_, std::move(handler));
  if (encoded) informer->handleEncoded(std::move(encoded));
  informer->start();
  return std::unique_ptr<Subscription>(std::move(informer));
}

void Informer::run() {
  const std::string what(kindResource(kind_));
  Backoff backoff(std::chrono::milliseconds(100), std::chrono::milliseconds(5000));
  while (!stopping_) {
    if (list_handler_) list_handler_(ListPhase::kBegin, "");
    auto listed = source_->list([&](WatchEvent&& event) { handler_(event); });
    if (list_handler_) {
      list_handler_(listed.ok() ? ListPhase::kComplete : ListPhase::kFailed,
                    listed.ok() ? *listed : std::string());
    }
    if (!listed.ok()) {
      hostLogger().warn("listing {} failed: {}; retrying", what, listed.status().message());
      {
        std::lock_guard lock(mutex_);
        last_error_ = listed.status();
      }
      std::unique_lock lock(mutex_);
      cv_.wait_for(lock, backoff.next(), [&] { return stopping_.load(); });
      continue;
    }
    backoff.reset();
    const std::string resource_version = std::move(listed).value();
    {
      std::lock_guard lock(mutex_);
      synced_ = true;
    }
    cv_.notify_all();
    auto watch = source_->watch(resource_version);
    if (!watch.ok()) {
      hostLogger().warn("watching {} failed: {}; listing again", what, watch.status().message());
      continue;
    }
    if (encoded_handler_ && namespace_.empty() && (*watch)->encoded()) {
      while (!stopping_) {
        auto event = (*watch)->nextEncoded(std::chrono::milliseconds(100));
        if (!event.ok()) {
          hostLogger().info("watch of {} ended: {}; listing again", what, event.status().message());
          break;
        }
        if (event->has_value() && (*event)->object != nullptr) {
          encoded_handler_((*event)->type, *(*event)->object);
        }
      }
      continue;
    }
    while (!stopping_) {
      auto event = (*watch)->next(std::chrono::milliseconds(100));
      if (!event.ok()) {
        hostLogger().info("watch of {} ended: {}; listing again", what, event.status().message());
        break;
      }
      if (!event->has_value()) continue;
      const auto& e = **event;
      if (!namespace_.empty() && metadataOf(e.object).namespace_() != namespace_) continue;
      handler_(e);
    }
  }
}

}  // namespace kbinder::host
