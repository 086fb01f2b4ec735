// SPDX-License-Identifier: Apache-2.0
// An in-memory sdk::Cluster for the built-in plugins' own tests: objects with resourceVersions
// (a stale write is a conflict), the status subresource, a virtual clock, and a hook that runs
// at every sleep to play what the rest of the cluster does meanwhile.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "kbinder/sdk/cluster.h"

namespace kbinder::plugins::testing {

class FakeCluster final : public sdk::Cluster {
 public:
  using Key = std::tuple<std::string, std::string, std::string>;  // kind, namespace, name

  // Stores an object as a client would create it; returns it with its resourceVersion.
  kbinder::v1::Object put(kbinder::v1::Object object) {
    auto& meta = metadata(object);
    meta.set_resource_version(std::to_string(++version_));
    if (meta.uid().empty()) meta.set_uid(meta.name() + "-uid");
    objects_[keyOf(object)] = object;
    return object;
  }
  kbinder::v1::Object* find(const std::string& kind, const std::string& ns,
                            const std::string& name) {
    const auto it = objects_.find(Key{kind, ns, name});
    return it == objects_.end() ? nullptr : &it->second;
  }
  void erase(const std::string& kind, const std::string& ns, const std::string& name) {
    objects_.erase(Key{kind, ns, name});
  }

  // Runs at every sleep, as the rest of the cluster acting while the plugin waits.
  std::function<void(FakeCluster&)> on_sleep;
  // Makes the next `n` patches fail with a conflict, as if someone else wrote first.
  int conflicts_to_inject = 0;
  std::vector<std::string> writes;  // "Kind ns/name [status]" per successful patch
  std::chrono::milliseconds time_left{std::chrono::seconds(30)};
  // What reads that need not be fresh see instead of the current object, as a watch-fed
  // copy that lags behind would show.
  std::map<Key, kbinder::v1::Object> lagging;
  int fresh_reads = 0;
  int cached_reads = 0;
  // Every list request, as asked. Selectors are not applied: the plugins check what they pick.
  std::vector<kbinder::v1::ListRequest> lists;

  sdk::Result get(std::string_view kind, std::string_view ns, std::string_view name, bool fresh,
                  kbinder::v1::Object* out) override {
    ++(fresh ? fresh_reads : cached_reads);
    if (!fresh) {
      if (const auto it = lagging.find(Key{std::string(kind), std::string(ns), std::string(name)});
          it != lagging.end()) {
        *out = it->second;
        return {};
      }
    }
    auto* object = find(std::string(kind), std::string(ns), std::string(name));
    if (object == nullptr) {
      return {sdk::Result::Code::kNotFound,
              std::string(kind) + " \"" + std::string(name) + "\" not found"};
    }
    *out = *object;
    return {};
  }

  sdk::Result list(const kbinder::v1::ListRequest& request, kbinder::v1::ObjectList* out) override {
    lists.push_back(request);
    out->Clear();
    for (const auto& [key, object] : objects_) {
      if (std::get<0>(key) != request.kind()) continue;
      if (!request.namespace_().empty() && std::get<1>(key) != request.namespace_()) continue;
      *out->add_items() = object;
    }
    return {};
  }

