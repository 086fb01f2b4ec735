// SPDX-License-Identifier: Apache-2.0
#include "dra.h"

#include "plugins/fake_cluster.h"
#include "plugins/plugin_test_support.h"

namespace kbinder::plugins::dra {
namespace {

using namespace kbinder::plugins::testing;

TEST(DraConfigTest, DefaultsToThirtySeconds) {
  EXPECT_EQ(parseConfig({}).bind_timeout, std::chrono::seconds(30));
}

TEST(DraConfigTest, RejectsBadArguments) {
  EXPECT_EQ(parseConfig(configWith("bind_timeout_seconds", floatValue(2.5))).bind_timeout,
            std::chrono::milliseconds(2500));
  expectConfigError([] { parseConfig(configWith("bind_timeout_seconds", intValue(3601))); },
                    "argument 'bind_timeout_seconds' must be more than 0 and at most 3600 seconds");
  expectConfigError([] { parseConfig(configWith("retries", intValue(3))); },
                    "unknown argument(s) 'retries'; it accepts: bind_timeout_seconds");
}

// ---- the cycle --------------------------------------------------------------------------------

kbinder::v1::AllocationResult allocation(const std::string& device) {
  kbinder::v1::AllocationResult a;
  auto* r = a.mutable_devices()->add_results();
  r->set_request("gpu");
  r->set_driver("gpu.example.com");
  r->set_pool("node-1");
  r->set_device(device);
  return a;
}

// A pod with a direct and a templated claim, their ResourceClaims, and a request to fill in.
struct World {
  World() {
    pod_.mutable_metadata()->set_name("p");
    pod_.mutable_metadata()->set_namespace_("ns");
    pod_.mutable_metadata()->set_uid("pod-uid");
    auto* direct = pod_.mutable_spec()->add_resource_claims();
    direct->set_name("gpu");
    direct->set_resource_claim_name("shared-gpu");
    auto* templated = pod_.mutable_spec()->add_resource_claims();
    templated->set_name("nic");
    templated->set_resource_claim_template_name("nic-template");
    auto* status = pod_.mutable_status()->add_resource_claim_statuses();
    status->set_name("nic");
    status->set_resource_claim_name("p-nic-x7k2q");
    putClaim("shared-gpu");
    putClaim("p-nic-x7k2q");
  }

  kbinder::v1::ResourceClaim& claim(const std::string& name) {
    return *cluster_.find("ResourceClaim", "ns", name)->mutable_resource_claim();
  }
  void putClaim(const std::string& name) {
    kbinder::v1::Object o;
    o.mutable_resource_claim()->mutable_metadata()->set_name(name);
    o.mutable_resource_claim()->mutable_metadata()->set_namespace_("ns");
    cluster_.put(o);
  }
  void allocate(const std::string& pod_claim, const kbinder::v1::AllocationResult& a) {
    auto* entry = request_.mutable_spec()->add_resource_claim_allocations();
    entry->set_name(pod_claim);
    *entry->mutable_allocation() = a;
  }
  sdk::Verdict run() {
    const sdk::Verdict reserved = dra_.reserve(cluster_, pod_, request_, state_);
    if (!reserved.ok()) return reserved;
    return dra_.preBind(cluster_, pod_, request_, state_);
  }

