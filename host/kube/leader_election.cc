// SPDX-License-Identifier: Apache-2.0
#include "host/kube/leader_election.h"

#include <unistd.h>

#include "host/base/logging.h"

namespace kbinder::host {
namespace {

using Clock = std::chrono::steady_clock;

std::string hostName() {
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  return name;
}

}  // namespace

LeaderElector::LeaderElector(KubernetesBackend& backend, LeaderElectionOptions options)
    : backend_(backend), options_(std::move(options)) {
  if (options_.identity.empty()) options_.identity = hostName() + "_" + std::to_string(::getpid());
}

LeaderElector::~LeaderElector() {
  stop_renewing_ = true;
  if (renewer_.joinable()) renewer_.join();
}

bool LeaderElector::tryAcquireOrRenew() {
  const std::string collection =
      "/apis/coordination.k8s.io/v1/namespaces/" + options_.namespace_ + "/leases";
  const std::string path = collection + "/" + options_.name;
  const std::string now = timestampNow(/*microseconds=*/true);
  const auto duration_seconds = std::max<int64_t>(
      1, std::chrono::duration_cast<std::chrono::seconds>(options_.lease_duration).count());
  auto lease = backend_.getRaw(path);
  if (!lease.ok()) {
    if (lease.status().code() != StatusCode::kNotFound) {
      hostLogger().warn("leader election: {}", lease.status().message());
      return false;
    }
    const Json created = {
        {"apiVersion", "coordination.k8s.io/v1"},
        {"kind", "Lease"},
        {"metadata", {{"name", options_.name}, {"namespace", options_.namespace_}}},
        {"spec",
         {{"holderIdentity", options_.identity},
          {"leaseDurationSeconds", duration_seconds},
          {"acquireTime", now},
          {"renewTime", now},
          {"leaseTransitions", 0}}}};
    return backend_.writeRaw("POST", collection, created).ok();
  }
  Json record = *lease;
  Json& spec = record["spec"];
  if (!spec.is_object()) spec = Json::object();
  const std::string holder = spec.value("holderIdentity", "");
  if (!holder.empty() && holder != options_.identity) {
    // Another replica's lease: it expires when this replica has seen no change for its duration.
    const std::string seen = spec.dump();
    if (seen != observed_record_) {
      observed_record_ = seen;
      observed_at_ = Clock::now();
    }
    const auto their_duration =
        std::chrono::seconds(spec.value("leaseDurationSeconds", duration_seconds));
    if (Clock::now() < observed_at_ + their_duration) return false;
    hostLogger().info("leader election: the lease of {} expired; taking over", holder);
  }
  if (holder != options_.identity) {
    spec["acquireTime"] = now;
    spec["leaseTransitions"] = spec.value("leaseTransitions", 0) + (holder.empty() ? 0 : 1);
  }
  spec["holderIdentity"] = options_.identity;
  spec["leaseDurationSeconds"] = duration_seconds;
  spec["renewTime"] = now;
  // The read resourceVersion stays in metadata: a PUT racing another replica's gets a 409.
  return backend_.writeRaw("PUT", path, record).ok();
}

bool LeaderElector::acquire(const std::atomic<bool>& stop) {
  hostLogger().info("leader election: {} waits for lease {}/{}", options_.identity,
                    options_.namespace_, options_.name);
  while (!stop) {
    if (tryAcquireOrRenew()) {
      leading_ = true;
      hostLogger().info("leader election: {} leads", options_.identity);
      return true;
    }
    for (auto waited = std::chrono::milliseconds(0); waited < options_.retry_period && !stop;
         waited += std::chrono::milliseconds(50)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  return false;
}

void LeaderElector::keepRenewing(std::function<void()> on_lost) {
  if (renewer_.joinable()) renewer_.join();
  stop_renewing_ = false;
  renewer_ = std::thread([this, on_lost = std::move(on_lost)] {
    auto last_renewed = Clock::now();
    while (!stop_renewing_) {
      for (auto waited = std::chrono::milliseconds(0);
           waited < options_.retry_period && !stop_renewing_;
           waited += std::chrono::milliseconds(50)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      if (stop_renewing_) break;
      if (tryAcquireOrRenew()) {
        last_renewed = Clock::now();
      } else if (Clock::now() - last_renewed > options_.renew_deadline) {
        leading_ = false;
        hostLogger().error(
            "leader election: {} could not renew lease {}/{} within {} ms; stepping down",
            options_.identity, options_.namespace_, options_.name, options_.renew_deadline.count());
        on_lost();
        return;
      }
    }
  });
}

void LeaderElector::release() {
  stop_renewing_ = true;
  if (renewer_.joinable()) renewer_.join();
  if (!leading_) return;
  leading_ = false;
  const std::string path =
      "/apis/coordination.k8s.io/v1/namespaces/" + options_.namespace_ + "/leases/" + options_.name;
  auto lease = backend_.getRaw(path);
  if (!lease.ok() || (*lease)["spec"].value("holderIdentity", "") != options_.identity) return;
  Json record = *lease;
  record["spec"]["holderIdentity"] = "";
  record["spec"]["leaseDurationSeconds"] = 1;
  record["spec"]["renewTime"] = timestampNow(true);
  if (backend_.writeRaw("PUT", path, record).ok()) {
    hostLogger().info("leader election: {} released the lease", options_.identity);
  }
}

}  // namespace kbinder::host
