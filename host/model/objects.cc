// SPDX-License-Identifier: Apache-2.0
#include "host/model/objects.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <ctime>
#include <memory>
#include <optional>
#include <random>
#include <vector>

#include "host/base/sha256.h"
#include "kbinder/sdk/wire.h"

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

const KindInfo& info(Kind kind) { return kKinds[static_cast<size_t>(kind)]; }

bool isWellKnownJsonType(const pb::Descriptor* type) {
  const std::string& name = type->full_name();
  return name == "google.protobuf.Struct" || name == "google.protobuf.ListValue" ||
         name == "google.protobuf.Value";
}

const pb::FieldDescriptor* objectField(Kind kind) {
  // The oneof in kbinder.v1.Object lists the kinds in Kind's order, numbered from 1.
  return Object::descriptor()->FindFieldByNumber(static_cast<int>(kind) + 1);
}

}  // namespace

std::string_view kindName(Kind kind) { return info(kind).name; }
std::string_view kindApiVersion(Kind kind) { return info(kind).api_version; }
std::string_view kindResource(Kind kind) { return info(kind).resource; }
bool kindNamespaced(Kind kind) { return info(kind).namespaced; }
bool kindHasStatusSubresource(Kind kind) { return info(kind).status_subresource; }

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

bool appendEncodedPayload(std::string_view object, std::string& payload) {
  const auto* begin = reinterpret_cast<const uint8_t*>(object.data());
  const auto* end = begin + object.size();
  // Two passes: nothing is appended unless every record is the one kind's.
  uint64_t field = 0;
  size_t size = 0;
  sdk::wire::detail::Record record;
  for (const uint8_t* at = begin; at < end;) {
    if (!sdk::wire::detail::readRecord(at, end, record) || record.type != 2) return false;
    if (field == 0) field = record.number;
    if (record.number != field || field > static_cast<uint64_t>(Object::kEventFieldNumber)) {
      return false;
    }
    size += record.length;
  }
  if (field == 0) return false;
  payload.reserve(payload.size() + size);
  for (const uint8_t* at = begin; at < end;) {
    sdk::wire::detail::readRecord(at, end, record);
    payload.append(reinterpret_cast<const char*>(record.value), record.length);
  }
  return true;
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

namespace {

// Where a value sits in the object, for messages; rendered only when one is needed.
struct Path {
  enum class Step { kField, kIndex, kKey };
  const Path* parent = nullptr;
  Step step = Step::kField;
  std::string_view name;  // the field's JSON name or the map key; at the root, the path so far
  size_t index = 0;       // kIndex

  std::string str() const {
    if (parent == nullptr) return std::string(name);
    std::string base = parent->str();
    if (step == Step::kIndex) return base + "[" + std::to_string(index) + "]";
    return base.empty() ? std::string(name) : base + "." + std::string(name);
  }
};

// A JSON value as the conversion sees it, from either tree: its type, and a scalar's value
// (a string as a view: neither tree's string is copied to look at it).
struct Value {
  enum class Type { kNull, kBoolean, kNumber, kString, kObject, kList };
  Type type = Type::kNull;
  Json scalar;            // kBoolean, kNumber (allocates nothing)
  std::string_view text;  // kString

  static Value of(const Json& json) {
    if (json.is_string()) return {Type::kString, Json(), json.get_ref<const std::string&>()};
    if (json.is_boolean()) return {Type::kBoolean, json, {}};
    if (json.is_number()) return {Type::kNumber, json, {}};
    if (json.is_object()) return {Type::kObject, Json(), {}};
    if (json.is_array()) return {Type::kList, Json(), {}};
    return {};
  }
  const char* name() const {
    switch (type) {
      case Type::kObject: return "an object";
      case Type::kList: return "a list";
      case Type::kString: return "a string";
      case Type::kBoolean: return "a boolean";
      case Type::kNumber: return "a number";
      case Type::kNull: break;
    }
    return "null";
  }
  // A scalar as JSON text.
  std::string dump() const { return type == Type::kString ? Json(std::string(text)).dump() : scalar.dump(); }
};

// `where` renders the value's place; called only for a message.
template <class Where>
Status expected(const Where& where, const char* want, const Value& found) {
  return invalidArgument(where() + ": expected " + want + ", found " + found.name());
}

// Protobuf wire format: a length-delimited field (tag, length, bytes).
void appendVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void appendLengthDelimited(std::string& out, int field_number, std::string_view bytes) {
  appendVarint(out, (static_cast<uint64_t>(field_number) << 3) | 2);
  appendVarint(out, bytes.size());
  out.append(bytes);
}
// One entry of a map field, in the wire form the generated map code reads.
void appendMapEntry(std::string& wire, int field_number, std::string_view key, std::string_view value) {
  std::string entry;
  appendLengthDelimited(entry, 1, key);
  appendLengthDelimited(entry, 2, value);
  appendLengthDelimited(wire, field_number, entry);
}

// A value where the schema wants a string: a string, or a number or boolean as written
// (YAML's `cpu: 2` is the quantity "2"). Nullopt when it is neither.
std::optional<std::string> stringOf(const Value& value) {
  if (value.type == Value::Type::kString) return std::string(value.text);
  if (value.type == Value::Type::kNumber || value.type == Value::Type::kBoolean) return value.scalar.dump();
  return std::nullopt;
}

// Sets one value of a field that is not a message (appended, if the field is repeated),
// checked against the field's type. Json's numeric conversions may throw; the callers turn
// that into a message.
template <class Where>
Status setScalar(pb::Message& message, const pb::FieldDescriptor* field, const Value& value,
                 const Where& where) {
  const pb::Reflection& r = *message.GetReflection();
  const bool repeated = field->is_repeated();
  switch (field->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_STRING: {
      std::optional<std::string> text = stringOf(value);
      if (!text) return expected(where, "a string", value);
      repeated ? r.AddString(&message, field, std::move(*text)) : r.SetString(&message, field, std::move(*text));
      return okStatus();
    }
    case pb::FieldDescriptor::CPPTYPE_BOOL: {
      if (value.type != Value::Type::kBoolean) return expected(where, "true or false", value);
      const bool b = value.scalar.get<bool>();
      repeated ? r.AddBool(&message, field, b) : r.SetBool(&message, field, b);
      return okStatus();
    }
    case pb::FieldDescriptor::CPPTYPE_ENUM: {
      const pb::EnumValueDescriptor* e = nullptr;
      if (value.type == Value::Type::kString) {
        e = field->enum_type()->FindValueByName(std::string(value.text));
      } else if (value.type == Value::Type::kNumber) {
        e = field->enum_type()->FindValueByNumber(value.scalar.get<int>());
      } else {
        return expected(where, "a name or a number", value);
      }
      if (e == nullptr) return invalidArgument(field->json_name() + ": unknown value " + value.dump());
      repeated ? r.AddEnum(&message, field, e) : r.SetEnum(&message, field, e);
      return okStatus();
    }
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      return internalError(field->json_name() + " is a message");
    default:  // numbers
      if (value.type != Value::Type::kNumber) return expected(where, "a number", value);
      if (value.scalar.is_number_float() && field->cpp_type() != pb::FieldDescriptor::CPPTYPE_DOUBLE &&
          field->cpp_type() != pb::FieldDescriptor::CPPTYPE_FLOAT) {
        return expected(where, "an integer", value);
      }
      break;
  }
  const Json& n = value.scalar;
  switch (field->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32:
      repeated ? r.AddInt32(&message, field, n.get<int32_t>()) : r.SetInt32(&message, field, n.get<int32_t>());
      break;
    case pb::FieldDescriptor::CPPTYPE_INT64:
      repeated ? r.AddInt64(&message, field, n.get<int64_t>()) : r.SetInt64(&message, field, n.get<int64_t>());
      break;
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      repeated ? r.AddUInt32(&message, field, n.get<uint32_t>())
               : r.SetUInt32(&message, field, n.get<uint32_t>());
      break;
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      repeated ? r.AddUInt64(&message, field, n.get<uint64_t>())
               : r.SetUInt64(&message, field, n.get<uint64_t>());
      break;
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      repeated ? r.AddDouble(&message, field, n.get<double>()) : r.SetDouble(&message, field, n.get<double>());
      break;
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
      repeated ? r.AddFloat(&message, field, n.get<float>()) : r.SetFloat(&message, field, n.get<float>());
      break;
    default:
      break;
  }
  return okStatus();
}

// The message for one value of a message field: appended if the field is repeated, else the
// field's own, cleared (a key given twice: the last one counts).
pb::Message& messageFor(pb::Message& message, const pb::FieldDescriptor* field) {
  const pb::Reflection& r = *message.GetReflection();
  if (field->is_repeated()) return *r.AddMessage(&message, field);
  r.ClearField(&message, field);
  return *r.MutableMessage(&message, field);
}

// Sets a well-known JSON type (Struct, Value, ListValue) from its JSON text, as protobuf reads it.
Status setWellKnown(pb::Message& target, const std::string& json_text) {
  const auto status = pb::util::JsonStringToMessage(json_text, &target);
  return status.ok() ? okStatus() : invalidArgument(std::string(status.message()));
}

// The two JSON trees the conversion walks: nlohmann's (objects loaded, stored and patched,
// whose raw form is kept) and simdjson's (the API server's answers and watch events, read once:
// simdjson parses a pod in a twentieth of the time nlohmann takes to build its tree).
struct TreeNode {
  const Json& json;

  bool null() const { return json.is_null(); }
  bool object() const { return json.is_object(); }
  bool list() const { return json.is_array(); }
  Value value() const { return Value::of(json); }
  std::string dump() const { return json.dump(); }
  // `f(key, node)` for each member (map entries).
  template <class F>
  Status members(const F& f) const {
    for (const auto& [key, item] : json.items()) {
      if (Status s = f(std::string_view(key), TreeNode{item}); !s.ok()) return s;
    }
    return okStatus();
  }
  // `f(index, node)` for each element.
  template <class F>
  Status elements(const F& f) const {
    for (size_t j = 0; j < json.size(); ++j) {
      if (Status s = f(j, TreeNode{json[j]}); !s.ok()) return s;
    }
    return okStatus();
  }
  // `f(field, node)` for each field of `type` the object has, not null: in the schema's order,
  // so that the first problem named is the same whatever order the JSON has.
  template <class F>
  Status modeled(const pb::Descriptor* type, const F& f) const {
    for (int i = 0; i < type->field_count(); ++i) {
      const auto it = json.find(type->field(i)->json_name());
      if (it == json.end() || it->is_null()) continue;
      if (Status s = f(type->field(i), TreeNode{*it}); !s.ok()) return s;
    }
    return okStatus();
  }
};

struct TextNode {
  simdjson::dom::element element;

  bool null() const { return element.is_null(); }
  bool object() const { return element.is_object(); }
  bool list() const { return element.is_array(); }
  Value value() const {
    switch (element.type()) {
      case simdjson::dom::element_type::STRING:
        return {Value::Type::kString, Json(), element.get_string().value_unsafe()};
      case simdjson::dom::element_type::INT64:
        return {Value::Type::kNumber, Json(element.get_int64().value_unsafe()), {}};
      case simdjson::dom::element_type::UINT64:
        return {Value::Type::kNumber, Json(element.get_uint64().value_unsafe()), {}};
      case simdjson::dom::element_type::DOUBLE:
        return {Value::Type::kNumber, Json(element.get_double().value_unsafe()), {}};
      case simdjson::dom::element_type::BOOL:
        return {Value::Type::kBoolean, Json(element.get_bool().value_unsafe()), {}};
      case simdjson::dom::element_type::OBJECT: return {Value::Type::kObject, Json(), {}};
      case simdjson::dom::element_type::ARRAY: return {Value::Type::kList, Json(), {}};
      case simdjson::dom::element_type::NULL_VALUE: break;
    }
    return {};
  }
  std::string dump() const { return simdjson::minify(element); }
  template <class F>
  Status members(const F& f) const {
    const simdjson::dom::object object = element.get_object().value_unsafe();
    for (const auto member : object) {
      if (Status s = f(member.key, TextNode{member.value}); !s.ok()) return s;
    }
    return okStatus();
  }
  template <class F>
  Status elements(const F& f) const {
    size_t j = 0;
    const simdjson::dom::array array = element.get_array().value_unsafe();
    for (const auto item : array) {
      if (Status s = f(j++, TextNode{item}); !s.ok()) return s;
    }
    return okStatus();
  }
  // In the text's order (a key given twice: the last one counts, as in nlohmann's tree).
  template <class F>
  Status modeled(const pb::Descriptor* type, const F& f) const {
    const simdjson::dom::object object = element.get_object().value_unsafe();
    for (const auto member : object) {
      if (member.value.is_null()) continue;
      const pb::FieldDescriptor* field = nullptr;
      for (int i = 0; i < type->field_count() && field == nullptr; ++i) {
        if (type->field(i)->json_name() == member.key) field = type->field(i);
      }
      if (field == nullptr) continue;
      if (Status s = f(field, TextNode{member.value}); !s.ok()) return s;
    }
    return okStatus();
  }
};

template <class Node>
Status mismatch(const Path& path, const char* want, const Node& found) {
  return expected([&] { return path.str(); }, want, found.value());
}

template <class Node>
Status fillMessage(const Node& raw, pb::Message& message, const Path& path);

// One value of `field` (a singular field, or appended to a repeated one), checked against the
// field's type and set: one pass over the JSON, no copy of it made first.
template <class Node>
Status fillValue(const Node& value, const pb::FieldDescriptor* field, pb::Message& message,
                 const Path& path) {
  if (field->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) {
    return setScalar(message, field, value.value(), [&] { return path.str(); });
  }
  if (isWellKnownJsonType(field->message_type())) return setWellKnown(messageFor(message, field), value.dump());
  if (!value.object()) return mismatch(path, "an object", value);
  return fillMessage(value, messageFor(message, field), path);
}

// Sets `field` of `message` from its JSON value (not null); a value the field had is replaced.
template <class Node>
Status fillField(const Node& value, const pb::FieldDescriptor* field, pb::Message& message,
                 const Path& path) {
  if (field->is_map()) {
    if (!value.object()) return mismatch(path, "a mapping", value);
    // Map entries go in as wire-format bytes merged into the message, so the generated map
    // code stores them (reflection's view of a map as repeated entries is avoided).
    const pb::FieldDescriptor* value_field = field->message_type()->map_value();
    std::string wire;
    Status s = value.members([&](std::string_view key, const Node& item) {
      if (item.null()) return okStatus();
      const Path item_path{&path, Path::Step::kKey, key};
      if (value_field->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING) {
        const std::optional<std::string> text = stringOf(item.value());
        if (!text) return mismatch(item_path, "a string", item);
        appendMapEntry(wire, field->number(), key, *text);
      } else if (value_field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
        if (!item.object()) return mismatch(item_path, "an object", item);
        std::unique_ptr<pb::Message> child(
            pb::MessageFactory::generated_factory()->GetPrototype(value_field->message_type())->New());
        if (Status s = fillMessage(item, *child, item_path); !s.ok()) return s;
        appendMapEntry(wire, field->number(), key, child->SerializeAsString());
      } else {
        return invalidArgument(field->json_name() + ": maps of this value type are not supported");
      }
      return okStatus();
    });
    if (!s.ok()) return s;
    message.GetReflection()->ClearField(&message, field);
    if (!message.MergeFromString(wire)) return invalidArgument(field->json_name() + ": bad map");
    return okStatus();
  }
  if (field->is_repeated()) {
    if (!value.list()) return mismatch(path, "a list", value);
    message.GetReflection()->ClearField(&message, field);
    return value.elements([&](size_t j, const Node& item) {
      return item.null() ? okStatus() : fillValue(item, field, message, Path{&path, Path::Step::kIndex, {}, j});
    });
  }
  return fillValue(value, field, message, path);
}

// Fills `message` from the JSON object `raw`: the fields the schema models; the rest is
// passed over.
template <class Node>
Status fillMessage(const Node& raw, pb::Message& message, const Path& path) {
  if (!raw.object()) return okStatus();
  return raw.modeled(message.GetDescriptor(), [&](const pb::FieldDescriptor* field, const Node& value) {
    return fillField(value, field, message, Path{&path, Path::Step::kField, field->json_name()});
  });
}

// Parses text with this thread's simdjson parser (its buffers are reused); the document lives
// until the thread's next parse.
StatusOr<simdjson::dom::element> parseText(std::string_view text) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (const auto error = parser.parse(text.data(), text.size()).get(root); error != simdjson::SUCCESS) {
    return invalidArgument(std::string("not JSON: ") + simdjson::error_message(error));
  }
  return root;
}

template <class Node>
StatusOr<Object> convert(Kind kind, const Node& raw) {
  Object object;
  pb::Message& message = mutablePayload(object, kind);
  try {
    if (Status s = fillMessage(raw, message, Path{}); !s.ok()) return s;
  } catch (const Json::exception& e) {
    return invalidArgument(std::string("a value does not fit its field: ") + e.what());
  }
  return object;
}

}  // namespace

