// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <utility>
#include <vector>

#include "host/base/parallel.h"
#include "host/store/store_state.h"

namespace kbinder::host {
namespace {
using store_internal::StoreState;
using Key = StoreState::Key;
using Typed = StoreState::Typed;
using Version = StoreState::Version;
using store_internal::metadata;
}  // namespace

StatusOr<std::unique_ptr<EmbeddedStore>> EmbeddedStore::load(Manifest manifest, Options options) {
  std::unique_ptr<EmbeddedStore> store(new EmbeddedStore(options));
  StoreState& state = *store->state_;
  std::vector<Json> objects = std::move(manifest.objects);
  state.form_ = std::move(manifest);
  state.form_.objects.clear();
  // Each object is defaulted and converted on its own, on every core; they are then stored
  // in the manifest's order, which gives each its sequence (the one its uid was made with: an
  // object stored takes the next, and a duplicate ends the load) and its resourceVersion.
  struct Loaded {
    Key key;
    std::optional<Kind> kind;
    StatusOr<Version> version = Version{};
  };
  std::vector<Loaded> loaded(objects.size());
  forEachChunk(objects.size(), 256, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      Json raw = std::move(objects[i]);
      Loaded& out = loaded[i];
      const std::string kind_name = raw.value("kind", "");
      out.kind = kindFromName(kind_name);
      StoreState::prepareNew(raw, out.kind, i);
      metadata(raw)["resourceVersion"];  // its place made here: the commit only fills it in
      out.key = Key{kind_name, rawString(raw, {"metadata", "namespace"}),
                    rawString(raw, {"metadata", "name"})};
      out.version = StoreState::convert(out.kind, std::move(raw));
      if (out.kind && out.version.ok() && Typed::encoded(*out.kind)) {
        StoreState::encodeAhead(*out.kind, *out.version);
        out.version->typed.reset();  // the encoding is what is kept: the message goes now
      }
    }
  });
  objects = {};
  std::lock_guard lock(state.mutex_);
  for (Loaded& object : loaded) {
    const auto what = [&] {  // named only in a message
      const auto& [kind_name, namespace_, name] = object.key;
      return kind_name + " " + (namespace_.empty() ? name : namespace_ + "/" + name);
    };
    if (state.objects_.count(object.key) != 0) {
      return invalidArgument(what() + " appears twice; keep one copy of each object");
    }
    if (!object.version.ok()) {
      return Status(object.version.status().code(),
                    what() + ": " + object.version.status().message());
    }
    // Loading is not a change anyone watches: nothing is logged, watches start from here.
    state.commitLocked(object.key, object.kind, *object.version);
    object.version = Version{};  // the raw form is the store's now; what is left goes as we go
  }
  state.history_floor_ = state.resource_version_;
  return store;
}

Status EmbeddedStore::writeSnapshot(std::ostream& out) const {
  const auto current = state_->inOrder("");
  // Raw forms not kept are made as they are written (each thread its own), and let go then.
  return writeManifest(
      state_->form_, current.size(),
      [&](size_t i) -> StatusOr<std::shared_ptr<const Json>> {
        const auto& [raw, typed] = current[i];
        if (raw != nullptr) return raw;
        return StoreState::rawFromTyped(typed);
      },
      out);
}

StatusOr<std::vector<std::shared_ptr<const Json>>> EmbeddedStore::versions(
    const std::string& kind) const {
  auto current = state_->inOrder(kind);
  std::vector<std::shared_ptr<const Json>> versions;
  versions.reserve(current.size());
  for (auto& [raw, typed] : current) {
    if (raw == nullptr) {
      auto converted = StoreState::rawFromTyped(typed);
      if (!converted.ok()) return converted.status();
      raw = std::move(converted).value();
    }
    versions.push_back(std::move(raw));
  }
  return versions;
}

std::vector<std::pair<std::shared_ptr<const Json>, Typed>> store_internal::StoreState::inOrder(
    const std::string& kind) const {
  std::lock_guard lock(mutex_);
  std::vector<const Entry*> entries;
  if (kind.empty()) {
    entries.reserve(objects_.size());
    for (const auto& [key, entry] : objects_) entries.push_back(&entry);
  } else {
    for (auto it = objects_.lower_bound(Key{kind, "", ""});
         it != objects_.end() && std::get<0>(it->first) == kind; ++it) {
      entries.push_back(&it->second);
    }
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry* a, const Entry* b) { return a->sequence < b->sequence; });
  std::vector<std::pair<std::shared_ptr<const Json>, Typed>> current;
  current.reserve(entries.size());
  for (const Entry* entry : entries) {
    current.emplace_back(entry->raw, entry->raw == nullptr ? entry->typed : Typed());
  }
  return current;
}

}  // namespace kbinder::host
