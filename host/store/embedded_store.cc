// SPDX-License-Identifier: Apache-2.0
#include "host/store/embedded_store.h"

#include <algorithm>
#include <cassert>
#include <iterator>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "host/base/parallel.h"
#include "host/cluster/list_filter.h"
#include "host/model/label_selector.h"

namespace kbinder::host {
namespace {

using kbinder::v1::Object;
namespace pb = google::protobuf;

std::string resourceOf(const std::string& kind) {
  if (auto k = kindFromName(kind)) return std::string(kindResource(*k));
  std::string lower;
  for (char c : kind) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
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

// Sets the pod's PodScheduled condition to True, as the Binding subresource does.
void setPodScheduled(Json& pod, const std::string& now) {
  Json& conditions = member(member(pod, "status"), "conditions");
  if (!conditions.is_array()) conditions = Json::array();
  for (auto& condition : conditions) {
    if (condition.is_object() && condition.value("type", "") == "PodScheduled") {
      if (condition.value("status", "") != "True") {
        condition["status"] = "True";
        condition["lastTransitionTime"] = now;
        condition.erase("reason");
        condition.erase("message");
      }
      return;
    }
  }
  conditions.push_back(Json{{"type", "PodScheduled"},
                            {"status", "True"},
                            {"lastProbeTime", nullptr},
                            {"lastTransitionTime", now}});
}

// Whether the raw pod's status has a condition of `type`.
bool hasCondition(const Json& pod, std::string_view type) {
  const auto status = pod.find("status");
  if (status == pod.end() || !status->is_object()) return false;
  const auto conditions = status->find("conditions");
  if (conditions == status->end() || !conditions->is_array()) return false;
  return std::any_of(conditions->begin(), conditions->end(), [&](const Json& condition) {
    return condition.is_object() && condition.value("type", "") == type;
  });
}

// The same on the schema's form, with the node set: what converting the bound raw pod gives.
void setPodScheduled(kbinder::v1::Pod& pod, const std::string& node, const std::string&) {
  pod.mutable_spec()->set_node_name(node);
  for (auto& condition : *pod.mutable_status()->mutable_conditions()) {
    if (condition.type() == "PodScheduled") {
      if (condition.status() != "True") {
        condition.set_status("True");
        condition.clear_reason();
        condition.clear_message();
      }
      return;
    }
  }
  auto* condition = pod.mutable_status()->add_conditions();
  condition->set_type("PodScheduled");
  condition->set_status("True");
}

}  // namespace

StatusOr<const EmbeddedStore::Logged*> EmbeddedStore::nextLoggedLocked(
    std::unique_lock<AdaptiveMutex>& lock, uint64_t& after, std::chrono::steady_clock::time_point deadline,
    const std::string& kind_name, const std::function<bool(const Logged&)>& wanted) {
  while (true) {
    if (after < history_floor_) {
      return Status(StatusCode::kAborted, "too old resource version: " + std::to_string(after) +
                                              " (" + std::to_string(history_floor_) + ")");
    }
    auto it = std::upper_bound(
        history_.begin(), history_.end(), after,
        [](uint64_t rv, const Logged& logged) { return rv < logged.resource_version; });
    for (; it != history_.end(); ++it) {
      after = it->resource_version;
      if (it->kind_name == kind_name && wanted(*it)) return &*it;
    }
    if (deadline == std::chrono::steady_clock::time_point::min() ||
        changed_[kind_name].wait_until(lock, deadline) == std::cv_status::timeout) {
      return static_cast<const Logged*>(nullptr);
    }
  }
}

class EmbeddedStore::StoreWatch final : public Watch {
 public:
  // Made under the store's lock (by watch()).
  StoreWatch(EmbeddedStore& store, Kind kind, uint64_t after)
      : store_(store),
        kind_name_(kindName(kind)),
        encoded_(Typed::encoded(kind)),
        position_(store, after) {}

  StatusOr<std::optional<WatchEvent>> next(std::chrono::milliseconds timeout) override {
    auto taken = take(timeout);
    if (!taken.ok()) return taken.status();
    if (!taken->has_value()) return std::optional<WatchEvent>();
    auto object = (*taken)->second.get();  // outside the lock
    if (!object.ok()) return object.status();
    return std::optional<WatchEvent>(WatchEvent{(*taken)->first, std::move(object).value()});
  }

  bool encoded() const override { return encoded_; }

  StatusOr<std::optional<EncodedWatchEvent>> nextEncoded(
      std::chrono::milliseconds timeout) override {
    if (!encoded_) return Watch::nextEncoded(timeout);
    auto taken = take(timeout);
    if (!taken.ok()) return taken.status();
    if (!taken->has_value()) return std::optional<EncodedWatchEvent>();
    return std::optional<EncodedWatchEvent>(
        EncodedWatchEvent{(*taken)->first, (*taken)->second.encoding()});
  }