namespace {

// Calls `field(number, bytes)` for each length-delimited record of the encoded message
// `message`, in order, and skips the others; false when the bytes do not parse, or `field`
// returns false.
template <typename Field>
bool forEachLengthDelimited(std::string_view message, Field&& field) {
  const auto* at = reinterpret_cast<const uint8_t*>(message.data());
  const auto* end = at + message.size();
  sdk::wire::detail::Record record;
  while (at < end) {
    if (!sdk::wire::detail::readRecord(at, end, record)) return false;
    if (record.type != 2) continue;
    const std::string_view bytes(reinterpret_cast<const char*>(record.value), record.length);
    if (!field(record.number, bytes)) return false;
  }
  return true;
}

// The last value `message` sets for its string field `number` into `out` (kept when unset).
bool lastString(std::string_view message, uint64_t number, std::string_view& out) {
  return forEachLengthDelimited(message, [&](uint64_t field, std::string_view bytes) {
    if (field == number) out = bytes;
    return true;
  });
}

}  // namespace

bool podFactsFromEncoded(std::string_view object, PodFacts& facts) {
  facts = PodFacts{};
  bool pod = false;
  const bool parsed = forEachLengthDelimited(object, [&](uint64_t field, std::string_view bytes) {
    if (field != Object::kPodFieldNumber) return false;  // another kind
    pod = true;
    return forEachLengthDelimited(bytes, [&](uint64_t pod_field, std::string_view part) {
      switch (pod_field) {
        case kbinder::v1::Pod::kMetadataFieldNumber:
          return lastString(part, kbinder::v1::ObjectMeta::kUidFieldNumber, facts.uid);
        case kbinder::v1::Pod::kSpecFieldNumber:
          return lastString(part, kbinder::v1::PodSpec::kNodeNameFieldNumber, facts.node_name);
        case kbinder::v1::Pod::kStatusFieldNumber:
          return lastString(part, kbinder::v1::PodStatus::kPhaseFieldNumber, facts.phase);
        default: return true;
      }
    });
  });
  return parsed && pod;
}

