// Looking into an encoded message without decoding it: whether a nested field is present.
//
// A hook is handed whole objects (the pod, the node, the BindRequest) and often needs none of
// them: volumebinding has nothing to do for a pod without claims, dra for a request without
// claim allocations. Decoding a pod to find that out costs microseconds; walking its bytes to
// the one field costs a fraction of that and allocates nothing.
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

enum class Found { kNo, kYes, kMalformed };

inline Found find(const uint8_t* at, const uint8_t* end, const int* path, size_t depth) {
  while (at < end) {
    uint64_t tag = 0;
    if (!readVarint(at, end, tag)) return Found::kMalformed;
    const uint64_t number = tag >> 3;
    const unsigned type = static_cast<unsigned>(tag & 7);
    if (number == 0) return Found::kMalformed;
    uint64_t length = 0;
    switch (type) {
      case 0:  // varint
        if (!readVarint(at, end, length)) return Found::kMalformed;
        length = 0;
        break;
      case 1: length = 8; break;  // fixed64
      case 5: length = 4; break;  // fixed32
      case 2:                     // length-delimited: strings, bytes, messages, packed
        if (!readVarint(at, end, length)) return Found::kMalformed;
        break;
      default: return Found::kMalformed;  // groups are not used by the schema
    }
    if (length > static_cast<uint64_t>(end - at)) return Found::kMalformed;
    if (number == static_cast<uint64_t>(path[0])) {
      if (depth == 1) return Found::kYes;
      if (type != 2) return Found::kMalformed;  // a message field not encoded as one
      // A repeated field has one record per element: every element is looked into.
      const Found inner = find(at, at + length, path + 1, depth - 1);
      if (inner != Found::kNo) return inner;
    }
    at += length;
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
