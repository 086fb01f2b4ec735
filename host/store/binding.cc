// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <string>
#include <utility>

#include "host/store/store_state.h"

namespace kbinder::host {
namespace {

using kbinder::v1::Object;
using store_internal::StoreState;
using Key = StoreState::Key;
using RawEdit = StoreState::RawEdit;
using Merge = StoreState::Merge;
using Merged = StoreState::Merged;
using store_internal::checkVersion;
using store_internal::conflict;
using store_internal::metadata;

// Sets the pod's PodScheduled condition to True, as the Binding subresource does.
void setPodScheduled(Json& pod, const std::string& now) {
  Json& conditions = member(member(pod, "status"), "conditions");
  if (!conditions.is_array()) conditions = Json::array();
  for (auto& condition : conditions) {
    if (condition.is_object() && condition.value("type", "") == "PodScheduled") {
      if (condition.value("status", "") != "True") {
        condition["status"] = "True";
        condition["lastTransitionTime"] = now;
        condition.erase("reason");
        condition.erase("message");
      }
      return;
    }
  }
  conditions.push_back(Json{{"type", "PodScheduled"},
                            {"status", "True"},
                            {"lastProbeTime", nullptr},
                            {"lastTransitionTime", now}});
}

// Whether the raw pod's status has a condition of `type`.
bool hasCondition(const Json& pod, std::string_view type) {
  const auto status = pod.find("status");
  if (status == pod.end() || !status->is_object()) return false;
  const auto conditions = status->find("conditions");
  if (conditions == status->end() || !conditions->is_array()) return false;
  return std::any_of(conditions->begin(), conditions->end(), [&](const Json& condition) {
    return condition.is_object() && condition.value("type", "") == type;
  });
}

// The same on the schema's form, with the node set: what converting the bound raw pod gives.
void setPodScheduled(kbinder::v1::Pod& pod, const std::string& node, const std::string&) {
  pod.mutable_spec()->set_node_name(node);
  for (auto& condition : *pod.mutable_status()->mutable_conditions()) {
    if (condition.type() == "PodScheduled") {
      if (condition.status() != "True") {
        condition.set_status("True");
        condition.clear_reason();
        condition.clear_message();
      }
      return;
    }
  }
  auto* condition = pod.mutable_status()->add_conditions();
  condition->set_type("PodScheduled");
  condition->set_status("True");
}
}  // namespace

Status EmbeddedStore::bindPod(const PodBinding& binding) {
  const std::string& name = binding.name;
  const std::string& uid = binding.uid;
  const std::string& node = binding.node;
  const Key key{"Pod", binding.namespace_, name};
  // The API server's checks, on the raw pod (both forms agree).
  const auto refusal = [&](const Json& current) -> Status {
    const std::string stored_uid = rawString(current, {"metadata", "uid"});
    if (!uid.empty() && uid != stored_uid) {
      return conflict("pods/binding", name,
                      "Precondition failed: UID in precondition: " + uid +
                          ", UID in object meta: " + stored_uid);
    }
    const std::string stored_version = rawString(current, {"metadata", "resourceVersion"});
    if (!binding.resource_version.empty() && binding.resource_version != stored_version) {
      return conflict(
          "pods/binding", name,
          "Precondition failed: ResourceVersion in precondition: " + binding.resource_version +
              ", ResourceVersion in object meta: " + stored_version);
    }
    if (!rawString(current, {"metadata", "deletionTimestamp"}).empty()) {
      return conflict("pods/binding", name,
                      "pod " + name + " is being deleted, cannot be assigned to a host");
    }
    const std::string assigned = rawString(current, {"spec", "nodeName"});
    if (!assigned.empty()) {
      return conflict("pods/binding", name,
                      "pod " + name + " is already assigned to node \"" + assigned + "\"");
    }
    if (node.empty()) return invalidArgument("Binding target name is required");
    return okStatus();
  };
  // The same change on both forms: converting the whole pod again would cost more
  // (EmbeddedStoreTest.BindingKeepsBothFormsInStep checks they agree). A pod without a
  // PodScheduled condition (the usual case) gains the node, the condition and the binding's
  // annotations, fields merged into the kept encoding (a map entry parsed later replaces one
  // with the same key); one with the condition has it changed, on the decoded pod.
  std::string now = timestampNow();
  const RawEdit raw_edit = [&binding, &now](Json& pod) {
    member(member(pod, "spec"), "nodeName") = binding.node;
    setPodScheduled(pod, now);
    if (binding.annotations.empty()) return;
    Json& annotations = member(metadata(pod), "annotations");
    if (!annotations.is_object()) annotations = Json::object();
    for (const auto& [k, v] : binding.annotations) member(annotations, k) = v;
  };
  const auto annotate = [&binding](kbinder::v1::Pod& pod) {
    for (const auto& [k, v] : binding.annotations) {
      (*pod.mutable_metadata()->mutable_annotations())[k] = v;
    }
  };
  auto merged = state_->mergeTyped(key, [&](const Json& current) -> StatusOr<std::optional<Merge>> {
    if (Status s = refusal(current); !s.ok()) return s;
    Merge merge{std::nullopt, raw_edit};
    if (!hasCondition(current, "PodScheduled")) {
      Object fragment;
      setPodScheduled(*fragment.mutable_pod(), node, now);
      annotate(*fragment.mutable_pod());
      merge.fragment = std::move(fragment);
    }
    return std::optional<Merge>(std::move(merge));
  });
  if (!merged.ok()) return merged.status();
  if (merged->outcome != Merged::Outcome::kNotMergeable) return okStatus();
  auto written = state_->editTyped(
      key, [&](const Json& current, Object& typed) -> StatusOr<std::optional<RawEdit>> {
        if (Status s = refusal(current); !s.ok()) return s;
        setPodScheduled(*typed.mutable_pod(), node, now);
        annotate(*typed.mutable_pod());
        return std::optional<RawEdit>(raw_edit);
      });
  return written.ok() ? okStatus() : written.status();
}

StatusOr<std::string> EmbeddedStore::writeBindRequestStatus(kbinder::v1::BindRequest request) {
  const auto& meta = request.metadata();
  const Key key{std::string(kindName(Kind::kBindRequest)), meta.namespace_(), meta.name()};
  const kbinder::v1::BindRequestStatus& next = request.status();
  auto merged = state_->mergeTyped(key, [&](const Json& raw) -> StatusOr<std::optional<Merge>> {
    if (Status s = checkVersion(raw, meta.resource_version(),
                                std::string(kindResource(Kind::kBindRequest)), meta.name());
        !s.ok()) {
      return s;
    }
    const auto status = raw.find("status");
    const Json* held = status != raw.end() && status->is_object() ? &*status : nullptr;
    // The fields that differ from what the raw status holds (absent or null: the default).
    // Merging `next` whole sets them; a field it would clear cannot be merged.
    const Json wanted = {{"phase", next.phase()},
                         {"reason", next.reason()},
                         {"failedAttempts", next.failed_attempts()}};
    Json changed = Json::object();
    for (const auto& [name, value] : wanted.items()) {
      const auto it = held == nullptr ? Json::const_iterator() : held->find(name);
      const bool absent = held == nullptr || it == held->end() || it->is_null();
      const bool cleared = value == Json("") || value == Json(0);
      if (absent ? cleared : *it == value) continue;
      if (cleared) return std::optional<Merge>(Merge{std::nullopt, {}});
      changed[name] = value;
    }
    if (changed.empty()) return std::optional<Merge>();
    Object fragment;
    *fragment.mutable_bind_request()->mutable_status() = next;
    return std::optional<Merge>(
        Merge{std::move(fragment), [changed = std::move(changed)](Json& target) {
                Json& status = member(target, "status");
                if (!status.is_object()) status = Json::object();
                for (const auto& [name, value] : changed.items()) member(status, name) = value;
              }});
  });
  if (!merged.ok()) return merged.status();
  if (merged->outcome != Merged::Outcome::kNotMergeable) return merged->resource_version;
  return ClusterBackend::writeBindRequestStatus(std::move(request));
}

}  // namespace kbinder::host
