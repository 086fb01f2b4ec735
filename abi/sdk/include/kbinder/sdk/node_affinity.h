// SPDX-License-Identifier: Apache-2.0
// Node selector requirements and a PersistentVolume's node affinity, evaluated as Kubernetes
// does (k8s.io/component-helpers/scheduling/corev1/nodeaffinity): terms are ORed, a term's
// requirements ANDed, a term with no requirement matches nothing, and `matchFields` knows only
// metadata.name. Header-only; the host uses the same code to answer `ListRequest.admits_node`.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <string>

#include "kbinder/v1/objects.pb.h"

namespace kbinder::sdk {

// Whether a requirement (`op` with `values`) holds for a label or field that is present (`has`)
// with `value`. Gt and Lt compare integers and fail on anything else; unknown operators fail.
template <class Values>
bool requirementMatches(const std::string& op, bool has, const std::string& value,
                        const Values& values) {
  const bool in = has && std::find(values.begin(), values.end(), value) != values.end();
  if (op == "In") return in;
  if (op == "NotIn") return !in;
  if (op == "Exists") return has;
  if (op == "DoesNotExist") return !has;
  if ((op == "Gt" || op == "Lt") && has && values.size() == 1) {
    char* end = nullptr;
    const long long mine = std::strtoll(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0') return false;
    const std::string& limit = *values.begin();
    const long long theirs = std::strtoll(limit.c_str(), &end, 10);
    if (limit.empty() || *end != '\0') return false;
    return op == "Gt" ? mine > theirs : mine < theirs;
  }
  return false;
}

// Whether a volume's node affinity admits the node (a volume without one admits every node).
inline bool nodeAffinityAdmits(const kbinder::v1::PersistentVolume& volume,
                               const kbinder::v1::Node& node) {
  if (!volume.spec().has_node_affinity() || !volume.spec().node_affinity().has_required())
    return true;
  const auto& terms = volume.spec().node_affinity().required().node_selector_terms();
  if (terms.empty()) return true;
  const auto& labels = node.metadata().labels();
  static const std::string kAbsent;
  for (const auto& term : terms) {
    bool all = !term.match_expressions().empty() || !term.match_fields().empty();
    for (const auto& r : term.match_expressions()) {
      if (!all) break;
      const auto it = labels.find(r.key());
      const bool has = it != labels.end();
      all = requirementMatches(r.operator_(), has, has ? it->second : kAbsent, r.values());
    }
    for (const auto& r : term.match_fields()) {
      if (!all) break;
      all = r.key() == "metadata.name" &&
            requirementMatches(r.operator_(), true, node.metadata().name(), r.values());
    }
    if (all) return true;
  }
  return false;
}

}  // namespace kbinder::sdk