void appendResourceVersionStamp(Kind kind, std::string_view resource_version,
                                std::string& encoded) {
  // Per kind, the field numbers on the way down: Object's field for the kind, then the kind's
  // metadata field.
  static const auto numbers = [] {
    std::array<std::pair<int, int>, std::size(kAllKinds)> out{};
    for (const Kind k : kAllKinds) {
      const pb::FieldDescriptor* field = objectField(k);
      const pb::FieldDescriptor* metadata = field->message_type()->FindFieldByName("metadata");
      assert(metadata != nullptr);
      out[static_cast<size_t>(k)] = {field->number(), metadata->number()};
    }
    return out;
  }();
  const auto [object_field, metadata_field] = numbers[static_cast<size_t>(kind)];
  std::string meta;
  appendLengthDelimited(meta, kbinder::v1::ObjectMeta::kResourceVersionFieldNumber,
                        resource_version);
  std::string payload;
  appendLengthDelimited(payload, metadata_field, meta);
  appendLengthDelimited(encoded, object_field, payload);
}

StatusOr<Object> objectFromJson(Kind kind, const Json& raw) { return convert(kind, TreeNode{raw}); }

StatusOr<Object> objectFromJsonText(Kind kind, std::string_view text, bool* not_json) {
  if (not_json != nullptr) *not_json = false;
  auto root = parseText(text);
  if (root.ok()) return convert(kind, TextNode{*root});
  // What simdjson refuses, nlohmann may still read (an integer beyond 64 bits, as a double).
  const Json tree = Json::parse(text.begin(), text.end(), nullptr, false);
  if (!tree.is_discarded()) return objectFromJson(kind, tree);
  if (not_json != nullptr) *not_json = true;
  return root.status();
}

