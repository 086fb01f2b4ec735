// SPDX-License-Identifier: Apache-2.0
// What a list request selects, parsed once, and the test every backend's list applies.
//
// Thread-safety: a ListFilter is a value; resolveNode() must finish before it is shared.
#pragma once

#include <memory>
#include <string>

#include "host/base/status.h"
#include "host/cluster/object_services.h"
#include "host/model/field_selector.h"
#include "host/model/label_selector.h"
#include "host/model/objects.h"
#include "kbinder/sdk/node_affinity.h"

namespace kbinder::host {

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