 private:
  static constexpr size_t kBatch = 256;
  static constexpr std::chrono::milliseconds kGather{1};

  // The next change taken from the history, as logged; nullopt when none came in time.
  StatusOr<std::optional<std::pair<WatchEvent::Type, Typed>>> take(
      std::chrono::milliseconds timeout) {
    using Taken = std::optional<std::pair<WatchEvent::Type, Typed>>;
    if (pending_.empty()) {
      // Events are taken in batches, under one lock: a watcher taking the store's lock once per
      // event fell behind busy writers. A watcher that had to wait lets a moment's worth of
      // events gather before it takes them: woken by every write of its kind, the store's
      // watchers spent more time waking than binding. Every event of the kind is wanted.
      const auto wanted = [](const Logged&) { return true; };
      // What is logged already, up to a batch (nothing is read past what the batch holds).
      const auto take_logged = [&](std::unique_lock<AdaptiveMutex>& lock) {
        while (pending_.size() < kBatch) {
          auto logged = store_.nextLoggedLocked(lock, position_.after(),
                                                std::chrono::steady_clock::time_point::min(),
                                                kind_name_, wanted);
          if (!logged.ok()) return logged.status();
          if (*logged == nullptr) break;
          pending_.emplace_back((*logged)->type, (*logged)->typed);
        }
        return okStatus();
      };
      std::unique_lock lock(store_.mutex_);
      Status taken = take_logged(lock);
      if (pending_.empty() && taken.ok()) {
        auto logged = store_.nextLoggedLocked(
            lock, position_.after(), std::chrono::steady_clock::now() + timeout, kind_name_, wanted);
        if (!logged.ok()) return logged.status();
        if (*logged == nullptr) return Taken();
        pending_.emplace_back((*logged)->type, (*logged)->typed);
        lock.unlock();
        std::this_thread::sleep_for(kGather);
        lock.lock();
        taken = take_logged(lock);  // an error here comes after the events taken before it
      }
      if (pending_.empty()) return taken;  // reached only with the error that stopped it
    }
    Taken next(std::move(pending_.front()));
    pending_.pop_front();
    return next;
  }

  EmbeddedStore& store_;
  std::string kind_name_;
  bool encoded_;  // the kind is kept encoded: nextEncoded() serves it
  ReadPosition position_;
  // Taken from the history, not yet handed out (a batch holds its versions alive).
  std::deque<std::pair<WatchEvent::Type, Typed>> pending_;
};

namespace {
constexpr bool kindsInValueOrder() {
  for (size_t i = 0; i < std::size(kAllKinds); ++i) {
    if (static_cast<size_t>(kAllKinds[i]) != i) return false;
  }
  return true;
}
static_assert(kindsInValueOrder(), "indexes_ is indexed by Kind's value, in kAllKinds' order");
}  // namespace

std::vector<EmbeddedStore::Indexes> EmbeddedStore::makeIndexes() {
  std::vector<Indexes> out;
  for (const Kind kind : kAllKinds) out.emplace_back(kind);
  return out;
}

void EmbeddedStore::prepareNew(Json& raw, std::optional<Kind> kind, uint64_t sequence) {
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

Status EmbeddedStore::prepareNewLocked(Json& raw, std::optional<Kind> kind) {
  prepareNew(raw, kind, next_sequence_);
  return okStatus();
}

StatusOr<std::unique_ptr<EmbeddedStore>> EmbeddedStore::load(Manifest manifest, Options options) {
  std::unique_ptr<EmbeddedStore> store(new EmbeddedStore(options));
  std::vector<Json> objects = std::move(manifest.objects);
  store->form_ = std::move(manifest);
  store->form_.objects.clear();
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
      prepareNew(raw, out.kind, i);
      metadata(raw)["resourceVersion"];  // its place made here: the commit only fills it in
      out.key = Key{kind_name, rawString(raw, {"metadata", "namespace"}),
                    rawString(raw, {"metadata", "name"})};
      out.version = convert(out.kind, std::move(raw));
      if (out.kind && out.version.ok() && Typed::encoded(*out.kind)) {
        encodeAhead(*out.kind, *out.version);
        out.version->typed.reset();  // the encoding is what is kept: the message goes now
      }
    }
  });
  objects = {};
  std::lock_guard lock(store->mutex_);
  for (Loaded& object : loaded) {
    const auto what = [&] {  // named only in a message
      const auto& [kind_name, namespace_, name] = object.key;
      return kind_name + " " + (namespace_.empty() ? name : namespace_ + "/" + name);
    };
    if (store->objects_.count(object.key) != 0) {
      return invalidArgument(what() + " appears twice; keep one copy of each object");
    }
    if (!object.version.ok()) {
      return Status(object.version.status().code(),
                    what() + ": " + object.version.status().message());
    }
    // Loading is not a change anyone watches: nothing is logged, watches start from here.
    store->commitLocked(object.key, object.kind, *object.version);
    object.version = Version{};  // the raw form is the store's now; what is left goes as we go
  }
  store->history_floor_ = store->resource_version_;
  return store;
}

