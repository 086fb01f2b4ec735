// SPDX-License-Identifier: Apache-2.0
// The cluster backend: the one interface through which the binder (controller, cycle, assume
// cache) and the plugins' object services reach a cluster. Two implementations: the embedded
// store (offline rehearsal) and the Kubernetes API.
//
// Semantics follow the API server: every object carries the resourceVersion of its last write;
// a patch names the resourceVersion it was computed from and fails with ABORTED (409) when the
// object changed since; NOT_FOUND (404) for missing objects; watches deliver changes in
// resourceVersion order.
//
// Thread-safety: implementations are safe to call from many threads at once.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "host/base/status.h"
#include "host/cluster/object_services.h"
#include "host/model/objects.h"
#include "kbinder/v1/plugin.pb.h"

namespace kbinder::host {

struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted };
  Type type = Type::kAdded;
  kbinder::v1::Object object;  // for kDeleted, the object's last state
  // The object as the cluster holds it (every field), where the source kept it (a list from
  // the API server); else null.
  std::shared_ptr<Json> raw = nullptr;
};

// A change with its object left in wire form (a kbinder.v1.Object; several records that
// decoding merges, as the embedded store keeps it).
struct EncodedWatchEvent {
  WatchEvent::Type type = WatchEvent::Type::kAdded;
  std::shared_ptr<const std::string> object;
};

class Watch {
 public:
  virtual ~Watch() = default;
  // Blocks up to `timeout` for the next event; nullopt when none came. An error ends the watch
  // (e.g. ABORTED "too old resource version" when the history was trimmed): list again.
  virtual StatusOr<std::optional<WatchEvent>> next(std::chrono::milliseconds timeout) = 0;
  // Whether nextEncoded() serves this watch: where its backend keeps the kind encoded, so that
  // a consumer may read what it needs of a change without decoding all of it.
  virtual bool encoded() const { return false; }
  // As next(), the object left encoded; only where encoded() (UNIMPLEMENTED otherwise). Take
  // each watch's events through one of the two.
  virtual StatusOr<std::optional<EncodedWatchEvent>> nextEncoded(std::chrono::milliseconds) {
    return Status(StatusCode::kUnimplemented, "this watch hands over decoded objects only");
  }
};

// Changes of one kind as an informer hands them over (see ClusterBackend::subscribe): decoded,
// or left in wire form (a kbinder.v1.Object, valid during the call).
using WatchHandler = std::function<void(const WatchEvent&)>;
using EncodedWatchHandler = std::function<void(WatchEvent::Type, std::string_view)>;

// A handler's subscription to one kind's changes (ClusterBackend::subscribe).
class Subscription {
 public:
  virtual ~Subscription() = default;
  // Blocks until the objects there were when it began were handed over, or it stopped; then
  // the error that kept it from listing.
  virtual Status waitForSync() = 0;
  // No handler call begins after this returns. Idempotent; the destructor stops it too.
  virtual void stop() = 0;
};

// What ClusterBackend::bindPod sends: a pods/{name}/binding object.
struct PodBinding {
  std::string namespace_, name, uid, node;
  std::string resource_version;                    // the pod's, as a precondition; empty: none
  std::map<std::string, std::string> annotations;  // merged into the pod's
};

// One label or annotation for ClusterBackend::patchMetadata to set (a value) or remove.
struct MetadataEdit {
  enum class Map { kLabels, kAnnotations };
  Map map;
  std::string key;
  std::optional<std::string> value;  // nullopt: remove
};

// Whether `edits` only set keys (none removes one): such edits merge into an encoding.
inline bool editsOnlySet(const std::vector<MetadataEdit>& edits) {
  for (const MetadataEdit& edit : edits) {
    if (!edit.value) return false;
  }
  return true;
}

// Applies `edits` to the labels and annotations of `meta`, in order.
inline void applyMetadataEdits(const std::vector<MetadataEdit>& edits,
                               kbinder::v1::ObjectMeta& meta) {
  for (const MetadataEdit& edit : edits) {
    auto& map = edit.map == MetadataEdit::Map::kLabels ? *meta.mutable_labels()
                                                       : *meta.mutable_annotations();
    if (edit.value) {
      map[edit.key] = *edit.value;
    } else {
      map.erase(edit.key);
    }
  }
}