StatusOr<std::string> resourceVersionFromJsonText(std::string_view text, bool* not_json) {
  if (not_json != nullptr) *not_json = false;
  std::string_view version;
  auto root = parseText(text);
  if (root.ok()) {
    if (root->at_pointer("/metadata/resourceVersion").get(version) == simdjson::SUCCESS) {
      return std::string(version);
    }
  } else {
    const Json tree = Json::parse(text.begin(), text.end(), nullptr, false);
    if (tree.is_discarded()) {
      if (not_json != nullptr) *not_json = true;
      return root.status();
    }
    const std::string read = rawString(tree, {"metadata", "resourceVersion"});
    if (!read.empty()) return read;
  }
  return invalidArgument("the object carries no metadata.resourceVersion string");
}

StatusOr<WatchEventText> watchEventFromJsonText(Kind kind, std::string_view text) {
  auto root = parseText(text);
  if (!root.ok()) return root.status();
  WatchEventText event;
  simdjson::dom::element type;
  if (root->at_key("type").get(type) == simdjson::SUCCESS && type.is_string()) {
    event.type = std::string(type.get_string().value_unsafe());
  }
  simdjson::dom::element object;
  if (root->at_key("object").get(object) != simdjson::SUCCESS || object.is_null()) return event;
  if (!object.is_object()) return invalidArgument("a watch event's object is not an object");
  auto converted = convert(kind, TextNode{object});
  if (!converted.ok()) return converted.status();
  event.object = std::move(converted).value();
  return event;
}

