// SPDX-License-Identifier: Apache-2.0
// Objects in their wire form, read and written without decoding them: the payload the ABI
// hands to plugins, a pod's facts for the cache, the resourceVersion stamp the store appends.
#include <google/protobuf/descriptor.h>

#include <array>
#include <cassert>
#include <iterator>

#include "host/model/objects.h"
#include "host/model/wire.h"

namespace kbinder::host {

namespace pb = google::protobuf;
using kbinder::v1::Object;

bool appendEncodedPayload(std::string_view object, std::string& payload) {
  // Two passes: nothing is appended unless every record is the one kind's.
  uint64_t kind_field = 0;
  size_t size = 0;
  const bool one_kind = wire::forEachLengthDelimited(
      object,
      [&](uint64_t field, std::string_view bytes) {
        if (kind_field == 0) kind_field = field;
        size += bytes.size();
        return field == kind_field && field <= static_cast<uint64_t>(Object::kEventFieldNumber);
      },
      wire::OtherFields::kRefuse);
  if (!one_kind || kind_field == 0) return false;
  payload.reserve(payload.size() + size);
  wire::forEachLengthDelimited(object, [&](uint64_t, std::string_view bytes) {
    payload.append(bytes);
    return true;
  });
  return true;
}

namespace {

using wire::forEachLengthDelimited;

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
  wire::appendLengthDelimited(meta, kbinder::v1::ObjectMeta::kResourceVersionFieldNumber,
                              resource_version);
  std::string payload;
  wire::appendLengthDelimited(payload, metadata_field, meta);
  wire::appendLengthDelimited(encoded, object_field, payload);
}

}  // namespace kbinder::host
