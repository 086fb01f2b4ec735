// SPDX-License-Identifier: Apache-2.0
// The schema's subset messages -> JSON with Kubernetes field names.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>

#include "host/model/objects.h"

namespace kbinder::host {

namespace pb = google::protobuf;
using kbinder::v1::Object;

namespace {

// One value of `field` (index `i` when repeated) as JSON, as protobuf's JSON printer writes it
// but with 64-bit integers as numbers (as Kubernetes writes them).
Json valueToJson(const pb::Message& message, const pb::FieldDescriptor* field, int i) {
  const pb::Reflection& r = *message.GetReflection();
  const bool rep = field->is_repeated();
  switch (field->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_MESSAGE: {
      const pb::Message& child =
          rep ? r.GetRepeatedMessage(message, field, i) : r.GetMessage(message, field);
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

}  // namespace

Json fieldToJson(const pb::Message& message, const pb::FieldDescriptor* field) {
  const pb::Reflection& r = *message.GetReflection();
  const bool set =
      field->is_repeated() ? r.FieldSize(message, field) > 0 : r.HasField(message, field);
  return set ? setFieldToJson(message, field) : Json();
}

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

Json objectToJson(const Object& object) {
  return messageToJson(payload(object));
}

}  // namespace kbinder::host