namespace {
bool indexed(Kind kind) {
  return std::any_of(std::begin(kIndexedFields), std::end(kIndexedFields),
                     [&](const IndexedField& field) { return field.kind == kind; });
}
}  // namespace

bool EmbeddedStore::Typed::encoded(Kind kind) { return !indexed(kind); }

EmbeddedStore::Typed::Typed(Kind kind, const Object& object) {
  if (encoded(kind)) {
    encoded_ = std::make_shared<const std::string>(object.SerializeAsString());
    whole_ = encoded_->size();
  } else {
    message_ = std::make_shared<const Object>(object);
  }
}

EmbeddedStore::Typed EmbeddedStore::Typed::stamped(Kind kind, std::string encoded,
                                                   const std::string& resource_version,
                                                   size_t whole) {
  Typed typed;
  typed.whole_ = std::min(whole, encoded.size());
  appendResourceVersionStamp(kind, resource_version, encoded);  // made under the lock: no message
  typed.encoded_ = std::make_shared<const std::string>(std::move(encoded));
  return typed;
}

std::optional<std::string> EmbeddedStore::Typed::merged(const Object& fragment) const {
  if (encoded_ == nullptr) return std::nullopt;
  const size_t size = fragment.ByteSizeLong();
  if (encoded_->size() + size > 2 * whole_) return std::nullopt;
  std::string out;
  out.reserve(encoded_->size() + size + 32);  // room for the stamp
  out = *encoded_;
  fragment.AppendToString(&out);
  return out;
}

EmbeddedStore::Typed EmbeddedStore::Typed::restamped(Kind kind, const std::string& resource_version) const {
  if (encoded_ != nullptr) return stamped(kind, *encoded_, resource_version, whole_);
  Typed typed;
  if (message_ != nullptr) {
    auto copy = std::make_shared<Object>(*message_);
    mutableMetadataOf(*copy).set_resource_version(resource_version);
    typed.message_ = std::move(copy);
  }
  return typed;
}

void EmbeddedStore::encodeAhead(Kind kind, Version& version) {
  if (!version.typed || !Typed::encoded(kind)) return;
  mutableMetadataOf(*version.typed).clear_resource_version();
  version.encoded.reserve(version.typed->ByteSizeLong() + 32);  // room for the stamp
  version.typed->AppendToString(&version.encoded);
}

StatusOr<Object> EmbeddedStore::Typed::get() const {
  if (message_ != nullptr) return *message_;
  Object object;
  if (encoded_ == nullptr || !object.ParseFromString(*encoded_)) {
    return internalError("a stored object's schema form does not decode; the store is corrupt");
  }
  return object;
}

std::string EmbeddedStore::Typed::encode() const {
  if (encoded_ != nullptr) return *encoded_;
  return message_ != nullptr ? message_->SerializeAsString() : std::string();
}

StatusOr<EmbeddedStore::Version> EmbeddedStore::convert(std::optional<Kind> kind, Json raw) {
  Version version{std::move(raw), std::nullopt, {}};
  shrinkToFit(version.raw);
  if (kind) {
    auto converted = objectFromJson(*kind, version.raw);
    if (!converted.ok()) return converted.status();
    version.typed = std::move(converted).value();
  }
  return version;
}

