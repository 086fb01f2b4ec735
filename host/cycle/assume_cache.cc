// SPDX-License-Identifier: Apache-2.0
#include "host/cycle/assume_cache.h"

#include <kbinder/sdk/quantity.h>

#include <algorithm>

namespace kbinder::host {
namespace {

using kbinder::v1::Container;
using kbinder::v1::Node;
using kbinder::v1::Pod;

StatusOr<int64_t> milli(const std::string& resource, const std::string& text,
                        const std::string& where) {
  std::string error;
  const auto q = sdk::Quantity::parse(text, &error);
  if (!q) return invalidArgument(where + ": " + resource + ": " + error);
  if (q->isNegative()) return invalidArgument(where + ": " + resource + " must not be negative");
  const auto m = q->milliValue();
  if (!m) return invalidArgument(where + ": " + resource + " \"" + text + "\" is too large");
  return *m;
}

StatusOr<ResourceAmounts> containerRequests(const Container& c, const std::string& where) {
  ResourceAmounts out;
  for (const auto& [name, text] : c.resources().limits()) {
    auto v = milli(name, text, where);
    if (!v.ok()) return v.status();
    out[name] = *v;
  }
  for (const auto& [name, text] : c.resources().requests()) {  // a request overrides the limit
    auto v = milli(name, text, where);
    if (!v.ok()) return v.status();
    out[name] = *v;
  }
  return out;
}

void add(ResourceAmounts& into, const ResourceAmounts& what) {
  for (const auto& [name, v] : what) into[name] += v;
}

void maxInto(ResourceAmounts& into, const ResourceAmounts& what) {
  for (const auto& [name, v] : what) into[name] = std::max(into[name], v);
}

bool tolerates(const Pod& pod, const kbinder::v1::Taint& taint) {
  for (const auto& t : pod.spec().tolerations()) {
    if (!t.effect().empty() && t.effect() != taint.effect()) continue;
    if (t.operator_() == "Exists") {
      if (t.key().empty() || t.key() == taint.key()) return true;
    } else if (t.key() == taint.key() && t.value() == taint.value()) {  // Equal, the default
      return true;
    }
  }
  return false;
}

}  // namespace

StatusOr<ResourceAmounts> podRequests(const Pod& pod) {
  ResourceAmounts app, sidecars, init_peak;
  for (const auto& c : pod.spec().containers()) {
    auto r = containerRequests(c, "container \"" + c.name() + "\"");
    if (!r.ok()) return r.status();
    add(app, *r);
  }
  for (const auto& c : pod.spec().init_containers()) {
    auto r = containerRequests(c, "init container \"" + c.name() + "\"");
    if (!r.ok()) return r.status();
    if (c.restart_policy() == "Always") {  // a sidecar runs on beside what follows
      add(sidecars, *r);
      maxInto(init_peak, sidecars);
    } else {
      ResourceAmounts with_sidecars = sidecars;
      add(with_sidecars, *r);
      maxInto(init_peak, with_sidecars);
    }
  }
  ResourceAmounts total = app;
  add(total, sidecars);
  maxInto(total, init_peak);
  for (const auto& [name, text] : pod.spec().overhead()) {
    auto v = milli(name, text, "overhead");
    if (!v.ok()) return v.status();
    total[name] += *v;
  }
  for (auto it = total.begin(); it != total.end();) {
    it = it->second == 0 ? total.erase(it) : std::next(it);
  }
  return total;
}

std::string formatAmount(const std::string& resource, int64_t m) {
  if (resource == "cpu") {
    return m % 1000 == 0 ? std::to_string(m / 1000) : std::to_string(m) + "m";
  }
  const int64_t units = m / 1000;
  if (m % 1000 != 0) return std::to_string(m) + "m";
  static constexpr std::pair<const char*, int64_t> kBinary[] = {{"Ti", int64_t{1} << 40},
                                                                {"Gi", int64_t{1} << 30},
                                                                {"Mi", int64_t{1} << 20},
                                                                {"Ki", int64_t{1} << 10}};
  if (resource == "memory" || resource == "ephemeral-storage" ||
      resource.rfind("hugepages-", 0) == 0) {
    for (const auto& [suffix, size] : kBinary) {
      if (units != 0 && units % size == 0) return std::to_string(units / size) + suffix;
    }
  }
  return std::to_string(units);
}

void AssumeCache::upsertNode(const Node& node) {
  NodeEntry facts;
  facts.known = true;
  facts.unschedulable = node.spec().unschedulable();
  for (const auto& c : node.status().conditions()) {
    if (c.type() == "Ready") facts.ready = c.status() == "True";
  }
  for (const auto& taint : node.spec().taints()) {
    if (taint.effect() == "NoSchedule" || taint.effect() == "NoExecute")
      facts.taints.push_back(taint);
  }
  const std::string where = "node " + node.metadata().name();
  for (const auto& [name, text] : node.status().allocatable()) {
    auto v = milli(name, text, where);
    facts.allocatable[name] = v.ok() ? *v : 0;
    if (name == "pods" && v.ok()) facts.pod_limit = *v;
  }
  std::lock_guard lock(mutex_);
  NodeEntry& entry = nodes_[node.metadata().name()];
  facts.usage = std::move(entry.usage);
  entry = std::move(facts);
}

void AssumeCache::removeNode(const std::string& name) {
  std::lock_guard lock(mutex_);
  const auto it = nodes_.find(name);
  if (it == nodes_.end()) return;
  NodeUsage usage = std::move(it->second.usage);
  it->second = NodeEntry{};
  it->second.usage = std::move(usage);
}

void AssumeCache::addLocked(const std::string& uid, PodEntry entry) {
  NodeUsage& usage = nodes_[entry.node].usage;
  add(usage.requested, entry.requests);
  ++usage.pods;
  if (entry.assumed) ++assumed_;
  pods_[uid] = std::move(entry);
}

void AssumeCache::dropLocked(const std::string& uid) {
  const auto it = pods_.find(uid);
  if (it == pods_.end()) return;
  NodeUsage& usage = nodes_[it->second.node].usage;
  for (const auto& [name, v] : it->second.requests) usage.requested[name] -= v;
  --usage.pods;
  if (it->second.assumed) --assumed_;
  pods_.erase(it);
}

void AssumeCache::upsertPod(const Pod& pod) {
  std::lock_guard lock(mutex_);
  noteLocked(PodFacts{pod.metadata().uid(), pod.spec().node_name(), pod.status().phase()},
             /*deleted=*/false, &pod);
}

void AssumeCache::removePod(const Pod& pod) {
  std::lock_guard lock(mutex_);
  dropLocked(pod.metadata().uid());
}

bool AssumeCache::notePod(const PodFacts& facts, bool deleted) {
  std::lock_guard lock(mutex_);
  return noteLocked(facts, deleted, nullptr);
}

bool AssumeCache::noteLocked(const PodFacts& facts, bool deleted, const Pod* pod) {
  const std::string uid(facts.uid);
  if (deleted) {
    dropLocked(uid);
    return true;
  }
  const auto it = pods_.find(uid);
  const bool terminal = facts.phase == "Succeeded" || facts.phase == "Failed";
  if (facts.node_name.empty() || terminal) {
    // Unbound: only an assumption stands for it. Terminal: it takes no room any more.
    if (it != pods_.end() && (!it->second.assumed || terminal)) dropLocked(uid);
    return true;
  }
  if (it != pods_.end() && it->second.node == facts.node_name) {
    if (it->second.assumed) {  // confirmed
      it->second.assumed = false;
      --assumed_;
    }
    return true;
  }
  if (pod == nullptr) return false;
  auto requests = podRequests(*pod);
  dropLocked(uid);
  // A bound pod with unparsable requests was admitted by the API server; count what parses.
  addLocked(uid, PodEntry{std::string(facts.node_name),
                          requests.ok() ? *requests : ResourceAmounts{}, false});
  return true;
}

Status AssumeCache::assume(const Pod& pod, const std::string& node_name) {
  auto requests = podRequests(pod);
  if (!requests.ok()) return invalidArgument("pod requests: " + requests.status().message());
  auto refuse = [&](const std::string& why) {
    return failedPrecondition("node " + node_name + " " + why);
  };
  std::lock_guard lock(mutex_);
  if (pods_.count(pod.metadata().uid()) != 0) {
    return Status(StatusCode::kAlreadyExists, "pod " + pod.metadata().name() +
                                                  " is already assumed or bound on node " +
                                                  pods_.at(pod.metadata().uid()).node);
  }
  const auto it = nodes_.find(node_name);
  if (it == nodes_.end() || !it->second.known) return refuse("not found");
  const NodeEntry& node = it->second;
  if (node.unschedulable) return refuse("is cordoned (spec.unschedulable)");
  if (!node.ready) return refuse("is not Ready");
  for (const auto& taint : node.taints) {
    if (!tolerates(pod, taint)) {
      return refuse("has taint " + taint.key() +
                    (taint.value().empty() ? "" : "=" + taint.value()) + ":" + taint.effect() +
                    " that the pod does not tolerate");
    }
  }
  const NodeUsage& usage = node.usage;
  if (node.pod_limit && (usage.pods + 1) * 1000 > *node.pod_limit) {
    return refuse("has no room for another pod (" + std::to_string(usage.pods) + " of " +
                  formatAmount("pods", *node.pod_limit) + " pods used)");
  }
  std::string short_of;
  for (const auto& [name, want] : *requests) {
    const auto a = node.allocatable.find(name);
    const int64_t has = a == node.allocatable.end() ? 0 : a->second;
    const auto used_it = usage.requested.find(name);
    const int64_t used = used_it == usage.requested.end() ? 0 : used_it->second;
    if (used + want > has) {
      short_of += (short_of.empty() ? "" : "; ") + name + ": requested " +
                  formatAmount(name, want) + ", " +
                  formatAmount(name, std::max<int64_t>(has - used, 0)) + " of " +
                  formatAmount(name, has) + " free";
    }
  }
  if (!short_of.empty()) return refuse("has too little room (" + short_of + ")");
  addLocked(pod.metadata().uid(), PodEntry{node_name, std::move(requests).value(), true});
  return okStatus();
}

void AssumeCache::forget(const std::string& pod_uid) {
  std::lock_guard lock(mutex_);
  const auto it = pods_.find(pod_uid);
  if (it != pods_.end() && it->second.assumed) dropLocked(pod_uid);
}

size_t AssumeCache::assumedPods() const {
  std::lock_guard lock(mutex_);
  return assumed_;
}

AssumeCache::NodeUsage AssumeCache::usage(const std::string& node) const {
  std::lock_guard lock(mutex_);
  const auto it = nodes_.find(node);
  return it == nodes_.end() ? NodeUsage{} : it->second.usage;
}

}  // namespace kbinder::host
