// SPDX-License-Identifier: Apache-2.0
// Changes to a subset carried onto the raw object (rebase, applySubsetChange, subsetChange), and
// the merge patch between two raw objects.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/message.h>
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <vector>

#include "host/model/objects.h"

namespace kbinder::host {

namespace pb = google::protobuf;
using kbinder::v1::Object;

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
        if (raw_matches) {
          result.push_back(std::move(target[same]));
        } else {
          result.push_back(after[j]);
        }
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
bool sameElement(const pb::Message& a, const pb::Message& b, const pb::FieldDescriptor* field,
                 int i) {
  const pb::Reflection& ra = *a.GetReflection();
  const pb::Reflection& rb = *b.GetReflection();
  switch (field->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      return deterministicEncoding(ra.GetRepeatedMessage(a, field, i)) ==
             deterministicEncoding(rb.GetRepeatedMessage(b, field, i));
    case pb::FieldDescriptor::CPPTYPE_STRING: {
      std::string sa, sb;
      return ra.GetRepeatedStringReference(a, field, i, &sa) ==
             rb.GetRepeatedStringReference(b, field, i, &sb);
    }
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      return ra.GetRepeatedBool(a, field, i) == rb.GetRepeatedBool(b, field, i);
    case pb::FieldDescriptor::CPPTYPE_INT32:
      return ra.GetRepeatedInt32(a, field, i) == rb.GetRepeatedInt32(b, field, i);
    case pb::FieldDescriptor::CPPTYPE_INT64:
      return ra.GetRepeatedInt64(a, field, i) == rb.GetRepeatedInt64(b, field, i);
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      return ra.GetRepeatedUInt32(a, field, i) == rb.GetRepeatedUInt32(b, field, i);
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      return ra.GetRepeatedUInt64(a, field, i) == rb.GetRepeatedUInt64(b, field, i);
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      return ra.GetRepeatedDouble(a, field, i) == rb.GetRepeatedDouble(b, field, i);
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
      return ra.GetRepeatedFloat(a, field, i) == rb.GetRepeatedFloat(b, field, i);
    case pb::FieldDescriptor::CPPTYPE_ENUM:
      return ra.GetRepeatedEnumValue(a, field, i) == rb.GetRepeatedEnumValue(b, field, i);
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
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      return ra.GetUInt32(a, field) == rb.GetUInt32(b, field);
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      return ra.GetUInt64(a, field) == rb.GetUInt64(b, field);
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      return ra.GetDouble(a, field) == rb.GetDouble(b, field);
    case pb::FieldDescriptor::CPPTYPE_FLOAT: return ra.GetFloat(a, field) == rb.GetFloat(b, field);
    case pb::FieldDescriptor::CPPTYPE_ENUM:
      return ra.GetEnumValue(a, field) == rb.GetEnumValue(b, field);
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
    return deterministicEncoding(ra.GetMessage(a, field)) ==
           deterministicEncoding(rb.GetMessage(b, field));
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
    if (subresource == "status" ? name != "status"
                                : (kindHasStatusSubresource(kind) && name == "status")) {
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

}  // namespace kbinder::host