EmbeddedStore::Entry* EmbeddedStore::commitLocked(const Key& key, std::optional<Kind> kind,
                                                  Version& version, bool raw_in_place,
                                                  bool no_raw) {
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

StatusOr<EmbeddedStore::Entry*> EmbeddedStore::storeLocked(const Key& key, Json raw) {
  const auto kind = kindFromName(std::get<0>(key));
  auto version = convert(kind, std::move(raw));
  if (!version.ok()) return version.status();
  return commitLocked(key, kind, *version);
}

StatusOr<std::pair<std::shared_ptr<const Json>, EmbeddedStore::Typed>>
EmbeddedStore::currentVersion(const Key& key) const {
  std::lock_guard lock(mutex_);
  const auto it = objects_.find(key);
  if (it == objects_.end()) return notFoundError(std::get<0>(key), std::get<2>(key));
  if (!it->second.typed) return internalError(std::get<0>(key) + " is not a modeled kind");
  auto raw = rawLocked(it->second);
  if (!raw.ok()) return raw.status();
  return std::make_pair(std::move(raw).value(), it->second.typed);
}

StatusOr<Object> EmbeddedStore::editTyped(const Key& key, const Edit& edit) {
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

StatusOr<EmbeddedStore::Merged> EmbeddedStore::mergeTyped(const Key& key, const MergeEdit& merge) {
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

StatusOr<bool> EmbeddedStore::commitEdit(const Key& key, std::optional<Kind> kind,
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

StatusOr<EmbeddedStore::Entry*> EmbeddedStore::writeLocked(const Key& key, Json raw, bool created) {
  auto entry = storeLocked(key, std::move(raw));
  if (!entry.ok()) return entry.status();
  logLocked(created ? WatchEvent::Type::kAdded : WatchEvent::Type::kModified, std::get<0>(key),
            (*entry)->kind, (*entry)->typed, (*entry)->raw);
  return entry;
}

void EmbeddedStore::eraseLocked(std::map<Key, Entry>::iterator it, Json last) {
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

void EmbeddedStore::logLocked(WatchEvent::Type type, const std::string& kind_name,
                              std::optional<Kind> kind, Typed typed,
                              std::shared_ptr<const Json> raw) {
  // Without raw watches nobody reads a logged raw version: the entry keeps it to itself.
  if (!options_.raw_watches) raw.reset();
  history_.push_back(
      Logged{resource_version_, kind_name, kind, type, std::move(typed), std::move(raw)});
  uint64_t slowest = resource_version_;  // what every open watch has read
  for (uint64_t position : watch_positions_) slowest = std::min(slowest, position);
  while (history_.size() > options_.watch_history ||
         (history_.size() > options_.watch_history_idle &&
          history_.front().resource_version <= slowest)) {
    history_floor_ = history_.front().resource_version;
    retired_.push_back(std::move(history_.front()));  // destroyed once the lock is let go
    history_.pop_front();
  }
  if (const auto waiting = changed_.find(kind_name); waiting != changed_.end()) {
    std::condition_variable_any* condition = &waiting->second;
    if (std::find(to_wake_.begin(), to_wake_.end(), condition) == to_wake_.end()) {
      to_wake_.push_back(condition);  // woken by the WriteLock, once it lets the lock go
    }
  }
}

StatusOr<Manifest> EmbeddedStore::snapshot() const {
  auto current = versions();
  if (!current.ok()) return current.status();
  Manifest out = form_;
  out.objects.reserve(current->size());
  for (const auto& version : *current) out.objects.push_back(*version);
  return out;
}

Status EmbeddedStore::writeSnapshot(std::ostream& out) const {
  const auto current = inOrder("");
  // Raw forms not kept are made as they are written (each thread its own), and let go then.
  return writeManifest(
      form_, current.size(),
      [&](size_t i) -> StatusOr<std::shared_ptr<const Json>> {
        const auto& [raw, typed] = current[i];
        if (raw != nullptr) return raw;
        return rawFromTyped(typed);
      },
      out);
}

StatusOr<std::vector<std::shared_ptr<const Json>>> EmbeddedStore::versions(
    const std::string& kind) const {
  auto current = inOrder(kind);
  std::vector<std::shared_ptr<const Json>> versions;
  versions.reserve(current.size());
  for (auto& [raw, typed] : current) {
    if (raw == nullptr) {
      auto converted = rawFromTyped(typed);
      if (!converted.ok()) return converted.status();
      raw = std::move(converted).value();
    }
    versions.push_back(std::move(raw));
  }
  return versions;
}

StatusOr<std::shared_ptr<const Json>> EmbeddedStore::rawFromTyped(const Typed& typed) {
  auto object = typed.get();
  if (!object.ok()) return object.status();
  Json raw = objectToJson(*object);
  shrinkToFit(raw);  // a well-known type's value is parsed, not made at its size
  // Made non-const, as every entry's raw version is, so that it may be edited in place.
  return std::shared_ptr<const Json>(std::make_shared<Json>(std::move(raw)));
}

StatusOr<std::shared_ptr<const Json>> EmbeddedStore::rawLocked(const Entry& entry) const {
  if (entry.raw == nullptr) {
    auto made = rawFromTyped(entry.typed);
    if (!made.ok()) return made.status();
    entry.raw = std::move(made).value();
  }
  return entry.raw;
}

std::vector<std::pair<std::shared_ptr<const Json>, EmbeddedStore::Typed>> EmbeddedStore::inOrder(
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

uint64_t EmbeddedStore::resourceVersion() const {
  std::lock_guard lock(mutex_);
  return resource_version_;
}

StatusOr<Json> EmbeddedStore::getRaw(const std::string& kind, const std::string& namespace_,
                                     const std::string& name) const {
  std::lock_guard lock(mutex_);
  const auto it = objects_.find(Key{kind, namespace_, name});
  if (it == objects_.end()) return notFoundError(kind, name);
  auto raw = rawLocked(it->second);
  if (!raw.ok()) return raw.status();
  return **raw;
}

StatusOr<Json> EmbeddedStore::put(Json raw) {
  if (!raw.is_object() || rawString(raw, {"kind"}).empty() ||
      rawString(raw, {"metadata", "name"}).empty()) {
    return invalidArgument("an object to store needs kind and metadata.name");
  }
  WriteLock lock(*this);
  const std::string kind_name = raw["kind"].get<std::string>();
  const auto kind = kindFromName(kind_name);
  if (Status s = prepareNewLocked(raw, kind); !s.ok()) return s;
  const Key key{kind_name, rawString(raw, {"metadata", "namespace"}),
                rawString(raw, {"metadata", "name"})};
  const bool created = objects_.count(key) == 0;
  auto written = writeLocked(key, std::move(raw), created);
  if (!written.ok()) return written.status();
  return *(*written)->raw;
}

Status EmbeddedStore::remove(const std::string& kind, const std::string& namespace_,
                             const std::string& name) {
  WriteLock lock(*this);
  const auto it = objects_.find(Key{kind, namespace_, name});
  if (it == objects_.end()) return notFoundError(kind, name);
  auto raw = rawLocked(it->second);
  if (!raw.ok()) return raw.status();
  eraseLocked(it, **raw);
  return okStatus();
}

StatusOr<EmbeddedStore::Typed> EmbeddedStore::typedFor(const kbinder::v1::GetRequest& request) const {
  const auto kind = kindFromName(request.kind());
  if (!kind) return invalidArgument("unknown kind \"" + request.kind() + "\"");
  std::lock_guard lock(mutex_);
  const auto it = objects_.find(
      Key{request.kind(), kindNamespaced(*kind) ? request.namespace_() : "", request.name()});
  if (it == objects_.end()) return notFoundError(request.kind(), request.name());
  return it->second.typed;
}

StatusOr<Object> EmbeddedStore::get(const kbinder::v1::GetRequest& request) {
  auto typed = typedFor(request);
  if (!typed.ok()) return typed.status();
  return typed->get();  // outside the lock: versions are immutable
}

StatusOr<std::string> EmbeddedStore::getEncoded(const kbinder::v1::GetRequest& request) {
  auto typed = typedFor(request);
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
    std::lock_guard lock(mutex_);
    const auto take = [&](ObjectIt it) {
      if (!request.namespace_().empty() && kindNamespaced(kind) &&
          std::get<1>(it->first) != request.namespace_()) {
        return;
      }
      versions.push_back(it->second.typed);
    };
    // A selector on an indexed field, or volumes a node must admit, look only where an index
    // points.
    if (!indexesLocked(kind).forEachCandidate(*filter, take)) {
      for (auto it = objects_.lower_bound(Key{request.kind(), "", ""});
           it != objects_.end() && std::get<0>(it->first) == request.kind(); ++it) {
        take(it);
      }
    }
    out.set_resource_version(std::to_string(resource_version_));
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
                           "\"; use \"\" or \"status\"");
  }
  if (request.subresource() == "status" && !kindHasStatusSubresource(*kind)) {
    return notFound(std::string(kindResource(*kind)) + " have no status subresource");
  }
  const auto& meta = metadataOf(request.object());
  const Key key{std::string(kindName(*kind)), kindNamespaced(*kind) ? meta.namespace_() : "",
                meta.name()};
  return editTyped(key, [&](const Json& raw, Object& typed) -> StatusOr<std::optional<RawEdit>> {
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
    auto merged =
        mergeTyped(key, [&](const Json& raw) -> StatusOr<std::optional<Merge>> {
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
  auto edited =
      editTyped(key, [&](const Json& raw, Object& typed) -> StatusOr<std::optional<RawEdit>> {
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

StatusOr<std::string> EmbeddedStore::writeBindRequestStatus(kbinder::v1::BindRequest request) {
  const auto& meta = request.metadata();
  const Key key{std::string(kindName(Kind::kBindRequest)), meta.namespace_(), meta.name()};
  const kbinder::v1::BindRequestStatus& next = request.status();
  auto merged =
      mergeTyped(key, [&](const Json& raw) -> StatusOr<std::optional<Merge>> {
        if (Status s = checkVersion(raw, meta.resource_version(),
                                    std::string(kindResource(Kind::kBindRequest)), meta.name());
            !s.ok()) {
          return s;
        }
        const auto status = raw.find("status");
        const Json* held = status != raw.end() && status->is_object() ? &*status : nullptr;
        // The fields that differ from what the raw status holds (absent or null: the default).
        // Merging `next` whole sets them; a field it would clear cannot be merged.
        const Json wanted = {{"phase", next.phase()},
                             {"reason", next.reason()},
                             {"failedAttempts", next.failed_attempts()}};
        Json changed = Json::object();
        for (const auto& [name, value] : wanted.items()) {
          const auto it = held == nullptr ? Json::const_iterator() : held->find(name);
          const bool absent = held == nullptr || it == held->end() || it->is_null();
          const bool cleared = value == Json("") || value == Json(0);
          if (absent ? cleared : *it == value) continue;
          if (cleared) return std::optional<Merge>(Merge{std::nullopt, {}});
          changed[name] = value;
        }
        if (changed.empty()) return std::optional<Merge>();
        Object fragment;
        *fragment.mutable_bind_request()->mutable_status() = next;
        return std::optional<Merge>(
            Merge{std::move(fragment), [changed = std::move(changed)](Json& target) {
                    Json& status = member(target, "status");
                    if (!status.is_object()) status = Json::object();
                    for (const auto& [name, value] : changed.items()) member(status, name) = value;
                  }});
      });
  if (!merged.ok()) return merged.status();
  if (merged->outcome != Merged::Outcome::kNotMergeable) return merged->resource_version;
  return ClusterBackend::writeBindRequestStatus(std::move(request));
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
    const bool raw_later = !options_.raw_watches && Typed::encoded(*kind);
    version.raw = raw_later ? Json() : objectToJson(typed);
    shrinkToFit(version.raw);  // a well-known type's value is parsed, not made at its size
    version.encoded.clear();
    encodeAhead(*kind, version);
    const Key key{std::string(kindName(*kind)), meta.namespace_(), meta.name()};
    WriteLock lock(*this);
    if (objects_.count(key) != 0) {
      if (generated) continue;
      return Status(StatusCode::kAlreadyExists,
                    std::string(kindResource(*kind)) + " \"" + std::get<2>(key) + "\" already exists");
    }
    Entry* entry = commitLocked(key, kind, version, /*raw_in_place=*/false, raw_later);
    logLocked(WatchEvent::Type::kAdded, std::get<0>(key), kind, entry->typed, entry->raw);
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
  std::lock_guard lock(mutex_);
  if (after < history_floor_) {
    return Status(StatusCode::kAborted, "too old resource version: " + resource_version);
  }
  return std::unique_ptr<Watch>(new StoreWatch(*this, kind, after));
}

Status EmbeddedStore::bindPod(const PodBinding& binding) {
  const std::string& name = binding.name;
  const std::string& uid = binding.uid;
  const std::string& node = binding.node;
  const Key key{"Pod", binding.namespace_, name};
  // The API server's checks, on the raw pod (both forms agree).
  const auto refusal = [&](const Json& current) -> Status {
    const std::string stored_uid = rawString(current, {"metadata", "uid"});
    if (!uid.empty() && uid != stored_uid) {
      return conflict("pods/binding", name,
                      "Precondition failed: UID in precondition: " + uid +
                          ", UID in object meta: " + stored_uid);
    }
    const std::string stored_version = rawString(current, {"metadata", "resourceVersion"});
    if (!binding.resource_version.empty() && binding.resource_version != stored_version) {
      return conflict(
          "pods/binding", name,
          "Precondition failed: ResourceVersion in precondition: " + binding.resource_version +
              ", ResourceVersion in object meta: " + stored_version);
    }
    if (!rawString(current, {"metadata", "deletionTimestamp"}).empty()) {
      return conflict("pods/binding", name,
                      "pod " + name + " is being deleted, cannot be assigned to a host");
    }
    const std::string assigned = rawString(current, {"spec", "nodeName"});
    if (!assigned.empty()) {
      return conflict("pods/binding", name,
                      "pod " + name + " is already assigned to node \"" + assigned + "\"");
    }
    if (node.empty()) return invalidArgument("Binding target name is required");
    return okStatus();
  };
  // The same change on both forms: converting the whole pod again would cost more
  // (EmbeddedStoreTest.BindingKeepsBothFormsInStep checks they agree). A pod without a
  // PodScheduled condition (the usual case) gains the node, the condition and the binding's
  // annotations, fields merged into the kept encoding (a map entry parsed later replaces one
  // with the same key); one with the condition has it changed, on the decoded pod.
  std::string now = timestampNow();
  const RawEdit raw_edit = [&binding, &now](Json& pod) {
    member(member(pod, "spec"), "nodeName") = binding.node;
    setPodScheduled(pod, now);
    if (binding.annotations.empty()) return;
    Json& annotations = member(metadata(pod), "annotations");
    if (!annotations.is_object()) annotations = Json::object();
    for (const auto& [k, v] : binding.annotations) member(annotations, k) = v;
  };
  const auto annotate = [&binding](kbinder::v1::Pod& pod) {
    for (const auto& [k, v] : binding.annotations) {
      (*pod.mutable_metadata()->mutable_annotations())[k] = v;
    }
  };
  auto merged = mergeTyped(key, [&](const Json& current) -> StatusOr<std::optional<Merge>> {
    if (Status s = refusal(current); !s.ok()) return s;
    Merge merge{std::nullopt, raw_edit};
    if (!hasCondition(current, "PodScheduled")) {
      Object fragment;
      setPodScheduled(*fragment.mutable_pod(), node, now);
      annotate(*fragment.mutable_pod());
      merge.fragment = std::move(fragment);
    }
    return std::optional<Merge>(std::move(merge));
  });
  if (!merged.ok()) return merged.status();
  if (merged->outcome != Merged::Outcome::kNotMergeable) return okStatus();
  auto written =
      editTyped(key, [&](const Json& current, Object& typed) -> StatusOr<std::optional<RawEdit>> {
        if (Status s = refusal(current); !s.ok()) return s;
        setPodScheduled(*typed.mutable_pod(), node, now);
        annotate(*typed.mutable_pod());
        return std::optional<RawEdit>(raw_edit);
      });
  return written.ok() ? okStatus() : written.status();
}

// ---- raw access ---------------------------------------------------------------------------

namespace {

std::map<std::string, std::string> rawLabels(const Json& object) {
  std::map<std::string, std::string> out;
  const auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return out;
  const auto labels = meta->find("labels");
  if (labels == meta->end() || !labels->is_object()) return out;
  for (const auto& [k, v] : labels->items()) out[k] = v.is_string() ? v.get<std::string>() : v.dump();
  return out;
}

bool hasStatusSubresource(const std::string& kind) {
  const auto k = kindFromName(kind);
  return k && kindHasStatusSubresource(*k);
}

}  // namespace

class EmbeddedStore::StoreRawWatch final : public RawWatch {
 public:
  // Made under the store's lock (by watchRaw()).
  StoreRawWatch(EmbeddedStore& store, std::string kind, std::string ns, uint64_t after)
      : store_(store), kind_(std::move(kind)), ns_(std::move(ns)), position_(store, after) {}

  StatusOr<std::optional<RawEvent>> next(std::chrono::milliseconds timeout) override {
    std::unique_lock lock(store_.mutex_);
    auto logged = store_.nextLoggedLocked(
        lock, position_.after(), std::chrono::steady_clock::now() + timeout, kind_,
        [&](const Logged& l) {
          return ns_.empty() || rawString(*l.raw, {"metadata", "namespace"}) == ns_;
        });
    if (!logged.ok()) return logged.status();
    if (*logged == nullptr) return std::optional<RawEvent>();
    return std::optional<RawEvent>(RawEvent{(*logged)->type, (*logged)->raw});
  }
  uint64_t position() const override {
    std::lock_guard lock(store_.mutex_);
    return position_.after();
  }

 private:
  EmbeddedStore& store_;
  std::string kind_, ns_;
  ReadPosition position_;
};

StatusOr<EmbeddedStore::RawList> EmbeddedStore::listRaw(const std::string& kind,
                                                        const std::string& namespace_,
                                                        const std::string& label_selector,
                                                        size_t limit,
                                                        const std::string& continue_token) const {
  auto selector = LabelSelector::parse(label_selector);
  if (!selector.ok()) return selector.status();
  RawList out;
  std::lock_guard lock(mutex_);
  out.resource_version = resource_version_;
  Key start{kind, "", ""};
  if (!continue_token.empty()) {
    const size_t slash = continue_token.find('/');
    if (slash == std::string::npos) return invalidArgument("invalid continue token");
    start = Key{kind, continue_token.substr(0, slash), continue_token.substr(slash + 1)};
  }
  auto it = objects_.lower_bound(start);
  if (!continue_token.empty() && it != objects_.end() && it->first == start) ++it;
  for (; it != objects_.end() && std::get<0>(it->first) == kind; ++it) {
    if (!namespace_.empty() && std::get<1>(it->first) != namespace_) continue;
    auto raw = rawLocked(it->second);
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

StatusOr<std::unique_ptr<EmbeddedStore::RawWatch>> EmbeddedStore::watchRaw(
    const std::string& kind, const std::string& namespace_, uint64_t after) {
  if (!options_.raw_watches) {
    return Status(StatusCode::kFailedPrecondition,
                  "this embedded store keeps no raw watch history (Options::raw_watches is off)");
  }
  std::lock_guard lock(mutex_);
  if (after < history_floor_) {
    return Status(StatusCode::kAborted, "too old resource version: " + std::to_string(after) +
                                            " (" + std::to_string(history_floor_) + ")");
  }
  return std::unique_ptr<RawWatch>(new StoreRawWatch(*this, kind, namespace_, after));
}

StatusOr<Json> EmbeddedStore::createRaw(Json raw) {
  if (!raw.is_object() || rawString(raw, {"kind"}).empty()) {
    return invalidArgument("the object has no kind");
  }
  const std::string kind_name = raw["kind"].get<std::string>();
  const auto kind = kindFromName(kind_name);
  Json& meta = metadata(raw);
  WriteLock lock(*this);
  if (rawString(raw, {"metadata", "name"}).empty()) {
    const std::string prefix = rawString(raw, {"metadata", "generateName"});
    if (prefix.empty()) return invalidArgument("metadata.name or metadata.generateName is required");
    do {
      meta["name"] = prefix + randomSuffix();
    } while (objects_.count(Key{kind_name, rawString(raw, {"metadata", "namespace"}),
                                rawString(raw, {"metadata", "name"})}) != 0);
  }
  meta.erase("resourceVersion");
  meta["uid"] = randomUid();
  meta["creationTimestamp"] = timestampNow();
  if (Status s = prepareNewLocked(raw, kind); !s.ok()) return s;
  const Key key{kind_name, rawString(raw, {"metadata", "namespace"}), rawString(raw, {"metadata", "name"})};
  if (objects_.count(key) != 0) {
    return Status(StatusCode::kAlreadyExists,
                  resourceOf(kind_name) + " \"" + std::get<2>(key) + "\" already exists");
  }
  auto written = writeLocked(key, std::move(raw), /*created=*/true);
  if (!written.ok()) return invalidArgument(written.status().message());
  return *(*written)->raw;
}

StatusOr<Json> EmbeddedStore::replaceLocked(const Key& key, Json replacement,
                                            const std::string& subresource,
                                            const std::string& precondition) {
  const auto it = objects_.find(key);
  if (it == objects_.end()) return notFoundError(std::get<0>(key), std::get<2>(key));
  auto current_raw = rawLocked(it->second);
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
    for (const char* field : {"name", "namespace", "uid", "creationTimestamp", "deletionTimestamp"}) {
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
      eraseLocked(it, next);
      metadata(next)["resourceVersion"] = std::to_string(resource_version_);
      return next;
    }
  }
  auto written = writeLocked(key, std::move(next), /*created=*/false);
  if (!written.ok()) return invalidArgument(written.status().message());
  return *(*written)->raw;
}

StatusOr<Json> EmbeddedStore::patchRaw(const std::string& kind, const std::string& namespace_,
                                       const std::string& name, const Json& merge_patch,
                                       const std::string& subresource) {
  if (!merge_patch.is_object()) return invalidArgument("a merge patch must be a JSON object");
  WriteLock lock(*this);
  const Key key{kind, namespace_, name};
  const auto it = objects_.find(key);
  if (it == objects_.end()) return notFoundError(kind, name);
  auto current = rawLocked(it->second);
  if (!current.ok()) return current.status();
  Json next = **current;
  applyMergePatch(next, merge_patch);
  const std::string precondition = rawString(merge_patch, {"metadata", "resourceVersion"});
  return replaceLocked(key, std::move(next), subresource, precondition);
}

StatusOr<Json> EmbeddedStore::updateRaw(Json object, const std::string& subresource) {
  const std::string kind = rawString(object, {"kind"});
  const Key key{kind, rawString(object, {"metadata", "namespace"}), rawString(object, {"metadata", "name"})};
  const std::string precondition = rawString(object, {"metadata", "resourceVersion"});
  WriteLock lock(*this);
  return replaceLocked(key, std::move(object), subresource, precondition);
}

StatusOr<Json> EmbeddedStore::deleteRaw(const std::string& kind, const std::string& namespace_,
                                        const std::string& name) {
  {
    WriteLock lock(*this);
    const Key key{kind, namespace_, name};
    const auto it = objects_.find(key);
    if (it == objects_.end()) return notFoundError(kind, name);
    auto current_raw = rawLocked(it->second);
    if (!current_raw.ok()) return current_raw.status();
    const Json& current = **current_raw;
    const auto& finalizers = current["metadata"].value("finalizers", Json::array());
    if (finalizers.is_array() && !finalizers.empty()) {
      if (!rawString(current, {"metadata", "deletionTimestamp"}).empty()) return current;
      Json next = current;
      metadata(next)["deletionTimestamp"] = timestampNow();
      auto written = writeLocked(key, std::move(next), /*created=*/false);
      if (!written.ok()) return written.status();
      return *(*written)->raw;
    }
  }
  auto raw = getRaw(kind, namespace_, name);
  if (Status s = remove(kind, namespace_, name); !s.ok()) return s;
  return raw;
}

void EmbeddedStore::compactHistory() {
  std::lock_guard lock(mutex_);
  history_.clear();
  history_floor_ = resource_version_;
  for (auto& [kind, waiting] : changed_) waiting.notify_all();
}

}  // namespace kbinder::host