namespace {

// refreshFields() on one message: `raw` is its JSON, `fields` the changed ones' names, "a.b"
// for field b of the object a.
Status refreshMessage(const Json& raw, const std::vector<std::string>& fields,
                      const std::string& path, pb::Message& message) {
  const pb::Descriptor* type = message.GetDescriptor();
  const pb::Reflection& reflection = *message.GetReflection();
  // Each field is converted on its own: converting the changed ones alone, onto a message that
  // holds the others already, gives what converting all would.
  const Path here{nullptr, Path::Step::kField, path};
  for (int i = 0; i < type->field_count(); ++i) {
    const pb::FieldDescriptor* field = type->field(i);
    const std::string& name = field->json_name();
    const auto it = raw.is_object() ? raw.find(name) : raw.end();
    if (std::find(fields.begin(), fields.end(), name) != fields.end()) {
      reflection.ClearField(&message, field);
      if (it == raw.end() || it->is_null()) continue;
      try {
        if (Status s = fillField(TreeNode{*it}, field, message, Path{&here, Path::Step::kField, name}); !s.ok()) {
          return s;
        }
      } catch (const Json::exception& e) {
        return invalidArgument(std::string("a value does not fit its field: ") + e.what());
      }
      continue;
    }
    // Fields changed within this one: converted on their own, into it.
    std::vector<std::string> within;
    for (const std::string& f : fields) {
      if (f.size() > name.size() && f.compare(0, name.size(), name) == 0 && f[name.size()] == '.') {
        within.push_back(f.substr(name.size() + 1));
      }
    }
    if (within.empty()) continue;
    if (field->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE || field->is_repeated()) {
      return invalidArgument("refreshing " + within.front() + " within " + name + ", not an object");
    }
    static const Json kAbsent = Json::object();
    const std::string inner = path.empty() ? name : path + "." + name;
    if (Status s = refreshMessage(it != raw.end() ? *it : kAbsent, within, inner,
                                  *reflection.MutableMessage(&message, field));
        !s.ok()) {
      return s;
    }
  }
  return okStatus();
}

}  // namespace

Status refreshFields(Kind kind, const Json& raw, const std::vector<std::string>& fields,
                     Object& typed) {
  return refreshMessage(raw, fields, "", mutablePayload(typed, kind));
}

namespace {

// One value of `field` (index `i` when repeated) as JSON, as protobuf's JSON printer writes it
// but with 64-bit integers as numbers (as Kubernetes writes them).
Json valueToJson(const pb::Message& message, const pb::FieldDescriptor* field, int i) {
  const pb::Reflection& r = *message.GetReflection();
  const bool rep = field->is_repeated();
  switch (field->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_MESSAGE: {
      const pb::Message& child = rep ? r.GetRepeatedMessage(message, field, i) : r.GetMessage(message, field);
      if (isWellKnownJsonType(field->message_type())) {
        std::string text;
        const auto status = pb::util::MessageToJsonString(child, &text);
        return status.ok() ? Json::parse(text) : Json();
      }
      return messageToJson(child);
    }
    case pb::FieldDescriptor::CPPTYPE_STRING:
      return rep ? r.GetRepeatedString(message, field, i) : r.GetString(message, field);
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      return rep ? r.GetRepeatedBool(message, field, i) : r.GetBool(message, field);
    case pb::FieldDescriptor::CPPTYPE_INT32:
      return rep ? r.GetRepeatedInt32(message, field, i) : r.GetInt32(message, field);
    case pb::FieldDescriptor::CPPTYPE_INT64:
      return rep ? r.GetRepeatedInt64(message, field, i) : r.GetInt64(message, field);
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      return rep ? r.GetRepeatedUInt32(message, field, i) : r.GetUInt32(message, field);
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      return rep ? r.GetRepeatedUInt64(message, field, i) : r.GetUInt64(message, field);
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      return rep ? r.GetRepeatedDouble(message, field, i) : r.GetDouble(message, field);
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
      return rep ? r.GetRepeatedFloat(message, field, i) : r.GetFloat(message, field);
    case pb::FieldDescriptor::CPPTYPE_ENUM:
      return (rep ? r.GetRepeatedEnum(message, field, i) : r.GetEnum(message, field))->name();
  }
  return nullptr;
}

}  // namespace

