// SPDX-License-Identifier: Apache-2.0
// Raw JSON -> the schema's subset messages, from nlohmann's tree or straight from text with
// simdjson; and refreshFields().
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>
#include <simdjson.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "host/model/objects.h"
#include "host/model/wire.h"

namespace kbinder::host {

namespace pb = google::protobuf;
using kbinder::v1::Object;

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
  std::string dump() const {
    return type == Type::kString ? Json(std::string(text)).dump() : scalar.dump();
  }
};

// `where` renders the value's place; called only for a message.
template <class Where>
Status expected(const Where& where, const char* want, const Value& found) {
  return invalidArgument(where() + ": expected " + want + ", found " + found.name());
}

// One entry of a map field, in the wire form the generated map code reads.
void appendMapEntry(std::string& out, int field_number, std::string_view key,
                    std::string_view value) {
  std::string entry;
  wire::appendLengthDelimited(entry, 1, key);
  wire::appendLengthDelimited(entry, 2, value);
  wire::appendLengthDelimited(out, field_number, entry);
}

// A value where the schema wants a string: a string, or a number or boolean as written
// (YAML's `cpu: 2` is the quantity "2"). Nullopt when it is neither.
std::optional<std::string> stringOf(const Value& value) {
  if (value.type == Value::Type::kString) return std::string(value.text);
  if (value.type == Value::Type::kNumber || value.type == Value::Type::kBoolean)
    return value.scalar.dump();
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
      repeated ? r.AddString(&message, field, std::move(*text))
               : r.SetString(&message, field, std::move(*text));
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
      if (e == nullptr)
        return invalidArgument(field->json_name() + ": unknown value " + value.dump());
      repeated ? r.AddEnum(&message, field, e) : r.SetEnum(&message, field, e);
      return okStatus();
    }
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      return internalError(field->json_name() + " is a message");
    default:  // numbers
      if (value.type != Value::Type::kNumber) return expected(where, "a number", value);
      if (value.scalar.is_number_float() &&
          field->cpp_type() != pb::FieldDescriptor::CPPTYPE_DOUBLE &&
          field->cpp_type() != pb::FieldDescriptor::CPPTYPE_FLOAT) {
        return expected(where, "an integer", value);
      }
      break;
  }
  const Json& n = value.scalar;
  switch (field->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32:
      repeated ? r.AddInt32(&message, field, n.get<int32_t>())
               : r.SetInt32(&message, field, n.get<int32_t>());
      break;
    case pb::FieldDescriptor::CPPTYPE_INT64:
      repeated ? r.AddInt64(&message, field, n.get<int64_t>())
               : r.SetInt64(&message, field, n.get<int64_t>());
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
      repeated ? r.AddDouble(&message, field, n.get<double>())
               : r.SetDouble(&message, field, n.get<double>());
      break;
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
      repeated ? r.AddFloat(&message, field, n.get<float>())
               : r.SetFloat(&message, field, n.get<float>());
      break;
    default: break;
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
  if (isWellKnownJsonType(field->message_type()))
    return setWellKnown(messageFor(message, field), value.dump());
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
    std::string entries;
    Status s = value.members([&](std::string_view key, const Node& item) {
      if (item.null()) return okStatus();
      const Path item_path{&path, Path::Step::kKey, key};
      if (value_field->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING) {
        const std::optional<std::string> text = stringOf(item.value());
        if (!text) return mismatch(item_path, "a string", item);
        appendMapEntry(entries, field->number(), key, *text);
      } else if (value_field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
        if (!item.object()) return mismatch(item_path, "an object", item);
        std::unique_ptr<pb::Message> child(pb::MessageFactory::generated_factory()
                                               ->GetPrototype(value_field->message_type())
                                               ->New());
        if (Status s = fillMessage(item, *child, item_path); !s.ok()) return s;
        appendMapEntry(entries, field->number(), key, child->SerializeAsString());
      } else {
        return invalidArgument(field->json_name() + ": maps of this value type are not supported");
      }
      return okStatus();
    });
    if (!s.ok()) return s;
    message.GetReflection()->ClearField(&message, field);
    if (!message.MergeFromString(entries)) return invalidArgument(field->json_name() + ": bad map");
    return okStatus();
  }
  if (field->is_repeated()) {
    if (!value.list()) return mismatch(path, "a list", value);
    message.GetReflection()->ClearField(&message, field);
    return value.elements([&](size_t j, const Node& item) {
      return item.null() ? okStatus()
                         : fillValue(item, field, message, Path{&path, Path::Step::kIndex, {}, j});
    });
  }
  return fillValue(value, field, message, path);
}

// Fills `message` from the JSON object `raw`: the fields the schema models; the rest is
// passed over.
template <class Node>
Status fillMessage(const Node& raw, pb::Message& message, const Path& path) {
  if (!raw.object()) return okStatus();
  return raw.modeled(message.GetDescriptor(), [&](const pb::FieldDescriptor* field,
                                                  const Node& value) {
    return fillField(value, field, message, Path{&path, Path::Step::kField, field->json_name()});
  });
}

// Parses text with this thread's simdjson parser (its buffers are reused); the document lives
// until the thread's next parse.
StatusOr<simdjson::dom::element> parseText(std::string_view text) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (const auto error = parser.parse(text.data(), text.size()).get(root);
      error != simdjson::SUCCESS) {
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

StatusOr<Object> objectFromJson(Kind kind, const Json& raw) {
  return convert(kind, TreeNode{raw});
}

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
        if (Status s =
                fillField(TreeNode{*it}, field, message, Path{&here, Path::Step::kField, name});
            !s.ok()) {
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
      return invalidArgument("refreshing " + within.front() + " within " + name +
                             ", not an object");
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

}  // namespace kbinder::host
