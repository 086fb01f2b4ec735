// SPDX-License-Identifier: Apache-2.0
// The Kubernetes API backend: ClusterBackend over HTTPS to the API server.
//
// - Reads of the kinds the cycle reads often (pods, nodes, claims, volumes, classes, resource
//   claims) come from watch-fed caches once they are synced; reads marked fresh, and reads of
//   other kinds, go to the server.
// - Lists are paged (limit/continue). Watches stream from a resourceVersion, take bookmarks,
//   reconnect from the last resourceVersion seen (nothing lost, nothing twice), and report
//   "too old resource version" (HTTP 410 or an ERROR event in the stream) as ABORTED so the
//   caller lists again. Subscribers to a cached kind are handed the changes its cache follows:
//   each cached kind is listed and watched once (object_cache.h).
// - A patch is computed against the object as it is at the resourceVersion the caller read
//   (the cache's copy or a fresh GET; a newer object is a conflict without a request) and sent
//   as a JSON merge patch carrying that resourceVersion as precondition; statuses go through
//   /status. The Binding goes to pods/{name}/binding with the pod's UID; "already assigned" to
//   the same node counts as done.
//
// Thread-safety: every method may be called from many threads at once.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "host/cluster/cluster.h"
#include "host/kube/kube_client.h"
#include "host/kube/object_cache.h"

namespace kbinder::host {

class KubernetesBackend final : public ClusterBackend {
 public:
  struct Options {
    std::string namespace_;  // for caches of namespaced kinds: one namespace, or all when empty
    bool caches = true;
    size_t page_size = 500;
    std::chrono::seconds watch_timeout{300};
  };

  KubernetesBackend(std::unique_ptr<KubeClient> client, Options options);
  ~KubernetesBackend() override;

  // Starts the caches and waits until each listed its kind (or `timeout` passed).
  Status startCaches(std::chrono::milliseconds timeout);
  void stop();

  KubeClient& client() { return *client_; }

  // ClusterBackend
  StatusOr<kbinder::v1::Object> get(const kbinder::v1::GetRequest& request) override;
  // From the cache, encoded from its entry without copying it; else as get().
  StatusOr<std::string> getEncoded(const kbinder::v1::GetRequest& request) override;
  StatusOr<kbinder::v1::ObjectList> list(const kbinder::v1::ListRequest& request) override;
  StatusOr<kbinder::v1::Object> patch(const kbinder::v1::PatchRequest& request) override;
  StatusOr<std::string> patchMetadata(Kind kind, const std::string& namespace_,
                                      const std::string& name, const std::string& resource_version,
                                      const std::vector<MetadataEdit>& edits) override;
  // The status subresource patched with every field of the status, as patch() does when it
  // has no base (see patchBindRequestStatus); of the answer only the resourceVersion is read.
  StatusOr<std::string> writeBindRequestStatus(kbinder::v1::BindRequest request) override;
  StatusOr<kbinder::v1::Object> create(const kbinder::v1::Object& object) override;
  // POSTed as create() does; the answer is checked, not read.
  Status recordEvent(const kbinder::v1::Object& event) override;
  // From the API server, always (caches hand their changes to subscribers, not to watches).
  StatusOr<std::unique_ptr<Watch>> watch(Kind kind, const std::string& resource_version) override;
  // From the kind's cache, when there is one holding `namespace_` (or all namespaces): the
  // changes it follows are handed on, and the API server is not listed or watched again.
  StatusOr<std::unique_ptr<Subscription>> subscribe(Kind kind, const std::string& namespace_,
                                                    WatchHandler handler,
                                                    EncodedWatchHandler encoded = {}) override;
  Status bindPod(const PodBinding& binding) override;
  std::string describe() const override { return client_->config().server; }

  // Raw access for what is not a modeled kind (leases): GET and PUT/POST of whole objects.
  StatusOr<Json> getRaw(const std::string& path);
  StatusOr<Json> writeRaw(std::string_view method, const std::string& path, const Json& body);

 private:
  // A read that need not be fresh, of a kind cached and synced, answered from the cache:
  // `read` is handed the cached object (under the cache's lock), or NOT_FOUND is returned.
  // nullopt when the cache cannot answer (a fresh read, a kind not cached, not synced yet).
  std::optional<Status> readCached(const kbinder::v1::GetRequest& request, Kind kind,
                                   const std::function<void(const kbinder::v1::Object&)>& read);
  // A fresh read of an object: its text (remembered), or as a tree.
  StatusOr<std::string> fetchText(Kind kind, const std::string& namespace_,
                                  const std::string& name);
  StatusOr<Json> fetchRaw(Kind kind, const std::string& namespace_, const std::string& name);
  // Sends a merge patch to the object (or its status): the answer, or the error it names.
  StatusOr<HttpResult> sendPatch(Kind kind, const std::string& namespace_, const std::string& name,
                                 const std::string& subresource, const Json& body);
  // The same, reading only the answer's resourceVersion (the text is remembered as a base).
  StatusOr<std::string> patchForVersion(Kind kind, const std::string& namespace_,
                                        const std::string& name, const std::string& subresource,
                                        const Json& body);
  // Sends a merge patch to the object (or its status) and remembers the version written.
  StatusOr<kbinder::v1::Object> sendMergePatch(Kind kind, const std::string& namespace_,
                                               const std::string& name,
                                               const std::string& subresource, const Json& body);
  // A BindRequest's status written without reading the object first (see the definition).
  StatusOr<kbinder::v1::Object> patchBindRequestStatus(const std::string& ns,
                                                       const kbinder::v1::Object& object);
  // The POST that creates `object`: its answer, or the error (ALREADY_EXISTS for 409).
  StatusOr<HttpResult> post(const kbinder::v1::Object& object);

  std::unique_ptr<KubeClient> client_;
  Options options_;
  std::map<Kind, std::unique_ptr<ObjectCache>> caches_;
  // The raw objects this backend last read fresh or wrote, by path: a patch guarded by a
  // version just read needs the raw object of that version to compute its merge patch, and
  // the watch-fed caches may not have it yet. Bounded; cleared when full. Kept as the answer's
  // text, parsed when asked for (every patch remembers its answer; most are never asked for),
  // and shared, so that what a write replaces is freed after letting go of the lock.
  void rememberText(const std::string& path, std::string text);
  std::optional<Json> rememberedRaw(const std::string& path, const std::string& resource_version);
  std::mutex remembered_mutex_;
  std::unordered_map<std::string, std::shared_ptr<const std::string>> remembered_;
};

}  // namespace kbinder::host
