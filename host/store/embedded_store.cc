// SPDX-License-Identifier: Apache-2.0
#include "host/store/embedded_store.h"

#include <algorithm>
#include <cassert>
#include <utility>
#include <vector>

#include "host/cluster/list_filter.h"
#include "host/store/store_state.h"

namespace kbinder::host {
namespace {

using kbinder::v1::Object;
namespace pb = google::protobuf;
using store_internal::StoreState;
using Key = StoreState::Key;
using Typed = StoreState::Typed;
using Version = StoreState::Version;
using WriteLock = StoreState::WriteLock;
using RawEdit = StoreState::RawEdit;
using Merge = StoreState::Merge;
using Merged = StoreState::Merged;
using ObjectIt = StoreState::ObjectIt;
using store_internal::checkVersion;
using store_internal::metadata;
using store_internal::randomSuffix;

}  // namespace

EmbeddedStore::EmbeddedStore(Options options)
    : state_(std::make_unique<store_internal::StoreState>(options)) {}

EmbeddedStore::~EmbeddedStore() = default;

uint64_t EmbeddedStore::resourceVersion() const {
  return state_->resourceVersion();
}

StatusOr<Object> EmbeddedStore::get(const kbinder::v1::GetRequest& request) {
  auto typed = state_->typedFor(request);
  if (!typed.ok()) return typed.status();
  return typed->get();  // outside the lock: versions are immutable
}

StatusOr<std::string> EmbeddedStore::getEncoded(const kbinder::v1::GetRequest& request) {
  auto typed = state_->typedFor(request);
  if (!typed.ok()) return typed.status();
  return typed->encode();
}

StatusOr<kbinder::v1::ObjectList> EmbeddedStore::list(const kbinder::v1::ListRequest& request) {
  auto filter = ListFilter::parse(request);
  if (!filter.ok()) return filter.status();
  if (Status s = filter->resolveNode(*this); !s.ok()) return s;
  const Kind kind = filter->kind;
  // The versions are taken under the lock; decoding and selecting them happens outside it.
  std::vector<Typed> versions;
  kbinder::v1::ObjectList out;
  {
    std::lock_guard lock(state_->mutex_);
    const auto take = [&](ObjectIt it) {
      if (!request.namespace_().empty() && kindNamespaced(kind) &&
          std::get<1>(it->first) != request.namespace_()) {
        return;
      }
      versions.push_back(it->second.typed);
    };
    // A selector on an indexed field, or volumes a node must admit, look only where an index
    // points.
    if (!state_->indexesLocked(kind).forEachCandidate(*filter, take)) {
      for (auto it = state_->objects_.lower_bound(Key{request.kind(), "", ""});
           it != state_->objects_.end() && std::get<0>(it->first) == request.kind(); ++it) {
        take(it);
      }
    }
    out.set_resource_version(std::to_string(state_->resource_version_));
  }
  for (const Typed& version : versions) {
    if (const Object* message = version.message()) {
      if (filter->matches(*message)) *out.add_items() = *message;
      continue;
    }
    auto item = version.get();
    if (!item.ok()) return item.status();
    if (filter->matches(*item)) *out.add_items() = std::move(item).value();
  }
  return out;
}

StatusOr<Object> EmbeddedStore::patch(const kbinder::v1::PatchRequest& request) {
  const auto kind = kindOf(request.object());
  if (!kind) return invalidArgument("patch request carries no object");
  if (!request.subresource().empty() && request.subresource() != "status") {
    return invalidArgument("unknown subresource \"" + request.subresource() +
                           R"("; use "" or "status")");
  }
  if (request.subresource() == "status" && !kindHasStatusSubresource(*kind)) {
    return notFound(std::string(kindResource(*kind)) + " have no status subresource");
  }
  const auto& meta = metadataOf(request.object());
  const Key key{std::string(kindName(*kind)), kindNamespaced(*kind) ? meta.namespace_() : "",
                meta.name()};
  return state_->editTyped(
      key, [&](const Json& raw, Object& typed) -> StatusOr<std::optional<RawEdit>> {
        if (Status s = checkVersion(raw, meta.resource_version(), std::string(kindResource(*kind)),
                                    meta.name());
            !s.ok()) {
          return s;
        }
        SubsetChange change = subsetChange(*kind, typed, request.object(), request.subresource());
        // Only the top-level fields the change names are copied and rebased (a BindRequest's
        // status, not its spec); the edit moves them into the stored object.
        std::vector<std::string> keys;
        Json next = Json::object();
        for (const Json* side : {&change.before, &change.after}) {
          for (const auto& [name, value] : side->items()) {
            if (std::find(keys.begin(), keys.end(), name) != keys.end()) continue;
            keys.push_back(name);
            if (const auto it = raw.find(name); it != raw.end()) member(next, name) = *it;
          }
        }
        rebaseInPlace(next, change.before, change.after);
        // Only the changed fields can differ: those are compared and converted.
        const auto same = [&](const std::string& path) {
          const Json* a = &raw;
          const Json* b = &next;
          for (size_t at = 0; a != nullptr && b != nullptr && at <= path.size();) {
            const size_t dot = std::min(path.find('.', at), path.size());
            const std::string name = path.substr(at, dot - at);
            const auto ia = a->is_object() ? a->find(name) : a->end();
            const auto ib = b->is_object() ? b->find(name) : b->end();
            a = ia == a->end() ? nullptr : &*ia;
            b = ib == b->end() ? nullptr : &*ib;
            at = dot + 1;
          }
          return (a == nullptr) == (b == nullptr) && (a == nullptr || *a == *b);
        };
        if (std::all_of(change.changed.begin(), change.changed.end(), same)) {
          return std::optional<RawEdit>();  // nothing changed: no write, as the API server
        }
        if (Status s = refreshFields(*kind, next, change.changed, typed); !s.ok()) return s;
        return std::optional<RawEdit>(
            [next = std::move(next), keys = std::move(keys)](Json& target) mutable {
              for (const std::string& name : keys) {
                if (const auto it = next.find(name); it != next.end()) {
                  member(target, name) = std::move(*it);
                } else {
                  target.erase(name);
                }
              }
            });
      });
}

StatusOr<std::string> EmbeddedStore::patchMetadata(Kind kind, const std::string& namespace_,
                                                   const std::string& name,
                                                   const std::string& resource_version,
                                                   const std::vector<MetadataEdit>& edits) {
  const Key key{std::string(kindName(kind)), kindNamespaced(kind) ? namespace_ : "", name};
  const auto precondition = [&](const Json& raw) {
    return checkVersion(raw, resource_version, std::string(kindResource(kind)), name);
  };
  const RawEdit raw_edit = [&edits](Json& next) {
    Json& raw_meta = metadata(next);
    for (const MetadataEdit& edit : edits) {
      Json& raw_map =
          member(raw_meta, edit.map == MetadataEdit::Map::kLabels ? "labels" : "annotations");
      if (!raw_map.is_object()) raw_map = Json::object();
      if (edit.value) {
        member(raw_map, edit.key) = *edit.value;
      } else {
        raw_map.erase(edit.key);
      }
    }
    for (const char* field : {"labels", "annotations"}) {
      const auto it = raw_meta.find(field);
      if (it != raw_meta.end() && it->empty()) raw_meta.erase(it);  // as the API server writes none
    }
  };
  // Edits that only set keys merge into the kept encoding (a map entry parsed later replaces
  // one with the same key): the object is neither decoded nor encoded whole. Their effect is
  // judged on the raw form, which holds the same labels and annotations.
  const bool sets_only = editsOnlySet(edits);
  if (sets_only) {
    auto merged = state_->mergeTyped(key, [&](const Json& raw) -> StatusOr<std::optional<Merge>> {
      if (Status s = precondition(raw); !s.ok()) return s;
      const Json* meta = raw.contains("metadata") ? &raw.at("metadata") : nullptr;
      const auto changes = [&](const MetadataEdit& edit) {
        const char* field = edit.map == MetadataEdit::Map::kLabels ? "labels" : "annotations";
        if (meta == nullptr || !meta->contains(field)) return true;
        const Json& map = meta->at(field);
        const auto it = map.find(edit.key);
        return it == map.end() || !it->is_string() ||
               it->get_ref<const std::string&>() != *edit.value;
      };
      if (std::none_of(edits.begin(), edits.end(), changes)) return std::optional<Merge>();
      Object fragment;
      mutablePayload(fragment, kind);
      applyMetadataEdits(edits, mutableMetadataOf(fragment));  // sets only
      return std::optional<Merge>(Merge{std::move(fragment), raw_edit});
    });
    if (!merged.ok()) return merged.status();
    if (merged->outcome != Merged::Outcome::kNotMergeable) return merged->resource_version;
  }
  auto edited = state_->editTyped(
      key, [&](const Json& raw, Object& typed) -> StatusOr<std::optional<RawEdit>> {
        if (Status s = precondition(raw); !s.ok()) return s;
        // Applied to both forms alike; an edit that changes nothing is no write, as a merge patch
        // that changes nothing is none on the API server.
        kbinder::v1::ObjectMeta& meta = mutableMetadataOf(typed);
        const auto changes = [&](const MetadataEdit& edit) {
          const auto& map =
              edit.map == MetadataEdit::Map::kLabels ? meta.labels() : meta.annotations();
          const auto it = map.find(edit.key);
          return edit.value ? it == map.end() || it->second != *edit.value : it != map.end();
        };
        if (std::none_of(edits.begin(), edits.end(), changes)) return std::optional<RawEdit>();
        applyMetadataEdits(edits, meta);
        return std::optional<RawEdit>(raw_edit);
      });
  if (!edited.ok()) return edited.status();
  return metadataOf(*edited).resource_version();
}

StatusOr<Object> EmbeddedStore::create(const Object& object) {
  const auto kind = kindOf(object);
  if (!kind) return invalidArgument("create request carries no object");
  // The typed form is made first, with what the store sets on a new object, and the raw one
  // converted from it once: the two agree by construction (EmbeddedStoreTest.
  // CreateKeepsBothFormsInStep checks they do), and the JSON is made at its final size, with
  // nothing added to it afterwards. All of it outside the lock; a generated name taken
  // meanwhile is drawn again.
  Version version{Json(), object, {}};
  Object& typed = *version.typed;
  {
    pb::Message& payload = mutablePayload(typed, *kind);
    const pb::Reflection& reflection = *payload.GetReflection();
    const pb::Descriptor& descriptor = *payload.GetDescriptor();
    // Every kind's message declares apiVersion and kind first (objects.proto).
    const pb::FieldDescriptor* api_version = descriptor.field(0);
    const pb::FieldDescriptor* kind_field = descriptor.field(1);
    assert(api_version != nullptr && api_version->name() == "api_version");
    assert(kind_field != nullptr && kind_field->name() == "kind");
    if (reflection.GetString(payload, api_version).empty()) {
      reflection.SetString(&payload, api_version, std::string(kindApiVersion(*kind)));
    }
    reflection.SetString(&payload, kind_field, std::string(kindName(*kind)));
  }
  kbinder::v1::ObjectMeta& meta = mutableMetadataOf(typed);
  const bool generated = meta.name().empty();
  if (generated && meta.generate_name().empty()) {
    return invalidArgument(std::string(kindName(*kind)) + ": name or generateName is required");
  }
  if (!kindNamespaced(*kind)) {
    meta.clear_namespace_();
  } else if (meta.namespace_().empty()) {
    meta.set_namespace_("default");
  }
  meta.set_uid(randomUid());
  meta.set_creation_timestamp(timestampNow());
  while (true) {
    if (generated) meta.set_name(meta.generate_name() + randomSuffix());
    // A placeholder gives the raw form its resourceVersion key, so that stamping the version
    // when committed takes no room; the typed form is encoded without it (encodeAhead).
    meta.set_resource_version("0");
    // Kept encoded and never watched raw, the object's raw form waits until it is read (see
    // Entry): an Event recorded per bind is then converted once, when the snapshot is written.
    const bool raw_later = !state_->options_.raw_watches && Typed::encoded(*kind);
    version.raw = raw_later ? Json() : objectToJson(typed);
    shrinkToFit(version.raw);  // a well-known type's value is parsed, not made at its size
    version.encoded.clear();
    StoreState::encodeAhead(*kind, version);
    const Key key{std::string(kindName(*kind)), meta.namespace_(), meta.name()};
    WriteLock lock(*state_);
    if (state_->objects_.count(key) != 0) {
      if (generated) continue;
      return Status(StatusCode::kAlreadyExists, std::string(kindResource(*kind)) + " \"" +
                                                    std::get<2>(key) + "\" already exists");
    }
    StoreState::Entry* entry =
        state_->commitLocked(key, kind, version, /*raw_in_place=*/false, raw_later);
    state_->logLocked(WatchEvent::Type::kAdded, std::get<0>(key), kind, entry->typed, entry->raw);
    return std::move(typed);
  }
}

StatusOr<std::unique_ptr<Watch>> EmbeddedStore::watch(Kind kind,
                                                      const std::string& resource_version) {
  uint64_t after = 0;
  try {
    after = resource_version.empty() ? resourceVersion() : std::stoull(resource_version);
  } catch (...) {
    return invalidArgument("resourceVersion \"" + resource_version + "\" is not a number");
  }
  std::lock_guard lock(state_->mutex_);
  if (after < state_->history_floor_) {
    return Status(StatusCode::kAborted, "too old resource version: " + resource_version);
  }
  return state_->watchLocked(kind, after);
}

}  // namespace kbinder::host
