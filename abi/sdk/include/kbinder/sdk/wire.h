// SPDX-License-Identifier: Apache-2.0
// Looking into an encoded message without decoding it: whether a nested field is present.
//
// A hook is handed whole objects (the pod, the node, the BindRequest) and often needs none of
// them: volumebinding has nothing to do for a pod without claims, dra for a request without
// claim allocations. Decoding a pod to find that out costs microseconds; walking its bytes to
// the one field costs a fraction of that and allocates nothing.
//
// Written by hand rather than on protobuf's CodedInputStream, which walks the same bytes more
// slowly: `build/bin/cycle_benchmark --benchmark_filter=WirePresent` runs both (figures in
// bench/README.md, "The SDK's wire reader").
//
// Field numbers come from the generated code (e.g. kbinder::v1::Pod::kSpecFieldNumber), so a
// path cannot name a field the schema lacks.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>

namespace kbinder::sdk::wire {
namespace detail {

// Reads a base-128 varint at `at`, advancing it; false when the bytes end inside it or it is
// longer than ten bytes.
inline bool readVarint(const uint8_t*& at, const uint8_t* end, uint64_t& value) {
  value = 0;
  for (int shift = 0; shift < 64 && at < end; shift += 7) {
    const uint8_t byte = *at++;
    value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

// One record of an encoded message: its field number, wire type, and where its value lies
// ([value, value + length); for a varint, the varint's bytes).
struct Record {
  uint64_t number = 0;
  unsigned type = 0;
  const uint8_t* value = nullptr;
  uint64_t length = 0;
};

// Reads the record at `at`, advancing past it; false when the bytes do not parse (a zero field
// number, a group, which the schema does not use, or a value running past `end`).
inline bool readRecord(const uint8_t*& at, const uint8_t* end, Record& record) {
  uint64_t tag = 0;
  if (!readVarint(at, end, tag)) return false;
  record.number = tag >> 3;
  record.type = static_cast<unsigned>(tag & 7);
  if (record.number == 0) return false;
  record.value = at;
  switch (record.type) {
    case 0: {  // varint
      uint64_t ignored = 0;
      if (!readVarint(at, end, ignored)) return false;
      record.length = static_cast<uint64_t>(at - record.value);
      return true;
    }
    case 1: record.length = 8; break;  // fixed64
    case 5: record.length = 4; break;  // fixed32
    case 2:                            // length-delimited: strings, bytes, messages, packed
      if (!readVarint(at, end, record.length)) return false;
      record.value = at;
      break;
    default: return false;
  }
  if (record.length > static_cast<uint64_t>(end - at)) return false;
  at += record.length;
  return true;
}

enum class Found { kNo, kYes, kMalformed };

inline Found find(const uint8_t* at, const uint8_t* end, const int* path, size_t depth) {
  while (at < end) {
    Record record;
    if (!readRecord(at, end, record)) return Found::kMalformed;
    if (record.number != static_cast<uint64_t>(path[0])) continue;
    if (depth == 1) return Found::kYes;
    if (record.type != 2) return Found::kMalformed;  // a message field not encoded as one
    // A repeated field has one record per element: every element is looked into.
    const Found inner = find(record.value, record.value + record.length, path + 1, depth - 1);
    if (inner != Found::kNo) return inner;
  }
  return Found::kNo;
}

}  // namespace detail

// Whether the encoded message `data[0, size)` holds the field `path` names: field numbers from
// the outermost message inward, each but the last a message field; a repeated one matches when
// any of its elements holds the rest of the path. A field is present when it was encoded, which
// for proto3 scalars means "not the default value". Bytes that do not parse answer true, so a
// caller that goes on to decode them reports the fault there.
inline bool present(const void* data, size_t size, std::initializer_list<int> path) {
  if (path.size() == 0) return true;
  const auto* begin = static_cast<const uint8_t*>(data);
  return detail::find(begin, begin + size, path.begin(), path.size()) != detail::Found::kNo;
}

}  // namespace kbinder::sdk::wire
