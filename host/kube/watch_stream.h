// SPDX-License-Identifier: Apache-2.0
// Lists and watches on the API server: a kind's watch stream from a resourceVersion, which
// takes bookmarks, reconnects from the last resourceVersion seen (nothing lost, nothing twice)
// with backoff, and ends with ABORTED "too old resource version" on HTTP 410 or an ERROR event
// of code 410, so that its reader lists again; the paged list an informer starts from; and the
// paths and the splitting they rest on.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "host/cluster/cluster.h"
#include "host/cluster/informer.h"
#include "host/kube/kube_client.h"

namespace kbinder::host {

// Splits a stream of concatenated JSON objects (a watch body) into whole objects, however the
// bytes are chunked.
class JsonStreamSplitter {
 public:
  // Feeds bytes; returns the objects completed by them, in order.
  std::vector<std::string> feed(std::string_view data);

 private:
  std::string current_;
  int depth_ = 0;
  bool in_string_ = false, escaped_ = false;
};

// The URL path of a kind's collection ("/api/v1/namespaces/ns/pods") or of one object.
std::string resourcePath(Kind kind, const std::string& namespace_, const std::string& name = "");

// `namespace_`'s objects of `kind` (all namespaces when empty), from `resource_version`; each
// watch request lasts `timeout` before it is made again. The client must outlive the watch.
std::unique_ptr<Watch> watchApi(KubeClient& client, Kind kind, const std::string& namespace_,
                                const std::string& resource_version, std::chrono::seconds timeout);

// A kind on the API server, for an informer: listed page by page (`page_size` objects a page;
// each object handed over with its raw form), then watched with watchApi.
class ApiListWatch final : public ListWatch {
 public:
  ApiListWatch(KubeClient& client, Kind kind, std::string namespace_, size_t page_size,
               std::chrono::seconds watch_timeout)
      : client_(client),
        kind_(kind),
        namespace_(std::move(namespace_)),
        page_size_(page_size),
        watch_timeout_(watch_timeout) {}
  StatusOr<std::string> list(const std::function<void(WatchEvent&&)>& item) override;
  StatusOr<std::unique_ptr<Watch>> watch(const std::string& resource_version) override {
    return watchApi(client_, kind_, namespace_, resource_version, watch_timeout_);
  }

 private:
  KubeClient& client_;
  Kind kind_;
  std::string namespace_;
  size_t page_size_;
  std::chrono::seconds watch_timeout_;
};

}  // namespace kbinder::host
