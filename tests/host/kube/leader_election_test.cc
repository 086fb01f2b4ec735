// SPDX-License-Identifier: Apache-2.0
// Leader election on a coordination.k8s.io Lease, against the test API server: one replica
// leads and renews; when it cannot renew it steps down, and another takes over.
#include "host/kube/leader_election.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "api_server.h"
#include "cluster_support.h"
#include "host/kube/kube_backend.h"

namespace kbinder::testing {
namespace {

TEST(LeaderElectorTest, ALeaderThatCannotRenewStepsDownAndAnotherTakesOver) {
  TestApiServer server(storeFrom(Cluster{MakeNode("n1").cpu("4")}));
  server.setTokens({"a-token", "b-token"});
  auto backend = [&](const std::string& token) {
    host::KubeConfig config;
    config.server = server.url();
    config.ca_pem = server.caPem();
    config.token = token;
    host::KubeClientOptions client_options;
    client_options.max_retries = 0;
    return std::make_unique<host::KubernetesBackend>(
        std::move(host::KubeClient::create(config, client_options)).value(),
        host::KubernetesBackend::Options{});
  };
  auto a_backend = backend("a-token");
  auto b_backend = backend("b-token");
  host::LeaderElectionOptions options;
  options.namespace_ = "default";
  options.lease_duration = std::chrono::milliseconds(1500);
  options.renew_deadline = std::chrono::milliseconds(1000);
  options.retry_period = std::chrono::milliseconds(200);
  options.identity = "a";
  host::LeaderElector a(*a_backend, options);
  options.identity = "b";
  host::LeaderElector b(*b_backend, options);
  std::atomic<bool> stop{false};
  ASSERT_TRUE(a.acquire(stop));
  std::atomic<bool> lost{false};
  a.keepRenewing([&] { lost = true; });
  std::atomic<bool> b_leads{false};
  std::thread candidate([&] { b_leads = b.acquire(stop); });
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_FALSE(b_leads);  // a keeps renewing
  EXPECT_FALSE(lost);
  server.setTokens({"b-token"});  // a can no longer renew
  for (int i = 0; i < 100 && !(lost && b_leads); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stop = true;
  candidate.join();
  EXPECT_TRUE(lost);
  EXPECT_FALSE(a.leading());
  EXPECT_TRUE(b_leads);
  auto lease = b_backend->getRaw("/apis/coordination.k8s.io/v1/namespaces/default/leases/kbinder");
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "b");
  EXPECT_EQ((*lease)["spec"]["leaseTransitions"], 1);
  b.release();
  lease = b_backend->getRaw("/apis/coordination.k8s.io/v1/namespaces/default/leases/kbinder");
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "");
}

}  // namespace
}  // namespace kbinder::testing
