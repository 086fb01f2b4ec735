// SPDX-License-Identifier: Apache-2.0
#include "volumebinding.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>

#include "kbinder/sdk/args.h"
#include "kbinder/sdk/node_affinity.h"
#include "kbinder/sdk/quantity.h"

namespace kbinder::plugins::volumebinding {
namespace {

using kbinder::v1::Node;
using kbinder::v1::PersistentVolume;
using kbinder::v1::PersistentVolumeClaim;
using kbinder::v1::Pod;
using sdk::requirementMatches;
using sdk::Verdict;

std::string quoted(const std::string& s) {
  return "\"" + s + "\"";
}

std::optional<int64_t> bytes(const google::protobuf::Map<std::string, std::string>& resources) {
  const auto it = resources.find("storage");
  if (it == resources.end()) return 0;
  const auto q = sdk::Quantity::parse(it->second);
  if (!q) return std::nullopt;
  return q->value();
}

bool selectorMatches(const kbinder::v1::LabelSelector& selector,
                     const google::protobuf::Map<std::string, std::string>& labels) {
  for (const auto& [k, v] : selector.match_labels()) {
    const auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  for (const auto& r : selector.match_expressions()) {
    const auto it = labels.find(r.key());
    if (!requirementMatches(r.operator_(), it != labels.end(), it == labels.end() ? "" : it->second,
                            r.values())) {
      return false;
    }
  }
  return true;
}

std::string volumeMode(const std::optional<std::string>& mode) {
  return mode && !mode->empty() ? *mode : "Filesystem";
}

bool claimRefNames(const PersistentVolume& pv, const PersistentVolumeClaim& claim) {
  const auto& ref = pv.spec().claim_ref();
  return !ref.name().empty() && ref.name() == claim.metadata().name() &&
         ref.namespace_() == claim.metadata().namespace_() &&
         (ref.uid().empty() || ref.uid() == claim.metadata().uid());
}

bool claimBound(const PersistentVolumeClaim& claim) {
  return !claim.spec().volume_name().empty() &&
         claim.metadata().annotations().count(kBindCompletedAnnotation) != 0;
}

std::string claimText(const std::string& ns, const std::string& name) {
  return "claim " + ns + "/" + name;
}

// Why the volume cannot serve the claim on the node, or empty.
std::string mismatch(const PersistentVolume& pv, const PersistentVolumeClaim& claim,
                     const std::string& class_name, const Node& node) {
  if (pv.spec().storage_class_name() != class_name) return "class";
  const auto have = bytes(pv.spec().capacity());
  const auto want = bytes(claim.spec().resources().requests());
  if (!have || !want || *have < *want) return "capacity";
  for (const auto& mode : claim.spec().access_modes()) {
    const auto& modes = pv.spec().access_modes();
    if (std::find(modes.begin(), modes.end(), mode) == modes.end()) return "access modes";
  }
  if (volumeMode(pv.spec().has_volume_mode() ? std::optional(pv.spec().volume_mode())
                                             : std::nullopt) !=
      volumeMode(claim.spec().has_volume_mode() ? std::optional(claim.spec().volume_mode())
                                                : std::nullopt)) {
    return "volume mode";
  }
  if (claim.spec().has_selector() &&
      !selectorMatches(claim.spec().selector(), pv.metadata().labels())) {
    return "selector";
  }
  if (!nodeAffinityAdmits(pv, node)) return "node affinity";
  return {};
}

bool available(const PersistentVolume& pv) {
  const std::string& phase = pv.status().phase();
  return pv.spec().claim_ref().name().empty() && pv.metadata().deletion_timestamp().empty() &&
         (phase.empty() || phase == "Available" || phase == "Pending");
}

}  // namespace

Config parseConfig(const kbinder::v1::PluginConfig& config) {
  sdk::Args args(config);
  Config parsed;
  parsed.bind_timeout = std::chrono::milliseconds(
      static_cast<int64_t>(args.seconds("bind_timeout_seconds", 600, 86400) * 1000));
  args.finish();
  return parsed;
}

std::vector<std::string> podClaimNames(const Pod& pod) {
  std::vector<std::string> names;
  for (const auto& v : pod.spec().volumes()) {
    if (v.has_persistent_volume_claim() && !v.persistent_volume_claim().claim_name().empty()) {
      names.push_back(v.persistent_volume_claim().claim_name());
    } else if (v.has_ephemeral()) {
      names.push_back(pod.metadata().name() + "-" + v.name());
    }
  }
  return names;
}

std::set<std::string> VolumeBinding::held() const {
  std::lock_guard lock(mutex_);
  return held_;
}

void VolumeBinding::releaseHeld(CycleState& state) {
  std::lock_guard lock(mutex_);
  for (const auto& v : state.held) held_.erase(v);
  state.held.clear();
}

Verdict VolumeBinding::reserve(sdk::Cluster& cluster, const Pod& pod, const Node& node,
                               CycleState& state) {
  releaseHeld(state);
  state.claims.clear();
  state.decided = true;
  const std::string& ns = pod.metadata().namespace_();
  const std::string& node_name = node.metadata().name();
  std::map<std::string, kbinder::v1::ObjectList> free_volumes;  // by class, listed when needed

  for (const std::string& name : podClaimNames(pod)) {
    const std::string what = claimText(ns, name);
    kbinder::v1::Object object;
    if (const sdk::Result r = cluster.get("PersistentVolumeClaim", ns, name, true, &object);
        !r.ok()) {
      if (r.notFound()) return Verdict::unschedulable(what + " not found");
      return Verdict::error("reading " + what + ": " + r.message);
    }
    const PersistentVolumeClaim& claim = object.persistent_volume_claim();
    if (!claim.metadata().deletion_timestamp().empty()) {
      return Verdict::unschedulable(what + " is being deleted");
    }
    ClaimDecision decision;
    decision.claim = name;
    if (!claim.spec().volume_name().empty()) {
      // Bound, or being bound: the volume must be usable from this node.
      kbinder::v1::Object pv;
      const sdk::Result r =
          cluster.get("PersistentVolume", "", claim.spec().volume_name(), true, &pv);
      if (r.notFound()) {
        return Verdict::unschedulable(what + " is bound to volume " + claim.spec().volume_name() +
                                      ", which does not exist");
      }
      if (!r.ok())
        return Verdict::error("reading volume " + claim.spec().volume_name() + ": " + r.message);
      if (!nodeAffinityAdmits(pv.persistent_volume(), node)) {
        return Verdict::unschedulable(what + ": its volume " + claim.spec().volume_name() +
                                      " has a node affinity that does not admit node " + node_name);
      }
      decision.volume = claim.spec().volume_name();
      state.claims.push_back(decision);
      continue;
    }

    const std::string class_name = claim.spec().storage_class_name();
    kbinder::v1::StorageClass storage_class;
    if (!class_name.empty()) {
      kbinder::v1::Object sc;
      const sdk::Result r = cluster.get("StorageClass", "", class_name, false, &sc);
      if (r.notFound()) {
        return Verdict::unschedulable(what + ": storage class " + quoted(class_name) +
                                      " not found");
      }
      if (!r.ok()) return Verdict::error("reading storage class " + class_name + ": " + r.message);
      storage_class = sc.storage_class();
    }
    const bool wait_for_consumer = storage_class.volume_binding_mode() == "WaitForFirstConsumer";
    if (!wait_for_consumer) {
      return Verdict::unschedulable(what +
                                    " uses Immediate binding and is not bound yet; the "
                                    "PersistentVolume controller binds it before the pod "
                                    "can be placed");
    }
    // A volume pre-bound to this claim comes first (whatever its phase: the PersistentVolume
    // controller may have bound the volume and not yet the claim).
    kbinder::v1::ListRequest named;
    named.set_kind("PersistentVolume");
    named.set_field_selector("spec.claimRef.namespace=" + ns + ",spec.claimRef.name=" + name);
    kbinder::v1::ObjectList naming;
    if (const sdk::Result r = cluster.list(named, &naming); !r.ok()) {
      return Verdict::error("listing volumes: " + r.message);
    }
    auto listed = free_volumes.find(class_name);
    if (listed == free_volumes.end()) {
      // Otherwise a free one of the claim's class that this node can use: only those no claim
      // holds (see available()) and whose node affinity admits the node are listed. The host
      // filters from its cache (indexed by class and by claim), so a cluster's thousands of
      // bound volumes, other classes' volumes and other nodes' local volumes are neither
      // copied nor decoded per pod.
      kbinder::v1::ListRequest list;
      list.set_kind("PersistentVolume");
      list.set_field_selector("spec.storageClassName=" + class_name +
                              ",spec.claimRef.name=,status.phase!=Bound");
      list.set_admits_node(node_name);
      listed = free_volumes.emplace(class_name, kbinder::v1::ObjectList()).first;
      if (const sdk::Result r = cluster.list(list, &listed->second); !r.ok()) {
        return Verdict::error("listing volumes: " + r.message);
      }
    }
    const kbinder::v1::ObjectList& volumes = listed->second;

    std::lock_guard lock(mutex_);
    const PersistentVolume* chosen = nullptr;
    for (const auto& item : naming.items()) {
      const PersistentVolume& pv = item.persistent_volume();
      if (!claimRefNames(pv, claim)) continue;
      if (!nodeAffinityAdmits(pv, node)) {
        return Verdict::unschedulable(what + " is pre-bound to volume " + pv.metadata().name() +
                                      ", whose node affinity does not admit node " + node_name);
      }
      chosen = &pv;
      break;
    }
    // Otherwise the smallest matching volume nobody else holds.
    if (chosen == nullptr) {
      std::optional<int64_t> chosen_size;
      for (const auto& item : volumes.items()) {
        const PersistentVolume& pv = item.persistent_volume();
        if (!available(pv) || held_.count(pv.metadata().name()) != 0) continue;
        if (!mismatch(pv, claim, class_name, node).empty()) continue;
        const auto size = bytes(pv.spec().capacity());
        if (chosen == nullptr || size < chosen_size ||
            (size == chosen_size && pv.metadata().name() < chosen->metadata().name())) {
          chosen = &pv;
          chosen_size = size;
        }
      }
    }
    if (chosen != nullptr) {
      decision.action = ClaimDecision::Action::kBindVolume;
      decision.volume = chosen->metadata().name();
      held_.insert(decision.volume);
      state.held.push_back(decision.volume);
      state.claims.push_back(decision);
      continue;
    }
    const std::string& provisioner = storage_class.provisioner();
    if (!provisioner.empty() && provisioner != kNoProvisioner && !claim.spec().has_selector()) {
      decision.action = ClaimDecision::Action::kProvision;
      state.claims.push_back(decision);
      continue;
    }
    return Verdict::unschedulable(
        "no volume available for " + what + " on node " + node_name + " (class " +
        quoted(class_name) + ", matching capacity, access modes, volume mode" +
        (claim.spec().has_selector() ? ", selector" : "") + " and node affinity), and " +
        (claim.spec().has_selector() ? "a claim with a selector cannot be provisioned"
                                     : "class " + quoted(class_name) + " cannot provision"));
  }
  return Verdict::success();
}

Verdict VolumeBinding::preBind(sdk::Cluster& cluster, const Pod& pod, const Node& node,
                               CycleState& state) {
  if (!state.decided) {
    if (Verdict v = reserve(cluster, pod, node, state); !v.ok()) return v;
  }
  const std::string& ns = pod.metadata().namespace_();
  const std::string& node_name = node.metadata().name();
  // Stop a little before the hook's own deadline, so the failure is this plugin's to explain.
  const auto left = cluster.remaining();
  const auto budget =
      std::min(config_.bind_timeout, left - std::min(std::chrono::milliseconds(1000), left / 10));
  auto waited = std::chrono::milliseconds(0);
  struct Release {
    VolumeBinding& self;
    CycleState& state;
    ~Release() { self.releaseHeld(state); }
  } release_at_end{*this, state};

  // Writes that can conflict are retried by reading again, within the budget.
  auto retry = [&](auto&& attempt) -> Verdict {
    while (true) {
      auto [verdict, conflict] = attempt();
      if (!conflict) return verdict;
      if (waited >= budget || cluster.cancelled()) {
        return Verdict::error("writes kept conflicting until bind_timeout");
      }
      cluster.sleep(config_.poll_interval);
      waited += config_.poll_interval;
    }
  };

  // 1. Each volume's claimRef.
  for (ClaimDecision& d : state.claims) {
    if (d.action != ClaimDecision::Action::kBindVolume) continue;
    const std::string what = claimText(ns, d.claim);
    Verdict v = retry([&]() -> std::pair<Verdict, bool> {
      kbinder::v1::Object claim_object, pv_object;
      sdk::Result r = cluster.get("PersistentVolumeClaim", ns, d.claim, true, &claim_object);
      if (!r.ok()) return {Verdict::unschedulable("reading " + what + ": " + r.message), false};
      r = cluster.get("PersistentVolume", "", d.volume, true, &pv_object);
      if (!r.ok())
        return {Verdict::unschedulable("reading volume " + d.volume + ": " + r.message), false};
      const PersistentVolumeClaim& claim = claim_object.persistent_volume_claim();
      PersistentVolume& pv = *pv_object.mutable_persistent_volume();
      if (claimRefNames(pv, claim)) return {Verdict::success(), false};  // pre-bound or written
      if (!pv.spec().claim_ref().name().empty()) {
        return {Verdict::unschedulable("volume " + d.volume + " chosen for " + what +
                                       " was taken by claim " + pv.spec().claim_ref().namespace_() +
                                       "/" + pv.spec().claim_ref().name()),
                false};
      }
      auto& ref = *pv.mutable_spec()->mutable_claim_ref();
      ref.set_kind("PersistentVolumeClaim");
      ref.set_api_version("v1");
      ref.set_namespace_(ns);
      ref.set_name(d.claim);
      ref.set_uid(claim.metadata().uid());
      (*pv.mutable_metadata()->mutable_annotations())[kBoundByControllerAnnotation] = "yes";
      kbinder::v1::Object written;
      r = cluster.patch(pv_object, "", &written);
      if (r.conflict()) return {Verdict::success(), true};
      if (!r.ok()) return {Verdict::error("writing volume " + d.volume + ": " + r.message), false};
      d.claim_ref_written_at = written.persistent_volume().metadata().resource_version();
      return {Verdict::success(), false};
    });
    if (!v.ok()) return v;
  }

  // 2. Each claim to provision: the node it is wanted on.
  for (ClaimDecision& d : state.claims) {
    if (d.action != ClaimDecision::Action::kProvision) continue;
    const std::string what = claimText(ns, d.claim);
    Verdict v = retry([&]() -> std::pair<Verdict, bool> {
      kbinder::v1::Object object;
      sdk::Result r = cluster.get("PersistentVolumeClaim", ns, d.claim, true, &object);
      if (!r.ok()) return {Verdict::unschedulable("reading " + what + ": " + r.message), false};
      auto& annotations =
          *object.mutable_persistent_volume_claim()->mutable_metadata()->mutable_annotations();
      const auto it = annotations.find(kSelectedNodeAnnotation);
      if (it != annotations.end()) {
        if (it->second == node_name) return {Verdict::success(), false};
        return {Verdict::unschedulable(what + " is being provisioned on node " + it->second +
                                       ", not " + node_name),
                false};
      }
      annotations[kSelectedNodeAnnotation] = node_name;
      kbinder::v1::Object written;
      r = cluster.patch(object, "", &written);
      if (r.conflict()) return {Verdict::success(), true};
      if (!r.ok()) return {Verdict::error("writing " + what + ": " + r.message), false};
      d.selected_node_written_at = written.persistent_volume_claim().metadata().resource_version();
      return {Verdict::success(), false};
    });
    if (!v.ok()) return v;
  }

  // 3. Wait until every claim is bound, watching for what makes waiting pointless. Each look
  // reads the host's watch-fed copies (no API call while the volume controller works); what
  // they show as a reason to give up is confirmed on fresh reads first, since a copy may lag.
  // nullopt: still waiting on `pending`.
  std::vector<std::string> pending;
  auto look = [&](bool fresh) -> std::optional<Verdict> {
    pending.clear();
    for (ClaimDecision& d : state.claims) {
      if (d.complete) continue;
      const std::string what = claimText(ns, d.claim);
      kbinder::v1::Object object;
      sdk::Result r = cluster.get("PersistentVolumeClaim", ns, d.claim, fresh, &object);
      if (r.notFound()) return Verdict::unschedulable(what + " was deleted while binding");
      if (!r.ok()) return Verdict::error("reading " + what + ": " + r.message);
      const PersistentVolumeClaim& claim = object.persistent_volume_claim();
      const std::string volume =
          claim.spec().volume_name().empty() ? d.volume : claim.spec().volume_name();
      if (!volume.empty()) {
        kbinder::v1::Object pv_object;
        r = cluster.get("PersistentVolume", "", volume, fresh, &pv_object);
        if (r.ok()) {
          const PersistentVolume& pv = pv_object.persistent_volume();
          if (!pv.spec().claim_ref().name().empty() && !claimRefNames(pv, claim)) {
            return Verdict::unschedulable(
                "volume " + volume + " chosen for " + what + " was taken by claim " +
                pv.spec().claim_ref().namespace_() + "/" + pv.spec().claim_ref().name());
          }
          if (!nodeAffinityAdmits(pv, node)) {
            return Verdict::unschedulable("volume " + volume + " of " + what +
                                          " no longer admits node " + node_name +
                                          " (its node affinity changed)");
          }
        } else if (!r.notFound()) {
          return Verdict::error("reading volume " + volume + ": " + r.message);
        }
      }
      if (d.action == ClaimDecision::Action::kProvision && claim.spec().volume_name().empty() &&
          claim.metadata().annotations().count(kSelectedNodeAnnotation) == 0) {
        return Verdict::unschedulable("provisioning for " + what + " was abandoned (the " +
                                      std::string(kSelectedNodeAnnotation) +
                                      " annotation was removed)");
      }
      if (claimBound(claim)) {
        d.complete = true;  // a bound claim stays bound: a lagging copy cannot mislead here
      } else {
        pending.push_back(d.claim);
      }
    }
    if (pending.empty()) return Verdict::success();

    kbinder::v1::Object pod_object;
    const sdk::Result r = cluster.get("Pod", ns, pod.metadata().name(), fresh, &pod_object);
    if (r.notFound() || (r.ok() && (pod_object.pod().metadata().uid() != pod.metadata().uid() ||
                                    !pod_object.pod().metadata().deletion_timestamp().empty()))) {
      return Verdict::unresolvable("pod " + ns + "/" + pod.metadata().name() +
                                   " was deleted while its volumes were binding");
    }
    return std::nullopt;
  };
  auto pause = std::min(config_.first_poll, config_.poll_interval);
  while (true) {
    std::optional<Verdict> seen = look(false);
    if (seen && !seen->ok()) seen = look(true);
    if (seen) return *seen;
    if (waited >= budget || cluster.cancelled()) {
      std::string list;
      for (const auto& c : pending) list += (list.empty() ? "" : ", ") + c;
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%.1fs", static_cast<double>(waited.count()) / 1000);
      return Verdict::error(
          "timed out after " + std::string(seconds) + " (" +
          (budget == config_.bind_timeout ? "bind_timeout" : "the hook's deadline") +
          ") waiting for claims in " + ns + " to be bound: " + list);
    }
    cluster.sleep(pause);
    waited += pause;
    pause = std::min(pause * 2, config_.poll_interval);
  }
}

void VolumeBinding::unreserve(sdk::Cluster& cluster, const Pod& pod, CycleState& state) {
  const std::string& ns = pod.metadata().namespace_();
  // Puts one write back if the object is still at the resourceVersion the write produced.
  // A failed read or write (the API server unreachable for a moment) is tried again.
  auto takeBack = [&](const char* kind, const std::string& object_ns, const std::string& name,
                      const std::string& written_at, auto&& undo, const std::string& done) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (attempt > 0) cluster.sleep(std::chrono::milliseconds(200));
      kbinder::v1::Object object;
      const sdk::Result got = cluster.get(kind, object_ns, name, true, &object);
      if (got.notFound()) return;
      if (!got.ok()) continue;
      if (object.kind_case() == kbinder::v1::Object::kPersistentVolume
              ? object.persistent_volume().metadata().resource_version() != written_at
              : object.persistent_volume_claim().metadata().resource_version() != written_at) {
        return;  // changed since this cycle wrote it: not ours to undo
      }
      undo(object);
      const sdk::Result written = cluster.patch(object, "", nullptr);
      if (written.ok()) {
        cluster.info(done);
        return;
      }
      if (written.conflict()) return;  // changed in between: leave it
    }
  };
  // Newest first, by iterators: clang-tidy 14 cannot read std::views::reverse in libstdc++ 12.
  // NOLINTNEXTLINE(modernize-loop-convert)
  for (auto it = state.claims.rbegin(); it != state.claims.rend(); ++it) {
    ClaimDecision& d = *it;
    if (!d.claim_ref_written_at.empty()) {
      takeBack(
          "PersistentVolume", "", d.volume, d.claim_ref_written_at,
          [](kbinder::v1::Object& o) {
            PersistentVolume& pv = *o.mutable_persistent_volume();
            pv.mutable_spec()->clear_claim_ref();
            pv.mutable_metadata()->mutable_annotations()->erase(kBoundByControllerAnnotation);
          },
          "released volume " + d.volume + " taken for " + claimText(ns, d.claim));
      d.claim_ref_written_at.clear();
    }
    if (!d.selected_node_written_at.empty()) {
      takeBack(
          "PersistentVolumeClaim", ns, d.claim, d.selected_node_written_at,
          [](kbinder::v1::Object& o) {
            o.mutable_persistent_volume_claim()->mutable_metadata()->mutable_annotations()->erase(
                kSelectedNodeAnnotation);
          },
          "withdrew the provisioning request of " + claimText(ns, d.claim));
      d.selected_node_written_at.clear();
    }
  }
  releaseHeld(state);
}

}  // namespace kbinder::plugins::volumebinding
