// SPDX-License-Identifier: Apache-2.0
// Field selectors in their string form ("spec.storageClassName=fast,status.phase!=Bound"), as a
// list request carries them: requirements joined by commas, each a dotted path of the schema's
// JSON field names, `=` (or `==`) or `!=`, and a value. Every requirement must hold.
//
// The host evaluates them on the schema's form of each object (from its caches, never sent to
// the API server, whose field selectors differ per kind), so any scalar field the schema
// models can be selected on; an unset field compares as "". Paths are checked against the
// kind's schema: a field it does not model is an error naming it, not an empty result.
//
// Thread-safety: a FieldSelector is an immutable value.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "host/base/status.h"
#include "host/model/label_selector.h"
#include "host/model/objects.h"

namespace kbinder::host {

// A dotted path of the schema's JSON field names to one scalar field of a kind
// ("spec.claimRef.name"), resolved once against the kind's schema.
class FieldPath {
 public:
  // Errors say what is wrong with the path (unknown, repeated, an object, into a value); the
  // caller names where it came from.
  static StatusOr<FieldPath> parse(std::string_view path, Kind kind);

  // The value the object holds there, as a field selector compares it; "" when unset. Refers
  // into `object` for strings (most fields), else into `scratch`.
  const std::string& read(const kbinder::v1::Object& object, std::string& scratch) const;
  const std::string& text() const { return text_; }
  bool operator==(const FieldPath& other) const { return fields_ == other.fields_; }

 private:
  std::vector<const google::protobuf::FieldDescriptor*> fields_;  // from the kind's message
  std::string text_;
};

class FieldSelector {
 public:
  struct Requirement {
    FieldPath path;
    bool equals = true;  // `=` / `==`; false for `!=`
    std::string value;
  };

  // The empty string selects everything. Errors name the offending requirement or field.
  static StatusOr<FieldSelector> parse(std::string_view text, Kind kind);

  bool empty() const { return requirements_.empty(); }
  bool matches(const kbinder::v1::Object& object) const;
  const std::vector<Requirement>& requirements() const { return requirements_; }

 private:
  std::vector<Requirement> requirements_;
};

}  // namespace kbinder::host
