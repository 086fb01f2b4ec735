// SPDX-License-Identifier: Apache-2.0
#include "host/model/field_selector.h"

namespace kbinder::host {
namespace {

namespace pb = google::protobuf;

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// The value a scalar field holds, as a field selector compares it.
std::string scalarText(const pb::Message& message, const pb::FieldDescriptor* field) {
  const pb::Reflection* r = message.GetReflection();
  switch (field->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_STRING: return r->GetString(message, field);
    case pb::FieldDescriptor::CPPTYPE_BOOL: return r->GetBool(message, field) ? "true" : "false";
    case pb::FieldDescriptor::CPPTYPE_INT32: return std::to_string(r->GetInt32(message, field));
    case pb::FieldDescriptor::CPPTYPE_INT64: return std::to_string(r->GetInt64(message, field));
    case pb::FieldDescriptor::CPPTYPE_UINT32: return std::to_string(r->GetUInt32(message, field));
    case pb::FieldDescriptor::CPPTYPE_UINT64: return std::to_string(r->GetUInt64(message, field));
    case pb::FieldDescriptor::CPPTYPE_ENUM: return r->GetEnum(message, field)->name();
    default: return {};
  }
}

// The field the schema's JSON form calls `name` (as objects.cc converts: the json_name).
const pb::FieldDescriptor* jsonField(const pb::Descriptor& message, const std::string& name) {
  for (int i = 0; i < message.field_count(); ++i) {
    if (message.field(i)->json_name() == name) return message.field(i);
  }
  return nullptr;
}

}  // namespace

StatusOr<FieldPath> FieldPath::parse(std::string_view path, Kind kind) {
  FieldPath out;
  out.text_ = std::string(path);
  const pb::Descriptor* message = kbinder::v1::Object::descriptor()
                                      ->FindFieldByNumber(static_cast<int>(kind) + 1)
                                      ->message_type();
  size_t at = 0;
  while (true) {
    const size_t dot = std::min(path.find('.', at), path.size());
    const std::string name(path.substr(at, dot - at));
    const pb::FieldDescriptor* field = jsonField(*message, name);
    if (field == nullptr || field->is_repeated()) {
      return invalidArgument("selects " + out.text_ + ", which kbinder's schema of " +
                             std::string(kindName(kind)) + " has no single field for" +
                             " (selectable: scalar fields such as metadata.name or spec.nodeName)");
    }
    out.fields_.push_back(field);
    if (dot == path.size()) {
      if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
        return invalidArgument("selects " + out.text_ + ", which is an object, not a value");
      }
      return out;
    }
    if (field->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      return invalidArgument("selects into " + name + ", which is a value, not an object");
    }
    message = field->message_type();
    at = dot + 1;
  }
}

const std::string& FieldPath::read(const kbinder::v1::Object& object, std::string& scratch) const {
  static const std::string kUnset;
  const pb::Message* message = &payload(object);
  for (size_t i = 0; i + 1 < fields_.size(); ++i) {
    const pb::Reflection* r = message->GetReflection();
    if (!r->HasField(*message, fields_[i])) return kUnset;  // an unset object: its fields are ""
    message = &r->GetMessage(*message, fields_[i]);
  }
  const pb::FieldDescriptor* field = fields_.back();
  if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING) {
    return message->GetReflection()->GetStringReference(*message, field, &scratch);  // no copy
  }
  scratch = scalarText(*message, field);
  return scratch;
}

StatusOr<FieldSelector> FieldSelector::parse(std::string_view text, Kind kind) {
  FieldSelector out;
  size_t start = 0;
  while (start <= text.size() && !trim(text).empty()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string_view term = trim(text.substr(start, comma - start));
    start = comma + 1;
    const auto bad = [&](const std::string& why) {
      return invalidArgument("field selector \"" + std::string(text) + "\": \"" +
                             std::string(term) + "\" " + why);
    };
    if (term.empty()) return bad("is empty; join requirements with single commas");
    bool equals = true;
    size_t op = term.find("!=");
    size_t value_at = op + 2;
    if (op != std::string_view::npos) {
      equals = false;
    } else if ((op = term.find("==")) != std::string_view::npos) {
      value_at = op + 2;
    } else if ((op = term.find('=')) != std::string_view::npos) {
      value_at = op + 1;
    } else {
      return bad("has no operator; write field=value, field==value or field!=value");
    }
    const std::string_view path = trim(term.substr(0, op));
    if (path.empty()) return bad("names no field");
    auto resolved = FieldPath::parse(path, kind);
    if (!resolved.ok()) return bad(resolved.status().message());
    out.requirements_.push_back(
        Requirement{std::move(resolved).value(), equals, std::string(trim(term.substr(value_at)))});
    if (comma == text.size()) break;
  }
  return out;
}

bool FieldSelector::matches(const kbinder::v1::Object& object) const {
  std::string scratch;
  for (const Requirement& requirement : requirements_) {
    if ((requirement.path.read(object, scratch) == requirement.value) != requirement.equals)
      return false;
  }
  return true;
}

}  // namespace kbinder::host
