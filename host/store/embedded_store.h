// SPDX-License-Identifier: Apache-2.0
// The embedded store: a cluster held in memory with the API server's semantics, loaded from
// manifests and written back as manifests. The default backend (`kbinder run`), and the place
// tests rehearse whole clusters.
//
// Every object is kept as it was read (raw JSON, every field, unmodeled kinds too); modeled
// kinds also keep their subset message. Writes carry changes onto the raw object (see
// objects.h), stamp the next global resourceVersion on it and append a watch event. How it is
// kept: store_state.h.
//
// Thread-safety: every method may be called from many threads; one mutex guards the state.
// Watches must not outlive the store.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "host/cluster/cluster.h"
#include "host/model/manifest.h"

namespace kbinder::host {
namespace store_internal {
class StoreState;
}  // namespace store_internal

class EmbeddedStore final : public ClusterBackend {
 public:
  struct Options {
    // Events kept for watches; a watch from before the oldest is Gone (and relists). Each
    // event kept may hold an object's superseded version alive, so the history is kept only as
    // long as it serves: events every open watch has read are dropped beyond the newest
    // watch_history_idle (for watches yet to start from a recent resourceVersion, as an
    // informer's after its list); events an open watch has still to read are kept up to
    // watch_history in all, past which that watch is Gone.
    size_t watch_history = 100'000;
    size_t watch_history_idle = 10'000;
    // Whether raw watches (what the test API server serves) can be opened. They need
    // every logged change to keep the object's raw version, which then is never the store's
    // alone: each write copies the whole raw object to change it. Without them (kbinder run
    // and the load generator watch typed forms only), a write that is a small edit (a Binding,
    // a label) makes it in place on a version nobody else holds.
    bool raw_watches = true;
  };

  // Checks every modeled object against the schema (errors name the object and the field),
  // defaults a namespaced object's namespace to "default", stamps a uid where there is none
  // and a resourceVersion on every object.
  // Takes the manifest by value: pass it with std::move to spare a copy of every object.
  static StatusOr<std::unique_ptr<EmbeddedStore>> load(Manifest manifest, Options options);
  static StatusOr<std::unique_ptr<EmbeddedStore>> load(Manifest manifest) {
    return load(std::move(manifest), Options{});
  }
  ~EmbeddedStore() override;

  // Every object as it is now, written to `out` in the loaded manifest's form, in load order
  // with objects created later at the end: the objects are not copied (their versions are
  // shared; an object created in the schema's form and never read raw is converted as it is
  // written, one at a time), and the store is not locked while they are. Fails only when a kept
  // schema form does not decode (a corrupt store), as does versions().
  Status writeSnapshot(std::ostream& out) const;
  // Every object's current raw version (of `kind`, when not empty), in load/creation order;
  // versions are immutable and shared, so nothing is copied but the raw forms not kept yet
  // (see StoreState::Entry), converted outside the lock and not kept.
  StatusOr<std::vector<std::shared_ptr<const Json>>> versions(const std::string& kind = "") const;
  uint64_t resourceVersion() const;

  // The store's state and write machinery (host/store/store_state.h, internal to the store):
  // for code that extends the store without being part of kbinder, such as the test API
  // server's raw access (tests/apiserver/raw_store.h).
  store_internal::StoreState& state() { return *state_; }

  // ClusterBackend
  StatusOr<kbinder::v1::Object> get(const kbinder::v1::GetRequest& request) override;
  // The encoded form kept, copied: neither decoded nor encoded again.
  StatusOr<std::string> getEncoded(const kbinder::v1::GetRequest& request) override;
  StatusOr<kbinder::v1::ObjectList> list(const kbinder::v1::ListRequest& request) override;
  StatusOr<kbinder::v1::Object> patch(const kbinder::v1::PatchRequest& request) override;
  StatusOr<std::string> patchMetadata(Kind kind, const std::string& namespace_,
                                      const std::string& name, const std::string& resource_version,
                                      const std::vector<MetadataEdit>& edits) override;
  StatusOr<kbinder::v1::Object> create(const kbinder::v1::Object& object) override;
  StatusOr<std::unique_ptr<Watch>> watch(Kind kind, const std::string& resource_version) override;
  Status bindPod(const PodBinding& binding) override;
  // Merged into the kept encoding when it only sets fields (a first status, a phase changed);
  // a field cleared goes through patch().
  StatusOr<std::string> writeBindRequestStatus(kbinder::v1::BindRequest request) override;
  std::string describe() const override { return "embedded store"; }

 private:
  explicit EmbeddedStore(Options options);

  std::unique_ptr<store_internal::StoreState> state_;
};

}  // namespace kbinder::host
