// SPDX-License-Identifier: Apache-2.0
#include "host/cluster/list_filter.h"

namespace kbinder::host {

StatusOr<ListFilter> ListFilter::parse(const kbinder::v1::ListRequest& request) {
  const auto kind = kindFromName(request.kind());
  if (!kind) return invalidArgument("unknown kind \"" + request.kind() + "\"");
  auto labels = LabelSelector::parse(request.label_selector());
  if (!labels.ok()) return labels.status();
  auto fields = FieldSelector::parse(request.field_selector(), *kind);
  if (!fields.ok()) return fields.status();
  if (!request.admits_node().empty() && *kind != Kind::kPersistentVolume) {
    return invalidArgument("admits_node \"" + request.admits_node() + "\" selects by a " +
                           "PersistentVolume's node affinity; a " + request.kind() +
                           " list cannot take it (use a field selector such as spec.nodeName)");
  }
  return ListFilter{*kind, std::move(labels).value(), std::move(fields).value(),
                    request.admits_node(), nullptr};
}

Status ListFilter::resolveNode(ObjectServices& nodes) {
  if (admits_node.empty()) return okStatus();
  kbinder::v1::GetRequest get;
  get.set_kind("Node");
  get.set_name(admits_node);
  auto got = nodes.get(get);
  if (!got.ok()) {
    if (got.status().code() != StatusCode::kNotFound) return got.status();
    return notFound("admits_node names node \"" + admits_node +
                    "\", which does not exist; name a node of the cluster");
  }
  node = std::make_shared<const kbinder::v1::Node>(std::move(*got->mutable_node()));
  return okStatus();
}

}  // namespace kbinder::host