namespace {

// A set field's value as JSON (maps in key order, as the JSON printer writes them).
Json setFieldToJson(const pb::Message& message, const pb::FieldDescriptor* field) {
  const pb::Reflection& r = *message.GetReflection();
  if (field->is_map()) {
    const pb::FieldDescriptor* key_field = field->message_type()->map_key();
    const pb::FieldDescriptor* value_field = field->message_type()->map_value();
    std::vector<std::pair<std::string, Json>> entries;
    for (int i = 0; i < r.FieldSize(message, field); ++i) {
      const pb::Message& entry = r.GetRepeatedMessage(message, field, i);
      entries.emplace_back(entry.GetReflection()->GetString(entry, key_field),
                           valueToJson(entry, value_field, -1));
    }
    std::sort(entries.begin(), entries.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    Json map = Json::object();
    auto& members = map.get_ref<Json::object_t&>();
    members.reserve(entries.size());
    for (auto& [k, v] : entries) members.emplace_back(std::move(k), std::move(v));  // keys unique
    return map;
  }
  if (field->is_repeated()) {
    Json list = Json::array();
    const int size = r.FieldSize(message, field);
    list.get_ref<Json::array_t&>().reserve(size);
    for (int i = 0; i < size; ++i) list.push_back(valueToJson(message, field, i));
    return list;
  }
  return valueToJson(message, field, -1);
}

// One field as JSON; null when it is not set (as messageToJson would leave it out).
Json fieldToJson(const pb::Message& message, const pb::FieldDescriptor* field) {
  const pb::Reflection& r = *message.GetReflection();
  const bool set = field->is_repeated() ? r.FieldSize(message, field) > 0 : r.HasField(message, field);
  return set ? setFieldToJson(message, field) : Json();
}

}  // namespace

Json messageToJson(const pb::Message& message) {
  std::vector<const pb::FieldDescriptor*> fields;
  message.GetReflection()->ListFields(message, &fields);  // set fields only, in number order
  // Made at their final size (nothing for the store to refit), and appended without looking
  // for the key first: each field comes once.
  Json out = Json::object();
  auto& members = out.get_ref<Json::object_t&>();
  members.reserve(fields.size());
  for (const pb::FieldDescriptor* field : fields) {
    members.emplace_back(field->json_name(), setFieldToJson(message, field));
  }
  return out;
}

Json objectToJson(const Object& object) { return messageToJson(payload(object)); }

void rebaseInPlace(Json& target, const Json& before, const Json& after) {
  if (before == after) return;
  if (before.is_object() && after.is_object()) {
    if (!target.is_object()) target = Json::object();
    for (const auto& [key, value] : before.items()) {
      if (!after.contains(key)) target.erase(key);
    }
    for (const auto& [key, value] : after.items()) {
      const auto old = before.find(key);
      const auto base = target.find(key);
      if (old == before.end() && base == target.end()) {
        member(target, key) = value;
      } else {
        // New in the subset, over an existing raw value: that value's unmodeled fields stay.
        rebaseInPlace(base != target.end() ? *base : member(target, key),
                      old == before.end() ? Json::object() : *old, value);
      }
    }
    return;
  }
  if (before.is_array() && after.is_array()) {
    const bool raw_matches = target.is_array() && target.size() == before.size();
    std::vector<bool> used(before.size(), false);
    Json result = Json::array();
    for (size_t j = 0; j < after.size(); ++j) {
      // An element unchanged in the subset keeps its raw form, wherever it moved to.
      size_t same = before.size();
      for (size_t i = 0; i < before.size(); ++i) {
        if (!used[i] && before[i] == after[j]) {
          same = i;
          break;
        }
      }
      if (same < before.size()) {
        used[same] = true;
        result.push_back(raw_matches ? std::move(target[same]) : after[j]);
      } else if (j < before.size() && !used[j]) {
        used[j] = true;
        Json element = raw_matches ? std::move(target[j]) : Json();
        rebaseInPlace(element, before[j], after[j]);
        result.push_back(std::move(element));
      } else {
        result.push_back(after[j]);
      }
    }
    target = std::move(result);
    return;
  }
  target = after;
}

namespace {

// A message's deterministic encoding, which orders map entries.
std::string deterministicEncoding(const pb::Message& m) {
  std::string out;
  pb::io::StringOutputStream stream(&out);
  pb::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  m.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

// Whether element `i` of repeated `field` (not a map) is the same in both messages.
bool sameElement(const pb::Message& a, const pb::Message& b, const pb::FieldDescriptor* field, int i) {
  const pb::Reflection& ra = *a.GetReflection();
  const pb::Reflection& rb = *b.GetReflection();
  switch (field->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      return deterministicEncoding(ra.GetRepeatedMessage(a, field, i)) ==
             deterministicEncoding(rb.GetRepeatedMessage(b, field, i));
    case pb::FieldDescriptor::CPPTYPE_STRING: {
      std::string sa, sb;
      return ra.GetRepeatedStringReference(a, field, i, &sa) == rb.GetRepeatedStringReference(b, field, i, &sb);
    }
    case pb::FieldDescriptor::CPPTYPE_BOOL: return ra.GetRepeatedBool(a, field, i) == rb.GetRepeatedBool(b, field, i);
    case pb::FieldDescriptor::CPPTYPE_INT32: return ra.GetRepeatedInt32(a, field, i) == rb.GetRepeatedInt32(b, field, i);
    case pb::FieldDescriptor::CPPTYPE_INT64: return ra.GetRepeatedInt64(a, field, i) == rb.GetRepeatedInt64(b, field, i);
    case pb::FieldDescriptor::CPPTYPE_UINT32: return ra.GetRepeatedUInt32(a, field, i) == rb.GetRepeatedUInt32(b, field, i);
    case pb::FieldDescriptor::CPPTYPE_UINT64: return ra.GetRepeatedUInt64(a, field, i) == rb.GetRepeatedUInt64(b, field, i);
    case pb::FieldDescriptor::CPPTYPE_DOUBLE: return ra.GetRepeatedDouble(a, field, i) == rb.GetRepeatedDouble(b, field, i);
    case pb::FieldDescriptor::CPPTYPE_FLOAT: return ra.GetRepeatedFloat(a, field, i) == rb.GetRepeatedFloat(b, field, i);
    case pb::FieldDescriptor::CPPTYPE_ENUM: return ra.GetRepeatedEnumValue(a, field, i) == rb.GetRepeatedEnumValue(b, field, i);
  }
  return false;
}

// Whether singular scalar `field` holds the same in both messages (presence included).
bool sameScalar(const pb::Message& a, const pb::Message& b, const pb::FieldDescriptor* field) {
  const pb::Reflection& ra = *a.GetReflection();
  const pb::Reflection& rb = *b.GetReflection();
  if (field->has_presence() && ra.HasField(a, field) != rb.HasField(b, field)) return false;
  switch (field->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_STRING: {
      std::string sa, sb;
      return ra.GetStringReference(a, field, &sa) == rb.GetStringReference(b, field, &sb);
    }
    case pb::FieldDescriptor::CPPTYPE_BOOL: return ra.GetBool(a, field) == rb.GetBool(b, field);
    case pb::FieldDescriptor::CPPTYPE_INT32: return ra.GetInt32(a, field) == rb.GetInt32(b, field);
    case pb::FieldDescriptor::CPPTYPE_INT64: return ra.GetInt64(a, field) == rb.GetInt64(b, field);
    case pb::FieldDescriptor::CPPTYPE_UINT32: return ra.GetUInt32(a, field) == rb.GetUInt32(b, field);
    case pb::FieldDescriptor::CPPTYPE_UINT64: return ra.GetUInt64(a, field) == rb.GetUInt64(b, field);
    case pb::FieldDescriptor::CPPTYPE_DOUBLE: return ra.GetDouble(a, field) == rb.GetDouble(b, field);
    case pb::FieldDescriptor::CPPTYPE_FLOAT: return ra.GetFloat(a, field) == rb.GetFloat(b, field);
    case pb::FieldDescriptor::CPPTYPE_ENUM: return ra.GetEnumValue(a, field) == rb.GetEnumValue(b, field);
    case pb::FieldDescriptor::CPPTYPE_MESSAGE: break;
  }
  return false;
}

// Whether `field` holds the same in both messages. Message fields are compared by presence and
// deterministic encoding, scalars and lists straight through reflection: far cheaper than
// MessageDifferencer's reflective walk (kept for maps), and the same answer.
bool sameField(const pb::Message& a, const pb::Message& b, const pb::FieldDescriptor* field) {
  const pb::Reflection& ra = *a.GetReflection();
  const pb::Reflection& rb = *b.GetReflection();
  if (field->is_map()) {
    pb::util::MessageDifferencer same;
    return same.CompareWithFields(a, b, {field}, {field});
  }
  if (field->is_repeated()) {
    const int n = ra.FieldSize(a, field);
    if (n != rb.FieldSize(b, field)) return false;
    for (int i = 0; i < n; ++i) {
      if (!sameElement(a, b, field, i)) return false;
    }
    return true;
  }
  if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
    if (ra.HasField(a, field) != rb.HasField(b, field)) return false;
    return deterministicEncoding(ra.GetMessage(a, field)) == deterministicEncoding(rb.GetMessage(b, field));
  }
  return sameScalar(a, b, field);
}

// Adds to `before` and `after` (objects) the fields of `from` and `to` (messages of one type)
// that differ, as JSON (an unset field left out), and their names, prefixed, to `changed`.
void addChangedFields(const pb::Message& from, const pb::Message& to, Json& before, Json& after,
                      const std::string& prefix, std::vector<std::string>* changed) {
  const pb::Descriptor* descriptor = from.GetDescriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const pb::FieldDescriptor* field = descriptor->field(i);
    if (sameField(from, to, field)) continue;
    const std::string& name = field->json_name();
    Json whole_from = fieldToJson(from, field), whole_to = fieldToJson(to, field);
    if (!whole_from.is_null()) before[name] = std::move(whole_from);
    if (!whole_to.is_null()) after[name] = std::move(whole_to);
    if (changed != nullptr) changed->push_back(prefix + name);
  }
}

}  // namespace

