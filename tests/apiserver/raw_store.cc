// SPDX-License-Identifier: Apache-2.0
#include "raw_store.h"

#include <iterator>
#include <map>
#include <utility>

#include "host/model/label_selector.h"
#include "host/store/store_state.h"

namespace kbinder::testing {
namespace {

using host::invalidArgument;
using host::Json;
using host::kindFromName;
using host::kindHasStatusSubresource;
using host::LabelSelector;
using host::Manifest;
using host::notFound;
using host::okStatus;
using host::randomUid;
using host::rawString;
using host::Status;
using host::StatusCode;
using host::StatusOr;
using host::timestampNow;
using host::store_internal::StoreState;
using WriteLock = StoreState::WriteLock;
using Logged = StoreState::Logged;
using host::store_internal::checkVersion;
using host::store_internal::metadata;
using host::store_internal::notFoundError;
using host::store_internal::randomSuffix;
using host::store_internal::resourceOf;

// Labels as strings (a value that is not one, as its JSON), for selectors.
std::map<std::string, std::string> rawLabels(const Json& object) {
  std::map<std::string, std::string> out;
  const auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return out;
  const auto labels = meta->find("labels");
  if (labels == meta->end() || !labels->is_object()) return out;
  for (const auto& [k, v] : labels->items())
    out[k] = v.is_string() ? v.get<std::string>() : v.dump();
  return out;
}

bool hasStatusSubresource(const std::string& kind) {
  const auto k = kindFromName(kind);
  return k && kindHasStatusSubresource(*k);
}

class StoreRawWatch final : public RawStore::RawWatch {
 public:
  // Made under the store's lock (by watchRaw()).
  StoreRawWatch(StoreState& store, std::string kind, std::string ns, uint64_t after)
      : store_(store), kind_(std::move(kind)), ns_(std::move(ns)), position_(store, after) {}

  host::StatusOr<std::optional<RawStore::RawEvent>> next(
      std::chrono::milliseconds timeout) override {
    std::unique_lock lock(store_.mutex_);
    auto logged = store_.nextLoggedLocked(
        lock, position_.after(), std::chrono::steady_clock::now() + timeout, kind_,
        [&](const Logged& l) {
          return ns_.empty() || rawString(*l.raw, {"metadata", "namespace"}) == ns_;
        });
    if (!logged.ok()) return logged.status();
    if (*logged == nullptr) return std::optional<RawStore::RawEvent>();
    return std::optional<RawStore::RawEvent>(RawStore::RawEvent{(*logged)->type, (*logged)->raw});
  }
  uint64_t position() const override {
    std::lock_guard lock(store_.mutex_);
    return position_.after();
  }

