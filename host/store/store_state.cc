// SPDX-License-Identifier: Apache-2.0
#include "host/store/store_state.h"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <random>
#include <utility>

namespace kbinder::host::store_internal {

using kbinder::v1::Object;

std::string resourceOf(const std::string& kind) {
  if (auto k = kindFromName(kind)) return std::string(kindResource(*k));
  std::string lower;
  for (char c : kind)
    lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return lower + "s";
}

Status notFoundError(const std::string& kind, const std::string& name) {
  return notFound(resourceOf(kind) + " \"" + name + "\" not found");
}

Status conflict(const std::string& resource, const std::string& name, const std::string& why) {
  return {StatusCode::kAborted,
          "Operation cannot be fulfilled on " + resource + " \"" + name + "\": " + why};
}

// The API server's resourceVersion precondition: ABORTED unless `raw` is at `expected` (empty:
// any version).
Status checkVersion(const Json& raw, const std::string& expected, const std::string& resource,
                    const std::string& name) {
  if (expected.empty() || expected == rawString(raw, {"metadata", "resourceVersion"})) {
    return okStatus();
  }
  return conflict(resource, name,
                  "the object has been modified; please apply your changes to the latest "
                  "version and try again");
}

Json& metadata(Json& raw) {
  Json& meta = member(raw, "metadata");
  if (!meta.is_object()) meta = Json::object();
  return meta;
}

std::string randomSuffix() {
  static constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";  // as the API server uses
  thread_local std::mt19937 random(std::random_device{}());
  std::string out;
  for (int i = 0; i < 5; ++i) out.push_back(kAlphabet[random() % (sizeof kAlphabet - 1)]);
  return out;
}

namespace {
constexpr bool kindsInValueOrder() {
  for (size_t i = 0; i < std::size(kAllKinds); ++i) {
    if (static_cast<size_t>(kAllKinds[i]) != i) return false;
  }
  return true;
}
static_assert(kindsInValueOrder(), "indexes_ is indexed by Kind's value, in kAllKinds' order");
}  // namespace

std::vector<StoreState::Indexes> StoreState::makeIndexes() {
  std::vector<Indexes> out;
  for (const Kind kind : kAllKinds) out.emplace_back(kind);
  return out;
}

void StoreState::prepareNew(Json& raw, std::optional<Kind> kind, uint64_t sequence) {
  Json& meta = metadata(raw);
  if (kind && kindNamespaced(*kind) && rawString(raw, {"metadata", "namespace"}).empty()) {
    meta["namespace"] = "default";
  }
  if (rawString(raw, {"metadata", "uid"}).empty()) {
    meta["uid"] =
        uidFromSeed(raw.value("kind", "") + "/" + rawString(raw, {"metadata", "namespace"}) + "/" +
                    rawString(raw, {"metadata", "name"}) + "/" + std::to_string(sequence));
  }
}

Status StoreState::prepareNewLocked(Json& raw, std::optional<Kind> kind) {
  prepareNew(raw, kind, next_sequence_);
  return okStatus();
}

StatusOr<StoreState::Version> StoreState::convert(std::optional<Kind> kind, Json raw) {
  Version version{std::move(raw), std::nullopt, {}};
  shrinkToFit(version.raw);
  if (kind) {
    auto converted = objectFromJson(*kind, version.raw);
    if (!converted.ok()) return converted.status();
    version.typed = std::move(converted).value();
  }
  return version;
}

StoreState::Entry* StoreState::commitLocked(const Key& key, std::optional<Kind> kind,
                                            Version& version, bool raw_in_place, bool no_raw) {
  const std::string stamp = std::to_string(++resource_version_);
  Typed typed;
  if (kind && (version.typed || !version.encoded.empty())) {
    if (version.typed) mutableMetadataOf(*version.typed).set_resource_version(stamp);
    typed = version.encoded.empty()
                ? Typed(*kind, *version.typed)
                : Typed::stamped(*kind, std::move(version.encoded), stamp, version.whole);
  }
  auto [it, inserted] = objects_.try_emplace(key);
  if (inserted) it->second.sequence = next_sequence_++;
  if (kind) indexesLocked(*kind).update(it, it->second.typed.message(), typed.message());
  it->second.kind = kind;
  if (raw_in_place) {
    metadata(editableRawLocked(it->second))["resourceVersion"] = stamp;
  } else if (no_raw) {
    if (it->second.raw != nullptr) retired_raw_.push_back(std::move(it->second.raw));
  } else {
    metadata(version.raw)["resourceVersion"] = stamp;
    // The superseded version may be the last reference: destroyed once the lock is let go.
    if (it->second.raw != nullptr) retired_raw_.push_back(std::move(it->second.raw));
    it->second.raw = std::make_shared<Json>(std::move(version.raw));  // non-const: editable
  }
  it->second.typed = std::move(typed);
  return &it->second;
}

StatusOr<StoreState::Entry*> StoreState::storeLocked(const Key& key, Json raw) {
  const auto kind = kindFromName(std::get<0>(key));
  auto version = convert(kind, std::move(raw));
  if (!version.ok()) return version.status();
  return commitLocked(key, kind, *version);
}

StatusOr<std::pair<std::shared_ptr<const Json>, StoreState::Typed>> StoreState::currentVersion(
    const Key& key) const {
  std::lock_guard lock(mutex_);
  const auto it = objects_.find(key);
  if (it == objects_.end()) return notFoundError(std::get<0>(key), std::get<2>(key));
  if (!it->second.typed) return internalError(std::get<0>(key) + " is not a modeled kind");
  auto raw = rawLocked(it->second);
  if (!raw.ok()) return raw.status();
  return std::make_pair(std::move(raw).value(), it->second.typed);
}

StatusOr<Object> StoreState::editTyped(const Key& key, const Edit& edit) {
  const auto kind = kindFromName(std::get<0>(key));
  while (true) {
    auto read = currentVersion(key);
    if (!read.ok()) return read.status();
    auto [raw, current] = std::move(read).value();
    auto typed = current.get();
    if (!typed.ok()) return typed.status();
    auto change = edit(*raw, *typed);
    if (!change.ok()) return change.status();
    if (!change->has_value()) return typed;
    Version version{Json(), std::move(typed).value(), {}};
    if (kind) encodeAhead(*kind, version);
    auto committed = commitEdit(key, kind, std::move(raw), **change, version);
    if (!committed.ok()) return committed.status();
    if (*committed) return std::move(*version.typed);
  }
}

StatusOr<StoreState::Merged> StoreState::mergeTyped(const Key& key, const MergeEdit& merge) {
  using Outcome = Merged::Outcome;
  const auto kind = kindFromName(std::get<0>(key));
  while (true) {
    auto read = currentVersion(key);
    if (!read.ok()) return read.status();
    auto [raw, current] = std::move(read).value();
    auto change = merge(*raw);
    if (!change.ok()) return change.status();
    if (!change->has_value()) {
      return Merged{Outcome::kUnchanged, rawString(*raw, {"metadata", "resourceVersion"})};
    }
    if (!(*change)->fragment) return Merged{Outcome::kNotMergeable, {}};
    auto encoded = current.merged(*(*change)->fragment);
    if (!encoded) return Merged{Outcome::kNotMergeable, {}};
    Version version{Json(), std::nullopt, std::move(*encoded), current.whole()};
    Merged merged{Outcome::kWritten, {}};
    auto committed =
        commitEdit(key, kind, std::move(raw), (*change)->raw, version, &merged.resource_version);
    if (!committed.ok()) return committed.status();
    if (*committed) return merged;
  }
}

StatusOr<bool> StoreState::commitEdit(const Key& key, std::optional<Kind> kind,
                                      std::shared_ptr<const Json> raw, const RawEdit& apply,
                                      Version& version, std::string* written) {
  {
    WriteLock lock(*this);
    const auto it = objects_.find(key);
    if (it == objects_.end()) return notFoundError(std::get<0>(key), std::get<2>(key));
    if (it->second.raw != raw) return false;  // written meanwhile: again, on the newer version
    raw.reset();
    if (it->second.raw.use_count() == 1) {
      // The store's alone: nothing to copy, and no superseded version to destroy.
      apply(editableRawLocked(it->second));
      Entry* entry = commitLocked(key, kind, version, /*raw_in_place=*/true);
      logLocked(WatchEvent::Type::kModified, std::get<0>(key), kind, entry->typed, entry->raw);
      if (written != nullptr) *written = std::to_string(resource_version_);
      return true;
    }
    raw = it->second.raw;
  }
  // Shared (with the history of raw watches, or a snapshot being written): edited on a copy,
  // made outside the lock.
  version.raw = *raw;
  apply(version.raw);
  shrinkToFit(version.raw);
  WriteLock lock(*this);
  const auto it = objects_.find(key);
  if (it == objects_.end()) return notFoundError(std::get<0>(key), std::get<2>(key));
  if (it->second.raw != raw) return false;
  Entry* entry = commitLocked(key, kind, version);
  logLocked(WatchEvent::Type::kModified, std::get<0>(key), kind, entry->typed, entry->raw);
  if (written != nullptr) *written = std::to_string(resource_version_);
  return true;
}

StatusOr<StoreState::Entry*> StoreState::writeLocked(const Key& key, Json raw, bool created) {
  auto entry = storeLocked(key, std::move(raw));
  if (!entry.ok()) return entry.status();
  logLocked(created ? WatchEvent::Type::kAdded : WatchEvent::Type::kModified, std::get<0>(key),
            (*entry)->kind, (*entry)->typed, (*entry)->raw);
  return entry;
}

void StoreState::eraseLocked(std::map<Key, Entry>::iterator it, Json last) {
  ++resource_version_;
  // As the API server does, the deleted object carries the deletion's resourceVersion.
  const std::string version = std::to_string(resource_version_);
  Typed typed;
  if (it->second.kind) {
    typed = it->second.typed.restamped(*it->second.kind, version);
    indexesLocked(*it->second.kind).update(it, it->second.typed.message(), nullptr);
  }
  metadata(last)["resourceVersion"] = version;
  logLocked(WatchEvent::Type::kDeleted, std::get<0>(it->first), it->second.kind, std::move(typed),
            std::make_shared<const Json>(std::move(last)));
  objects_.erase(it);
}

StatusOr<std::shared_ptr<const Json>> StoreState::rawFromTyped(const Typed& typed) {
  auto object = typed.get();
  if (!object.ok()) return object.status();
  Json raw = objectToJson(*object);
  shrinkToFit(raw);  // a well-known type's value is parsed, not made at its size
  // Made non-const, as every entry's raw version is, so that it may be edited in place.
  return std::shared_ptr<const Json>(std::make_shared<Json>(std::move(raw)));
}

StatusOr<std::shared_ptr<const Json>> StoreState::rawLocked(const Entry& entry) const {
  if (entry.raw == nullptr) {
    auto made = rawFromTyped(entry.typed);
    if (!made.ok()) return made.status();
    entry.raw = std::move(made).value();
  }
  return entry.raw;
}

uint64_t StoreState::resourceVersion() const {
  std::lock_guard lock(mutex_);
  return resource_version_;
}

StatusOr<StoreState::Typed> StoreState::typedFor(const kbinder::v1::GetRequest& request) const {
  const auto kind = kindFromName(request.kind());
  if (!kind) return invalidArgument("unknown kind \"" + request.kind() + "\"");
  std::lock_guard lock(mutex_);
  const auto it = objects_.find(
      Key{request.kind(), kindNamespaced(*kind) ? request.namespace_() : "", request.name()});
  if (it == objects_.end()) return notFoundError(request.kind(), request.name());
  return it->second.typed;
}

}  // namespace kbinder::host::store_internal