Json rebase(const Json& raw, const Json& before, const Json& after) {
  Json result = raw;
  rebaseInPlace(result, before, after);
  return result;
}

Json applySubsetChange(Kind kind, const Json& raw, const Object& current, const Object& requested,
                       const std::string& subresource, std::vector<std::string>* changed) {
  SubsetChange change = subsetChange(kind, current, requested, subresource);
  if (changed != nullptr) *changed = std::move(change.changed);
  return rebase(raw, change.before, change.after);
}

SubsetChange subsetChange(Kind kind, const Object& current, const Object& requested,
                          const std::string& subresource) {
  // Only the top-level fields the request changes are converted and carried over: a patch of
  // a pod's labels need not turn the whole pod into JSON twice. rebase() leaves a key absent
  // from both sides as the raw object has it, so leaving out equal fields changes nothing.
  // Within a top-level object set on both sides (a pod's metadata, spec or status), only the
  // fields that differ are converted: a Mutate's labels, not the whole metadata.
  const pb::Message& from = payload(current);
  const pb::Message& to = payload(requested);
  const pb::Descriptor* descriptor = from.GetDescriptor();
  const pb::Reflection& reflection = *from.GetReflection();
  SubsetChange out{Json::object(), Json::object(), {}};
  Json& before = out.before;
  Json& after = out.after;
  std::vector<std::string>* changed = &out.changed;
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const pb::FieldDescriptor* field = descriptor->field(i);
    const std::string& name = field->json_name();
    // What the other subresource owns is not changed by this one.
    if (subresource == "status" ? name != "status" : (kindHasStatusSubresource(kind) && name == "status")) {
      continue;
    }
    if (sameField(from, to, field)) continue;
    const bool within = field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE &&
                        !field->is_repeated() && reflection.HasField(from, field) &&
                        reflection.HasField(to, field);
    if (!within) {
      Json whole_from = fieldToJson(from, field), whole_to = fieldToJson(to, field);
      if (!whole_from.is_null()) before[name] = std::move(whole_from);
      if (!whole_to.is_null()) after[name] = std::move(whole_to);
      if (changed != nullptr) changed->push_back(name);
      continue;
    }
    Json& before_fields = before[name] = Json::object();
    Json& after_fields = after[name] = Json::object();
    addChangedFields(reflection.GetMessage(from, field), reflection.GetMessage(to, field),
                     before_fields, after_fields, name + ".", changed);
  }
  if (after.contains("metadata") || before.contains("metadata")) {
    Json& meta = after["metadata"];
    if (!meta.is_object()) meta = Json::object();
    for (const char* field : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp",
                              "deletionTimestamp"}) {
      const auto old_meta = before.find("metadata");
      const auto old = old_meta != before.end() ? old_meta->find(field) : before.end();
      if (old_meta != before.end() && old != old_meta->end()) {
        meta[field] = *old;
      } else {
        meta.erase(field);
      }
    }
  }
  return out;
}

