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

#include "kbinder/host/label_selector.h"
#include "kbinder/host/object_services.h"
#include "kbinder/host/objects.h"
#include "kbinder/host/status.h"
#include "kbinder/sdk/node_affinity.h"

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

// What a list request selects, parsed once: its kind, label selector, field selector and
// (PersistentVolumes) the node the volumes' node affinity must admit. Every backend's list
// applies it (the namespace is the backend's to match).
struct ListFilter {
  Kind kind;
  LabelSelector labels;
  FieldSelector fields;
  std::string admits_node;  // the request's; the node itself once resolveNode() read it
  std::shared_ptr<const kbinder::v1::Node> node;

  // INVALID_ARGUMENT for an unknown kind, a bad selector or admits_node on another kind than
  // PersistentVolume, naming it.
  static StatusOr<ListFilter> parse(const kbinder::v1::ListRequest& request);
  // Reads the node admits_node names from `nodes` (the backend listing: its cache where it has
  // one); NOT_FOUND naming it. Nothing to read without admits_node.
  Status resolveNode(ObjectServices& nodes);
  bool matches(const kbinder::v1::Object& object) const {
    return (labels.empty() || labels.matches(metadataOf(object).labels())) &&
           fields.matches(object) &&
           (node == nullptr || sdk::nodeAffinityAdmits(object.persistent_volume(), *node));
  }
};

}  // namespace kbinder::host
