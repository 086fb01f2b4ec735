// SPDX-License-Identifier: Apache-2.0
#include "dra.h"

#include <algorithm>
#include <tuple>

#include "kbinder/sdk/args.h"

namespace kbinder::plugins::dra {
namespace {

using kbinder::v1::AllocationResult;
using kbinder::v1::Pod;
using kbinder::v1::ResourceClaim;
using sdk::Verdict;

std::string quoted(const std::string& s) {
  return "\"" + s + "\"";
}

// Two allocations are the same when they name the same devices for the same requests on the
// same nodes (the timestamp and device configuration do not make them different).
bool sameAllocation(const AllocationResult& a, const AllocationResult& b) {
  auto devices = [](const AllocationResult& r) {
    std::vector<std::tuple<std::string, std::string, std::string, std::string, std::string>> out;
    for (const auto& d : r.devices().results()) {
      out.emplace_back(d.request(), d.driver(), d.pool(), d.device(), d.share_id());
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  return devices(a) == devices(b) &&
         a.node_selector().SerializeAsString() == b.node_selector().SerializeAsString();
}

bool reservedForPod(const ResourceClaim& claim, const Pod& pod) {
  for (const auto& r : claim.status().reserved_for()) {
    if (r.uid() == pod.metadata().uid()) return true;
  }
  return false;
}

std::string claimText(const ClaimWork& w) {
  return "ResourceClaim " + w.namespace_ + "/" + w.name + " (pod claim " + quoted(w.pod_claim) +
         ")";
}

// Why the claim cannot take this allocation now, or empty.
std::string refusal(const ResourceClaim& claim, const ClaimWork& work) {
  if (!claim.metadata().deletion_timestamp().empty()) return claimText(work) + " is being deleted";
  if (claim.status().has_allocation() && !claim.status().allocation().devices().results().empty() &&
      !sameAllocation(claim.status().allocation(), work.allocation)) {
    return claimText(work) + " was allocated elsewhere in the meantime";
  }
  return {};
}

}  // namespace

Config parseConfig(const kbinder::v1::PluginConfig& config) {
  sdk::Args args(config);
  Config parsed;
  parsed.bind_timeout = std::chrono::milliseconds(
      static_cast<int64_t>(args.seconds("bind_timeout_seconds", 30, 3600) * 1000));
  args.finish();
  return parsed;
}

Verdict Dra::reserve(sdk::Cluster& cluster, const Pod& pod, const kbinder::v1::BindRequest& request,
                     CycleState& state) const {
  state.claims.clear();
  state.resolved = true;
  for (const auto& entry : request.spec().resource_claim_allocations()) {
    ClaimWork work;
    work.pod_claim = entry.name();
    work.namespace_ = pod.metadata().namespace_();
    const auto& claims = pod.spec().resource_claims();
    const auto it = std::find_if(claims.begin(), claims.end(),
                                 [&](const auto& c) { return c.name() == entry.name(); });
    if (it == claims.end()) {
      return Verdict::unresolvable("BindRequest resourceClaimAllocations names claim " +
                                   quoted(entry.name()) + ", which pod " + pod.metadata().name() +
                                   " does not have");
    }
    if (it->has_resource_claim_name()) {
      work.name = it->resource_claim_name();
    } else {
      for (const auto& s : pod.status().resource_claim_statuses()) {
        if (s.name() == entry.name() && s.has_resource_claim_name())
          work.name = s.resource_claim_name();
      }
      if (work.name.empty()) {
        return Verdict::unschedulable(
            "the ResourceClaim for pod claim " + quoted(entry.name()) + " (from template " +
            quoted(it->resource_claim_template_name()) +
            ") is not created yet (no status.resourceClaimStatuses entry)");
      }
    }
    if (entry.allocation().devices().results().empty()) {
      return Verdict::unresolvable("BindRequest resourceClaimAllocations entry " +
                                   quoted(entry.name()) + " has an empty allocation");
    }
    work.allocation = entry.allocation();
    kbinder::v1::Object object;
    const sdk::Result got = cluster.get("ResourceClaim", work.namespace_, work.name, true, &object);
    if (got.notFound()) return Verdict::unschedulable(claimText(work) + " not found");
    if (!got.ok()) return Verdict::error("reading " + claimText(work) + ": " + got.message);
    if (const std::string why = refusal(object.resource_claim(), work); !why.empty()) {
      return Verdict::unschedulable(why);
    }
    state.claims.push_back(std::move(work));
  }
  return Verdict::success();
}

Verdict Dra::preBind(sdk::Cluster& cluster, const Pod& pod, const kbinder::v1::BindRequest& request,
                     CycleState& state) const {
  if (!state.resolved) {
    if (Verdict v = reserve(cluster, pod, request, state); !v.ok()) return v;
  }
  auto budget = std::min(config_.bind_timeout, cluster.remaining());
  for (ClaimWork& work : state.claims) {
    int conflicts = 0;
    while (true) {
      kbinder::v1::Object object;
      const sdk::Result got =
          cluster.get("ResourceClaim", work.namespace_, work.name, true, &object);
      if (got.notFound()) return Verdict::unschedulable(claimText(work) + " not found");
      if (!got.ok()) return Verdict::error("reading " + claimText(work) + ": " + got.message);
      ResourceClaim& claim = *object.mutable_resource_claim();
      if (const std::string why = refusal(claim, work); !why.empty()) {
        return Verdict::unschedulable(why);
      }
      const bool allocate = claim.status().allocation().devices().results().empty();
      const bool reserve = !reservedForPod(claim, pod);
      if (!allocate && !reserve) break;  // already as wanted (an earlier attempt wrote it)
      if (reserve && claim.status().reserved_for_size() >= kMaxReservedFor) {
        return Verdict::unschedulable(claimText(work) + " is reserved for " +
                                      std::to_string(kMaxReservedFor) +
                                      " consumers already, the API's limit");
      }
      if (allocate) *claim.mutable_status()->mutable_allocation() = work.allocation;
      if (reserve) {
        auto& consumer = *claim.mutable_status()->add_reserved_for();
        consumer.set_resource("pods");
        consumer.set_name(pod.metadata().name());
        consumer.set_uid(pod.metadata().uid());
      }
      const sdk::Result written = cluster.patch(object, "status", nullptr);
      if (written.ok()) {
        work.wrote_allocation = work.wrote_allocation || allocate;
        work.added_reservation = work.added_reservation || reserve;
        break;
      }
      if (!written.conflict()) {
        return Verdict::error("writing " + claimText(work) + ": " + written.message);
      }
      ++conflicts;
      const auto pause = std::chrono::milliseconds(std::min(200, 10 * conflicts));
      if (budget <= pause || cluster.cancelled()) {
        return Verdict::error("writing " + claimText(work) + ": still conflicting after " +
                              std::to_string(conflicts) + " attempts within bind_timeout");
      }
      cluster.sleep(pause);
      budget -= pause;
    }
  }
  return Verdict::success();
}

void Dra::unreserve(sdk::Cluster& cluster, const Pod& pod, CycleState& state) const {
  // Newest first, by iterators: clang-tidy 14 cannot read std::views::reverse in libstdc++ 12.
  // NOLINTNEXTLINE(modernize-loop-convert)
  for (auto it = state.claims.rbegin(); it != state.claims.rend(); ++it) {
    ClaimWork& work = *it;
    if (!work.added_reservation && !work.wrote_allocation) continue;
    // Not bounded by cancellation: taking back is what a cancelled cycle must still do.
    for (int attempt = 0; attempt < 20; ++attempt) {
      kbinder::v1::Object object;
      const sdk::Result got =
          cluster.get("ResourceClaim", work.namespace_, work.name, true, &object);
      if (got.notFound()) break;  // gone: nothing left to take back
      if (!got.ok()) {
        cluster.sleep(std::chrono::milliseconds(200));
        continue;
      }
      auto& status = *object.mutable_resource_claim()->mutable_status();
      bool changed = false;
      auto& reserved = *status.mutable_reserved_for();
      for (int i = reserved.size() - 1; i >= 0; --i) {
        if (reserved[i].uid() == pod.metadata().uid()) {
          reserved.erase(reserved.begin() + i);
          changed = true;
        }
      }
      if (work.wrote_allocation && status.reserved_for_size() == 0 && status.has_allocation() &&
          sameAllocation(status.allocation(), work.allocation)) {
        status.clear_allocation();
        changed = true;
      }
      if (!changed) break;
      const sdk::Result written = cluster.patch(object, "status", nullptr);
      if (written.ok()) {
        cluster.info("released " + claimText(work));
        break;
      }
      // Conflict: read again. Other failures (the API server unreachable for a moment): try
      // again too, or the claim would stay reserved for a pod that will not run.
      cluster.sleep(std::chrono::milliseconds(written.conflict() ? 10 : 200));
    }
    work.added_reservation = false;
    work.wrote_allocation = false;
  }
}

}  // namespace kbinder::plugins::dra