Json mergePatch(const Json& from, const Json& to) {
  if (!from.is_object() || !to.is_object()) return to;
  Json patch = Json::object();
  for (const auto& [key, value] : from.items()) {
    if (!to.contains(key)) patch[key] = nullptr;
  }
  for (const auto& [key, value] : to.items()) {
    const auto old = from.find(key);
    if (old == from.end()) {
      patch[key] = value;
    } else if (*old != value) {
      patch[key] = (old->is_object() && value.is_object()) ? mergePatch(*old, value) : value;
    }
  }
  return patch;
}

void applyMergePatch(Json& target, const Json& patch) {
  if (!patch.is_object()) {
    target = patch;
    return;
  }
  if (!target.is_object()) target = Json::object();
  for (const auto& [key, value] : patch.items()) {
    if (value.is_null()) {
      target.erase(key);
    } else {
      applyMergePatch(target[key], value);
    }
  }
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

namespace {
std::string uidFromHex(const std::string& hex) {
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}
}  // namespace

std::string uidFromSeed(std::string_view seed) { return uidFromHex(sha256Hex(seed)); }

std::string randomUid() {
  // A version 4 (random) UUID, as the API server gives: 122 random bits, the version nibble 4
  // and the variant bits 10.
  thread_local std::mt19937_64 random(std::random_device{}());
  uint64_t high = random(), low = random();
  high = (high & ~uint64_t{0xF000}) | uint64_t{0x4000};
  low = (low & ~(uint64_t{0x3} << 62)) | (uint64_t{0x2} << 62);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  size_t at = 0;
  for (int nibble = 0; nibble < 32; ++nibble) {
    if (at == 8 || at == 13 || at == 18 || at == 23) ++at;
    const uint64_t word = nibble < 16 ? high : low;
    out[at++] = kHex[(word >> (60 - 4 * (nibble % 16))) & 0xF];
  }
  return out;
}

std::string formatTimestamp(std::chrono::system_clock::time_point when, bool microseconds) {
  // Digits written by hand from the civil calendar: glibc's gmtime_r takes its time zone lock,
  // shared by every thread, on each call, and strftime walks its format (an Event and its
  // creationTimestamp are two calls a bind).
  namespace chrono = std::chrono;
  const auto micros = chrono::floor<chrono::microseconds>(when);
  const auto day = chrono::floor<chrono::days>(micros);
  const chrono::year_month_day date{day};
  const chrono::hh_mm_ss<chrono::microseconds> time{micros - day};
  char text[32];
  size_t n = 0;
  const auto put = [&](long long value, int digits) {
    for (int i = digits - 1; i >= 0; --i, value /= 10)
      text[n + i] = static_cast<char>('0' + value % 10);
    n += static_cast<size_t>(digits);
  };
  const auto mark = [&](char c) { text[n++] = c; };
  put(static_cast<int>(date.year()), 4);
  mark('-');
  put(static_cast<unsigned>(date.month()), 2);
  mark('-');
  put(static_cast<unsigned>(date.day()), 2);
  mark('T');
  put(time.hours().count(), 2);
  mark(':');
  put(time.minutes().count(), 2);
  mark(':');
  put(time.seconds().count(), 2);
  if (microseconds) {
    mark('.');
    put(time.subseconds().count(), 6);
  }
  mark('Z');
  return std::string(text, n);
}

std::string timestampNow(bool microseconds) {
  return formatTimestamp(std::chrono::system_clock::now(), microseconds);
}

}  // namespace kbinder::host