  Dra dra_{Config{}};
  FakeCluster cluster_;
  kbinder::v1::Pod pod_;
  kbinder::v1::BindRequest request_;
  CycleState state_;
};

class DraCycleTest : public ::testing::Test, public World {};

TEST_F(DraCycleTest, WritesAllocationAndReservationInOneStatusWrite) {
  allocate("gpu", allocation("gpu-0"));
  allocate("nic", allocation("nic-3"));
  ASSERT_TRUE(run().ok());
  EXPECT_EQ(cluster_.writes, (std::vector<std::string>{"ResourceClaim ns/shared-gpu status",
                                                       "ResourceClaim ns/p-nic-x7k2q status"}));
  const auto& gpu = claim("shared-gpu");
  EXPECT_EQ(gpu.status().allocation().devices().results(0).device(), "gpu-0");
  ASSERT_EQ(gpu.status().reserved_for_size(), 1);
  EXPECT_EQ(gpu.status().reserved_for(0).resource(), "pods");
  EXPECT_EQ(gpu.status().reserved_for(0).name(), "p");
  EXPECT_EQ(gpu.status().reserved_for(0).uid(), "pod-uid");
  EXPECT_EQ(claim("p-nic-x7k2q").status().allocation().devices().results(0).device(), "nic-3");
  // Written again (a retried attempt): nothing to do.
  cluster_.writes.clear();
  CycleState again;
  ASSERT_TRUE(dra_.reserve(cluster_, pod_, request_, again).ok());
  ASSERT_TRUE(dra_.preBind(cluster_, pod_, request_, again).ok());
  EXPECT_TRUE(cluster_.writes.empty());
}

struct Refusal {
  const char* name;
  std::function<void(World&)> setup;
  sdk::Verdict::Code code;
  std::string message;
};

TEST(DraRefusalTest, RefusesWhatCannotBeAllocatedNamingTheClaim) {
  const std::vector<Refusal> cases = {
      {"unknown pod claim", [](World& t) { t.allocate("fpga", allocation("f-0")); },
       sdk::Verdict::Code::kUnresolvable,
       "BindRequest resourceClaimAllocations names claim \"fpga\", which pod p does not have"},
      {"empty allocation", [](World& t) { t.allocate("gpu", {}); },
       sdk::Verdict::Code::kUnresolvable,
       "BindRequest resourceClaimAllocations entry \"gpu\" has an empty allocation"},
      {"template claim not created",
       [](World& t) {
         t.pod_.mutable_status()->clear_resource_claim_statuses();
         t.allocate("nic", allocation("nic-3"));
       },
       sdk::Verdict::Code::kUnschedulable,
       "the ResourceClaim for pod claim \"nic\" (from template \"nic-template\") is not created "
       "yet (no status.resourceClaimStatuses entry)"},
      {"claim missing",
       [](World& t) {
         t.cluster_.erase("ResourceClaim", "ns", "shared-gpu");
         t.allocate("gpu", allocation("gpu-0"));
       },
       sdk::Verdict::Code::kUnschedulable,
       "ResourceClaim ns/shared-gpu (pod claim \"gpu\") not found"},
      {"claim being deleted",
       [](World& t) {
         t.claim("shared-gpu").mutable_metadata()->set_deletion_timestamp("2026-01-01T00:00:00Z");
         t.allocate("gpu", allocation("gpu-0"));
       },
       sdk::Verdict::Code::kUnschedulable,
       "ResourceClaim ns/shared-gpu (pod claim \"gpu\") is being deleted"},
      {"allocated differently",
       [](World& t) {
         *t.claim("shared-gpu").mutable_status()->mutable_allocation() = allocation("gpu-7");
         t.allocate("gpu", allocation("gpu-0"));
       },
       sdk::Verdict::Code::kUnschedulable,
       "ResourceClaim ns/shared-gpu (pod claim \"gpu\") was allocated elsewhere in the meantime"},
      {"reservedFor full",
       [](World& t) {
         *t.claim("shared-gpu").mutable_status()->mutable_allocation() = allocation("gpu-0");
         for (int i = 0; i < kMaxReservedFor; ++i) {
           t.claim("shared-gpu").mutable_status()->add_reserved_for()->set_uid(std::to_string(i));
         }
         t.allocate("gpu", allocation("gpu-0"));
       },
       sdk::Verdict::Code::kUnschedulable,
       "ResourceClaim ns/shared-gpu (pod claim \"gpu\") is reserved for 256 consumers already, "
       "the API's limit"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    World t;
    c.setup(t);
    const sdk::Verdict v = t.run();
    EXPECT_EQ(v.code, c.code);
    EXPECT_EQ(v.message, c.message);
    EXPECT_TRUE(t.cluster_.writes.empty());
  }
}

TEST_F(DraCycleTest, ClaimAllocatedDeletedBetweenReserveAndPreBindIsRefused) {
  allocate("gpu", allocation("gpu-0"));
  ASSERT_TRUE(dra_.reserve(cluster_, pod_, request_, state_).ok());
  *claim("shared-gpu").mutable_status()->mutable_allocation() = allocation("gpu-9");
  const sdk::Verdict v = dra_.preBind(cluster_, pod_, request_, state_);
  EXPECT_EQ(
      v.message,
      "ResourceClaim ns/shared-gpu (pod claim \"gpu\") was allocated elsewhere in the meantime");
}

TEST_F(DraCycleTest, RetriesOnConflictByReadingAgain) {
  allocate("gpu", allocation("gpu-0"));
  ASSERT_TRUE(dra_.reserve(cluster_, pod_, request_, state_).ok());
  cluster_.conflicts_to_inject = 3;
  ASSERT_TRUE(dra_.preBind(cluster_, pod_, request_, state_).ok());
  EXPECT_EQ(claim("shared-gpu").status().reserved_for_size(), 1);
}

TEST_F(DraCycleTest, GivesUpOnConflictsAfterBindTimeout) {
  Dra quick{Config{std::chrono::milliseconds(100)}};
  allocate("gpu", allocation("gpu-0"));
  ASSERT_TRUE(quick.reserve(cluster_, pod_, request_, state_).ok());
  cluster_.conflicts_to_inject = 1000;
  const sdk::Verdict v = quick.preBind(cluster_, pod_, request_, state_);
  EXPECT_EQ(v.code, sdk::Verdict::Code::kError);
  EXPECT_NE(v.message.find("still conflicting after"), std::string::npos) << v.message;
  EXPECT_FALSE(state_.claims[0].wrote_allocation);
}

TEST_F(DraCycleTest, UnreserveTakesBackTheReservationAndTheAllocationItWrote) {
  allocate("gpu", allocation("gpu-0"));
  ASSERT_TRUE(run().ok());
  dra_.unreserve(cluster_, pod_, state_);
  EXPECT_EQ(claim("shared-gpu").status().reserved_for_size(), 0);
  EXPECT_FALSE(claim("shared-gpu").status().has_allocation());
  const auto writes = cluster_.writes.size();
  dra_.unreserve(cluster_, pod_, state_);  // idempotent
  EXPECT_EQ(cluster_.writes.size(), writes);
}

TEST_F(DraCycleTest, UnreserveKeepsAnAllocationSomeoneElseHolds) {
  allocate("gpu", allocation("gpu-0"));
  ASSERT_TRUE(run().ok());
  auto* other = claim("shared-gpu").mutable_status()->add_reserved_for();
  other->set_resource("pods");
  other->set_name("q");
  other->set_uid("q-uid");
  dra_.unreserve(cluster_, pod_, state_);
  ASSERT_EQ(claim("shared-gpu").status().reserved_for_size(), 1);
  EXPECT_EQ(claim("shared-gpu").status().reserved_for(0).uid(), "q-uid");
  EXPECT_TRUE(claim("shared-gpu").status().has_allocation());
}

TEST_F(DraCycleTest, UnreserveNeverTakesAnAllocationItDidNotWrite) {
  *claim("shared-gpu").mutable_status()->mutable_allocation() = allocation("gpu-0");
  allocate("gpu", allocation("gpu-0"));
  ASSERT_TRUE(run().ok());
  EXPECT_FALSE(state_.claims[0].wrote_allocation);
  dra_.unreserve(cluster_, pod_, state_);
  EXPECT_EQ(claim("shared-gpu").status().reserved_for_size(), 0);
  EXPECT_TRUE(claim("shared-gpu").status().has_allocation());
}

}  // namespace
}  // namespace kbinder::plugins::dra
