// SPDX-License-Identifier: Apache-2.0
// Raw access to an embedded store: objects as JSON, of any kind, with the API server's rules
// for create (generateName), merge patch and update (resourceVersion preconditions, status
// subresources), delete (finalizers) and raw watches. What the test API server serves, and how
// tests script changes to a rehearsed cluster; kbinder itself reaches the store only through
// its ClusterBackend interface.
//
// A RawStore is a view: many may be made over one store, from any thread, and none may outlive
// it. Raw watches need the store loaded with Options::raw_watches (the default).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "host/store/embedded_store.h"

namespace kbinder::host::store_internal {
class StoreState;
}  // namespace kbinder::host::store_internal

namespace kbinder::testing {

class RawStore {
 public:
  using Json = host::Json;
  template <typename T>
  using StatusOr = host::StatusOr<T>;

  explicit RawStore(host::EmbeddedStore& store) : store_(store), state_(store.state()) {}

  // The raw object, as the store holds it; NOT_FOUND when absent. `kind` is any kind string.
  StatusOr<Json> getRaw(const std::string& kind, const std::string& namespace_,
                        const std::string& name) const;
  // Stores `raw` as a new object or in place of an existing one (any kind), as a client with
  // full write access would.
  StatusOr<Json> put(Json raw);
  // Deletes an object; NOT_FOUND when absent.
  host::Status remove(const std::string& kind, const std::string& namespace_,
                      const std::string& name);
  // Every object as it is now, in load order, objects created later at the end, in the form
  // the manifest was read in.
  StatusOr<host::Manifest> snapshot() const;

  struct RawEvent {
    host::WatchEvent::Type type;
    // The version the change left, shared with the store's history (immutable while shared:
    // taking an event copies nothing under the lock). For deletions, the object's last state
    // with the deletion's resourceVersion.
    std::shared_ptr<const Json> object;
  };
  class RawWatch {
   public:
    virtual ~RawWatch() = default;
    // As Watch::next; ABORTED "too old resource version" when the history was trimmed.
    virtual StatusOr<std::optional<RawEvent>> next(std::chrono::milliseconds timeout) = 0;
    // The resourceVersion up to which this watch has seen the history (for bookmarks).
    virtual uint64_t position() const = 0;
  };
  struct RawList {
    std::vector<Json> items;
    uint64_t resource_version = 0;
    std::string continue_token;  // empty on the last page
  };
  // `namespace_` empty: all namespaces. `limit` 0: no paging.
  StatusOr<RawList> listRaw(const std::string& kind, const std::string& namespace_,
                            const std::string& label_selector, size_t limit,
                            const std::string& continue_token) const;
  StatusOr<std::unique_ptr<RawWatch>> watchRaw(const std::string& kind,
                                               const std::string& namespace_, uint64_t after);
  // ALREADY_EXISTS when taken; generateName honoured; uid, creationTimestamp stamped.
  StatusOr<Json> createRaw(Json object);
  // A JSON merge patch (RFC 7386); its metadata.resourceVersion, when set, is a precondition.
  StatusOr<Json> patchRaw(const std::string& kind, const std::string& namespace_,
                          const std::string& name, const Json& merge_patch,
                          const std::string& subresource);
  // PUT: replaces the object; its metadata.resourceVersion, when set, is a precondition.
  StatusOr<Json> updateRaw(Json object, const std::string& subresource);
  // With finalizers: sets deletionTimestamp and returns the object; else removes it.
  StatusOr<Json> deleteRaw(const std::string& kind, const std::string& namespace_,
                           const std::string& name);
  // Forgets the watch history up to now, as etcd compaction does: watches from an older
  // resourceVersion are Gone.
  void compactHistory();

 private:
  using Key = std::tuple<std::string, std::string, std::string>;
  // Applies `replacement` (the whole new raw object) to an existing object, honouring the
  // status subresource rules; used by patchRaw and updateRaw. Requires the store's lock, held
  // through a WriteLock.
  StatusOr<Json> replaceLocked(const Key& key, Json replacement, const std::string& subresource,
                               const std::string& precondition);

  host::EmbeddedStore& store_;
  host::store_internal::StoreState& state_;
};

}  // namespace kbinder::testing