class ClusterBackend : public ObjectServices {
 public:
  // get/list/patch come from ObjectServices. A patch carries the whole changed subset object;
  // the backend writes only its difference from the stored object, guarded by the
  // object's metadata.resourceVersion (empty: unguarded). subresource "status" writes only
  // the status; "" writes all but the status for kinds with a status subresource.

  // Sets and removes labels and annotations of an object, guarded by `resource_version` as
  // patch() is (empty: unguarded); what Mutate writes. Only the edits travel or are applied:
  // the object is neither compared nor converted whole, and no object is returned. Returns the
  // object's resourceVersion after the write (the current one when no edit changes anything:
  // no write then). A guarded write succeeds only on the version the caller read, so that
  // version with the edits applied and this resourceVersion is the object as written (a real
  // API server's mutating admission may add to it; the watches bring that).
  // NOT_FOUND, ABORTED as patch().
  virtual StatusOr<std::string> patchMetadata(Kind kind, const std::string& namespace_,
                                              const std::string& name,
                                              const std::string& resource_version,
                                              const std::vector<MetadataEdit>& edits) = 0;

  // Writes a BindRequest's status (phase, reason, failedAttempts: every field of it is
  // kbinder's) as `request` carries it, guarded by its metadata.resourceVersion as patch() is;
  // what the controller writes after each cycle. Returns the resourceVersion written (the
  // current one when nothing changes). This one patches the status subresource through
  // patch(); a backend may write it without building the object written.
  virtual StatusOr<std::string> writeBindRequestStatus(kbinder::v1::BindRequest request) {
    kbinder::v1::PatchRequest patch;
    *patch.mutable_object()->mutable_bind_request() = std::move(request);
    patch.set_subresource("status");
    auto written = this->patch(patch);
    if (!written.ok()) return written.status();
    return written->bind_request().metadata().resource_version();
  }

  // Creates an object (metadata.name set, or generateName). ALREADY_EXISTS when taken.
  virtual StatusOr<kbinder::v1::Object> create(const kbinder::v1::Object& object) = 0;

  // Records an Event: created as create() does, and never read back (the controller records
  // one per bind and keeps nothing of it). This one creates it through create(); a backend
  // may send it without reading the object created.
  virtual Status recordEvent(const kbinder::v1::Object& event) { return create(event).status(); }

  // Changes since `resource_version` (as a list returned it) of one kind, in order.
  virtual StatusOr<std::unique_ptr<Watch>> watch(Kind kind,
                                                 const std::string& resource_version) = 0;

  // Hands `handler` every object of `kind` (in `namespace_`; all when empty) there is now, as
  // an addition, then every change, in order, from a thread of its own; after its watch was
  // lost it lists again and hands over every object again, as additions. `encoded`, when
  // given, takes the changes a backend can hand over in wire form instead (see
  // Informer::handleEncoded). By default an informer of its own over list() and watch(); a
  // backend that already follows the kind (the Kubernetes backend's caches) serves it from
  // there, so that each kind is listed and watched once.
  virtual StatusOr<std::unique_ptr<Subscription>> subscribe(Kind kind,
                                                            const std::string& namespace_,
                                                            WatchHandler handler,
                                                            EncodedWatchHandler encoded = {});

  // The Binding subresource (POST pods/{name}/binding) with the pod's UID as precondition and,
  // when the binding names one, its resourceVersion; the API server merges the binding's
  // annotations into the pod's as it binds it. NOT_FOUND for a missing pod; ABORTED when the
  // pod is already assigned, being deleted, has another UID or another resourceVersion.
  // Messages are the API server's.
  virtual Status bindPod(const PodBinding& binding) = 0;

  // A short name for logs and summaries: "embedded store", "https://10.0.0.1:6443".
  virtual std::string describe() const = 0;
};

}  // namespace kbinder::host
