// SPDX-License-Identifier: Apache-2.0
#include "host/model/objects.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <cassert>

namespace kbinder::host {
namespace {

namespace pb = google::protobuf;
using kbinder::v1::Object;

struct KindInfo {
  Kind kind;
  std::string_view name;
  std::string_view api_version;
  std::string_view resource;
  bool namespaced;
  bool status_subresource;
};

constexpr KindInfo kKinds[] = {
    {Kind::kPod, "Pod", "v1", "pods", true, true},
    {Kind::kNode, "Node", "v1", "nodes", false, true},
    {Kind::kPersistentVolumeClaim, "PersistentVolumeClaim", "v1", "persistentvolumeclaims", true,
     true},
    {Kind::kPersistentVolume, "PersistentVolume", "v1", "persistentvolumes", false, true},
    {Kind::kStorageClass, "StorageClass", "storage.k8s.io/v1", "storageclasses", false, false},
    {Kind::kResourceClaim, "ResourceClaim", "resource.k8s.io/v1", "resourceclaims", true, true},
    {Kind::kBindRequest, "BindRequest", "scheduling.run.ai/v1alpha2", "bindrequests", true, true},
    {Kind::kEvent, "Event", "events.k8s.io/v1", "events", true, false},
};

const KindInfo& info(Kind kind) {
  return kKinds[static_cast<size_t>(kind)];
}

}  // namespace

std::string_view kindName(Kind kind) {
  return info(kind).name;
}
std::string_view kindApiVersion(Kind kind) {
  return info(kind).api_version;
}
std::string_view kindResource(Kind kind) {
  return info(kind).resource;
}
bool kindNamespaced(Kind kind) {
  return info(kind).namespaced;
}
bool kindHasStatusSubresource(Kind kind) {
  return info(kind).status_subresource;
}

std::optional<Kind> kindFromName(std::string_view name) {
  for (const auto& k : kKinds) {
    if (k.name == name) return k.kind;
  }
  return std::nullopt;
}

std::optional<Kind> kindOf(const Object& object) {
  if (object.kind_case() == Object::KIND_NOT_SET) return std::nullopt;
  return static_cast<Kind>(static_cast<int>(object.kind_case()) - 1);
}

const pb::FieldDescriptor* objectField(Kind kind) {
  // The oneof in kbinder.v1.Object lists the kinds in Kind's order, numbered from 1.
  return Object::descriptor()->FindFieldByNumber(static_cast<int>(kind) + 1);
}

bool isWellKnownJsonType(const pb::Descriptor* type) {
  const std::string& name = type->full_name();
  return name == "google.protobuf.Struct" || name == "google.protobuf.ListValue" ||
         name == "google.protobuf.Value";
}

const pb::Message& payload(const Object& object) {
  const auto kind = kindOf(object);
  assert(kind);
  return object.GetReflection()->GetMessage(object, objectField(*kind));
}

pb::Message& mutablePayload(Object& object, Kind kind) {
  return *object.GetReflection()->MutableMessage(&object, objectField(kind));
}

const kbinder::v1::ObjectMeta& metadataOf(const Object& object) {
  // Through the generated accessors: lists match every object's labels, and reflection would
  // cost more than the match.
  switch (object.kind_case()) {
    case Object::kPod: return object.pod().metadata();
    case Object::kNode: return object.node().metadata();
    case Object::kPersistentVolumeClaim: return object.persistent_volume_claim().metadata();
    case Object::kPersistentVolume: return object.persistent_volume().metadata();
    case Object::kStorageClass: return object.storage_class().metadata();
    case Object::kResourceClaim: return object.resource_claim().metadata();
    case Object::kBindRequest: return object.bind_request().metadata();
    case Object::kEvent: return object.event().metadata();
    case Object::KIND_NOT_SET: break;
  }
  return kbinder::v1::ObjectMeta::default_instance();
}

kbinder::v1::ObjectMeta& mutableMetadataOf(Object& object) {
  const auto kind = kindOf(object);
  assert(kind);
  pb::Message& message = mutablePayload(object, *kind);
  const pb::FieldDescriptor* field = message.GetDescriptor()->FindFieldByName("metadata");
  return static_cast<kbinder::v1::ObjectMeta&>(
      *message.GetReflection()->MutableMessage(&message, field));
}

std::string rawString(const Json& object, std::initializer_list<std::string_view> path) {
  const Json* at = &object;
  for (std::string_view key : path) {
    if (!at->is_object()) return {};
    const auto it = at->find(std::string(key));
    if (it == at->end()) return {};
    at = &*it;
  }
  return at->is_string() ? at->get<std::string>() : std::string();
}

}  // namespace kbinder::host