  sdk::Result patch(const kbinder::v1::Object& object, std::string_view subresource,
                    kbinder::v1::Object* out) override {
    auto* stored = find(kindOf(object), metadataOf(object).namespace_(), metadataOf(object).name());
    if (stored == nullptr) return {sdk::Result::Code::kNotFound, "not found"};
    if (conflicts_to_inject > 0) {
      --conflicts_to_inject;
      bump(*stored);
      return {sdk::Result::Code::kConflict, "the object has been modified"};
    }
    const std::string& rv = metadataOf(object).resource_version();
    if (!rv.empty() && rv != metadataOf(*stored).resource_version()) {
      return {sdk::Result::Code::kConflict, "the object has been modified"};
    }
    kbinder::v1::Object next = *stored;
    const bool status = subresource == "status";
    switch (object.kind_case()) {
      case kbinder::v1::Object::kPersistentVolumeClaim:
        merge(*next.mutable_persistent_volume_claim(), object.persistent_volume_claim(), status);
        break;
      case kbinder::v1::Object::kPersistentVolume:
        merge(*next.mutable_persistent_volume(), object.persistent_volume(), status);
        break;
      case kbinder::v1::Object::kResourceClaim:
        merge(*next.mutable_resource_claim(), object.resource_claim(), status);
        break;
      case kbinder::v1::Object::kPod: merge(*next.mutable_pod(), object.pod(), status); break;
      default: next = object; break;
    }
    bump(next);
    *stored = next;
    writes.push_back(kindOf(object) + " " + metadataOf(object).namespace_() + "/" +
                     metadataOf(object).name() + (status ? " status" : ""));
    if (out != nullptr) *out = next;
    return {};
  }

  bool cancelled() override { return time_left.count() <= 0; }
  std::chrono::milliseconds remaining() override { return time_left; }
  void sleep(std::chrono::milliseconds duration) override {
    time_left -= std::max(duration, std::chrono::milliseconds(1));
    if (on_sleep) on_sleep(*this);
  }
  void info(std::string_view message) override { log.emplace_back(message); }
  std::vector<std::string> log;

  static std::string kindOf(const kbinder::v1::Object& o) {
    switch (o.kind_case()) {
      case kbinder::v1::Object::kPod: return "Pod";
      case kbinder::v1::Object::kNode: return "Node";
      case kbinder::v1::Object::kPersistentVolumeClaim: return "PersistentVolumeClaim";
      case kbinder::v1::Object::kPersistentVolume: return "PersistentVolume";
      case kbinder::v1::Object::kStorageClass: return "StorageClass";
      case kbinder::v1::Object::kResourceClaim: return "ResourceClaim";
      case kbinder::v1::Object::kBindRequest: return "BindRequest";
      default: return "Event";
    }
  }

 private:
  template <class T>
  static void merge(T& stored, const T& in, bool status) {
    if (status) {
      *stored.mutable_status() = in.status();
    } else {
      const auto keep = stored.status();
      stored = in;
      *stored.mutable_status() = keep;
    }
  }
  static kbinder::v1::ObjectMeta& metadata(kbinder::v1::Object& o) {
    switch (o.kind_case()) {
      case kbinder::v1::Object::kPod: return *o.mutable_pod()->mutable_metadata();
      case kbinder::v1::Object::kNode: return *o.mutable_node()->mutable_metadata();
      case kbinder::v1::Object::kPersistentVolumeClaim:
        return *o.mutable_persistent_volume_claim()->mutable_metadata();
      case kbinder::v1::Object::kPersistentVolume:
        return *o.mutable_persistent_volume()->mutable_metadata();
      case kbinder::v1::Object::kStorageClass:
        return *o.mutable_storage_class()->mutable_metadata();
      case kbinder::v1::Object::kResourceClaim:
        return *o.mutable_resource_claim()->mutable_metadata();
      case kbinder::v1::Object::kBindRequest: return *o.mutable_bind_request()->mutable_metadata();
      default: return *o.mutable_event()->mutable_metadata();
    }
  }
  static const kbinder::v1::ObjectMeta& metadataOf(const kbinder::v1::Object& o) {
    return metadata(const_cast<kbinder::v1::Object&>(o));
  }
  void bump(kbinder::v1::Object& o) {
    metadata(o).set_resource_version(std::to_string(++version_));
  }
  Key keyOf(kbinder::v1::Object& o) {
    return Key{kindOf(o), metadata(o).namespace_(), metadata(o).name()};
  }

  std::map<Key, kbinder::v1::Object> objects_;
  uint64_t version_ = 0;
};

}  // namespace kbinder::plugins::testing
