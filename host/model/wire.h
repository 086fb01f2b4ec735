// SPDX-License-Identifier: Apache-2.0
// The protobuf wire format, for reading and writing encoded objects without decoding them,
// through protobuf's own readers and writers (CodedInputStream, CodedOutputStream,
// WireFormatLite). Internal to host/model/.
#pragma once

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace kbinder::host::wire {

using google::protobuf::internal::WireFormatLite;

// Appends a length-delimited field: its tag, the length, the bytes.
inline void appendLengthDelimited(std::string& out, int field_number, std::string_view bytes) {
  using google::protobuf::io::CodedOutputStream;
  uint8_t head[10];  // a tag and a length: at most five bytes each
  uint8_t* at = CodedOutputStream::WriteTagToArray(
      WireFormatLite::MakeTag(field_number, WireFormatLite::WIRETYPE_LENGTH_DELIMITED), head);
  at = CodedOutputStream::WriteVarint32ToArray(static_cast<uint32_t>(bytes.size()), at);
  out.append(reinterpret_cast<const char*>(head), static_cast<size_t>(at - head));
  out.append(bytes);
}

// What forEachLengthDelimited does with a field of another wire type.
enum class OtherFields { kSkip, kRefuse };

// Calls `field(number, bytes)` for each length-delimited field of the encoded message
// `message`, in order. False when the bytes do not parse, `field` returns false, or a field of
// another wire type is met and `others` is kRefuse.
template <typename Field>
bool forEachLengthDelimited(std::string_view message, Field&& field,
                            OtherFields others = OtherFields::kSkip) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(message.data()),
                                            static_cast<int>(message.size()));
  while (true) {
    const int at = in.CurrentPosition();
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return static_cast<size_t>(at) == message.size();  // the end, or no tag
    if (WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      if (others == OtherFields::kRefuse || !WireFormatLite::SkipField(&in, tag)) return false;
      continue;
    }
    uint32_t length = 0;
    if (!in.ReadVarint32(&length)) return false;
    const auto start = static_cast<size_t>(in.CurrentPosition());
    if (length > message.size() - start) return false;
    if (!field(static_cast<uint64_t>(WireFormatLite::GetTagFieldNumber(tag)),
               message.substr(start, length))) {
      return false;
    }
    in.Skip(static_cast<int>(length));
  }
}

}  // namespace kbinder::host::wire