 private:
  StoreState& store_;
  std::string kind_, ns_;
  StoreState::ReadPosition position_;
};

}  // namespace

StatusOr<Json> RawStore::getRaw(const std::string& kind, const std::string& namespace_,
                                const std::string& name) const {
  std::lock_guard lock(state_.mutex_);
  const auto it = state_.objects_.find(Key{kind, namespace_, name});
  if (it == state_.objects_.end()) return notFoundError(kind, name);
  auto raw = state_.rawLocked(it->second);
  if (!raw.ok()) return raw.status();
  return **raw;
}

StatusOr<Json> RawStore::put(Json raw) {
  if (!raw.is_object() || rawString(raw, {"kind"}).empty() ||
      rawString(raw, {"metadata", "name"}).empty()) {
    return invalidArgument("an object to store needs kind and metadata.name");
  }
  WriteLock lock(state_);
  const std::string kind_name = raw["kind"].get<std::string>();
  const auto kind = kindFromName(kind_name);
  if (Status s = state_.prepareNewLocked(raw, kind); !s.ok()) return s;
  const Key key{kind_name, rawString(raw, {"metadata", "namespace"}),
                rawString(raw, {"metadata", "name"})};
  const bool created = state_.objects_.count(key) == 0;
  auto written = state_.writeLocked(key, std::move(raw), created);
  if (!written.ok()) return written.status();
  return *(*written)->raw;
}

Status RawStore::remove(const std::string& kind, const std::string& namespace_,
                        const std::string& name) {
  WriteLock lock(state_);
  const auto it = state_.objects_.find(Key{kind, namespace_, name});
  if (it == state_.objects_.end()) return notFoundError(kind, name);
  auto raw = state_.rawLocked(it->second);
  if (!raw.ok()) return raw.status();
  state_.eraseLocked(it, **raw);
  return okStatus();
}

StatusOr<RawStore::RawList> RawStore::listRaw(const std::string& kind,
                                              const std::string& namespace_,
                                              const std::string& label_selector, size_t limit,
                                              const std::string& continue_token) const {
  auto selector = LabelSelector::parse(label_selector);
  if (!selector.ok()) return selector.status();
  RawList out;
  std::lock_guard lock(state_.mutex_);
  out.resource_version = state_.resource_version_;
  Key start{kind, "", ""};
  if (!continue_token.empty()) {
    const size_t slash = continue_token.find('/');
    if (slash == std::string::npos) return invalidArgument("invalid continue token");
    start = Key{kind, continue_token.substr(0, slash), continue_token.substr(slash + 1)};
  }
  auto it = state_.objects_.lower_bound(start);
  if (!continue_token.empty() && it != state_.objects_.end() && it->first == start) ++it;
  for (; it != state_.objects_.end() && std::get<0>(it->first) == kind; ++it) {
    if (!namespace_.empty() && std::get<1>(it->first) != namespace_) continue;
    auto raw = state_.rawLocked(it->second);
    if (!raw.ok()) return raw.status();
    if (!selector->matches(rawLabels(**raw))) continue;
    if (limit != 0 && out.items.size() == limit) {
      const Key& last = std::prev(it)->first;
      out.continue_token = std::get<1>(last) + "/" + std::get<2>(last);
      break;
    }
    out.items.push_back(**raw);
  }
  return out;
}

StatusOr<std::unique_ptr<RawStore::RawWatch>> RawStore::watchRaw(const std::string& kind,
                                                                 const std::string& namespace_,
                                                                 uint64_t after) {
  if (!state_.options_.raw_watches) {
    return Status(StatusCode::kFailedPrecondition,
                  "this embedded store keeps no raw watch history (Options::raw_watches is off)");
  }
  std::lock_guard lock(state_.mutex_);
  if (after < state_.history_floor_) {
    return Status(StatusCode::kAborted, "too old resource version: " + std::to_string(after) +
                                            " (" + std::to_string(state_.history_floor_) + ")");
  }
  return std::unique_ptr<RawWatch>(new StoreRawWatch(state_, kind, namespace_, after));
}

StatusOr<Json> RawStore::createRaw(Json raw) {
  if (!raw.is_object() || rawString(raw, {"kind"}).empty()) {
    return invalidArgument("the object has no kind");
  }
  const std::string kind_name = raw["kind"].get<std::string>();
  const auto kind = kindFromName(kind_name);
  Json& meta = metadata(raw);
  WriteLock lock(state_);
  if (rawString(raw, {"metadata", "name"}).empty()) {
    const std::string prefix = rawString(raw, {"metadata", "generateName"});
    if (prefix.empty())
      return invalidArgument("metadata.name or metadata.generateName is required");
    do {
      meta["name"] = prefix + randomSuffix();
    } while (state_.objects_.count(Key{kind_name, rawString(raw, {"metadata", "namespace"}),
                                       rawString(raw, {"metadata", "name"})}) != 0);
  }
  meta.erase("resourceVersion");
  meta["uid"] = randomUid();
  meta["creationTimestamp"] = timestampNow();
  if (Status s = state_.prepareNewLocked(raw, kind); !s.ok()) return s;
  const Key key{kind_name, rawString(raw, {"metadata", "namespace"}),
                rawString(raw, {"metadata", "name"})};
  if (state_.objects_.count(key) != 0) {
    return Status(StatusCode::kAlreadyExists,
                  resourceOf(kind_name) + " \"" + std::get<2>(key) + "\" already exists");
  }
  auto written = state_.writeLocked(key, std::move(raw), /*created=*/true);
  if (!written.ok()) return invalidArgument(written.status().message());
  return *(*written)->raw;
}

StatusOr<Json> RawStore::replaceLocked(const Key& key, Json replacement,
                                       const std::string& subresource,
                                       const std::string& precondition) {
  const auto it = state_.objects_.find(key);
  if (it == state_.objects_.end()) return notFoundError(std::get<0>(key), std::get<2>(key));
  auto current_raw = state_.rawLocked(it->second);
  if (!current_raw.ok()) return current_raw.status();
  const Json& current = **current_raw;
  if (Status s =
          checkVersion(current, precondition, resourceOf(std::get<0>(key)), std::get<2>(key));
      !s.ok()) {
    return s;
  }
  if (!subresource.empty() && subresource != "status") {
    return notFound("the server could not find the requested resource");
  }
  const bool status_only = subresource == "status";
  if (status_only && !hasStatusSubresource(std::get<0>(key))) {
    return notFound("the server could not find the requested resource");
  }
  Json next;
  if (status_only) {
    next = current;
    if (replacement.contains("status")) {
      next["status"] = replacement["status"];
    } else {
      next.erase("status");
    }
  } else {
    next = std::move(replacement);
    if (hasStatusSubresource(std::get<0>(key))) {
      if (current.contains("status")) {
        next["status"] = current["status"];
      } else {
        next.erase("status");
      }
    }
    // Identity stays: name, namespace, uid, creationTimestamp, deletionTimestamp.
    Json& meta = metadata(next);
    for (const char* field :
         {"name", "namespace", "uid", "creationTimestamp", "deletionTimestamp"}) {
      const auto old = current["metadata"].find(field);
      if (old != current["metadata"].end()) {
        meta[field] = *old;
      } else {
        meta.erase(field);
      }
    }
  }
  metadata(next)["resourceVersion"] = rawString(current, {"metadata", "resourceVersion"});
  if (next == current) return current;  // nothing changed: no write
  // An object being deleted goes once its last finalizer is removed.
  if (!rawString(next, {"metadata", "deletionTimestamp"}).empty()) {
    const auto finalizers = next["metadata"].find("finalizers");
    if (finalizers == next["metadata"].end() || !finalizers->is_array() || finalizers->empty()) {
      state_.eraseLocked(it, next);
      metadata(next)["resourceVersion"] = std::to_string(state_.resource_version_);
      return next;
    }
  }
  auto written = state_.writeLocked(key, std::move(next), /*created=*/false);
  if (!written.ok()) return invalidArgument(written.status().message());
  return *(*written)->raw;
}

StatusOr<Json> RawStore::patchRaw(const std::string& kind, const std::string& namespace_,
                                  const std::string& name, const Json& merge_patch,
                                  const std::string& subresource) {
  if (!merge_patch.is_object()) return invalidArgument("a merge patch must be a JSON object");
  WriteLock lock(state_);
  const Key key{kind, namespace_, name};
  const auto it = state_.objects_.find(key);
  if (it == state_.objects_.end()) return notFoundError(kind, name);
  auto current = state_.rawLocked(it->second);
  if (!current.ok()) return current.status();
  Json next = **current;
  next.merge_patch(merge_patch);
  const std::string precondition = rawString(merge_patch, {"metadata", "resourceVersion"});
  return replaceLocked(key, std::move(next), subresource, precondition);
}

StatusOr<Json> RawStore::updateRaw(Json object, const std::string& subresource) {
  const std::string kind = rawString(object, {"kind"});
  const Key key{kind, rawString(object, {"metadata", "namespace"}),
                rawString(object, {"metadata", "name"})};
  const std::string precondition = rawString(object, {"metadata", "resourceVersion"});
  WriteLock lock(state_);
  return replaceLocked(key, std::move(object), subresource, precondition);
}

StatusOr<Json> RawStore::deleteRaw(const std::string& kind, const std::string& namespace_,
                                   const std::string& name) {
  {
    WriteLock lock(state_);
    const Key key{kind, namespace_, name};
    const auto it = state_.objects_.find(key);
    if (it == state_.objects_.end()) return notFoundError(kind, name);
    auto current_raw = state_.rawLocked(it->second);
    if (!current_raw.ok()) return current_raw.status();
    const Json& current = **current_raw;
    const auto& finalizers = current["metadata"].value("finalizers", Json::array());
    if (finalizers.is_array() && !finalizers.empty()) {
      if (!rawString(current, {"metadata", "deletionTimestamp"}).empty()) return current;
      Json next = current;
      metadata(next)["deletionTimestamp"] = timestampNow();
      auto written = state_.writeLocked(key, std::move(next), /*created=*/false);
      if (!written.ok()) return written.status();
      return *(*written)->raw;
    }
  }
  auto raw = getRaw(kind, namespace_, name);
  if (Status s = remove(kind, namespace_, name); !s.ok()) return s;
  return raw;
}

void RawStore::compactHistory() {
  std::lock_guard lock(state_.mutex_);
  state_.history_.clear();
  state_.history_floor_ = state_.resource_version_;
  for (auto& [kind, waiting] : state_.changed_) waiting.notify_all();
}

StatusOr<host::Manifest> RawStore::snapshot() const {
  auto current = store_.versions();
  if (!current.ok()) return current.status();
  host::Manifest out = state_.form_;
  out.objects.reserve(current->size());
  for (const auto& version : *current) out.objects.push_back(*version);
  return out;
}

}  // namespace kbinder::testing
