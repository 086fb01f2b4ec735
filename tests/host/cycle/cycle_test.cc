// SPDX-License-Identifier: Apache-2.0
// The binding cycle's order and rollback rules, with plugins registered in-process (see
// fake_plugins.h): what runs, in which order, what a failure at each point rolls back, and how
// Permit waits. What plugins loaded through the ABI add (faults, deadlines, results written
// back to the cluster) is tested in framework_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "cluster_support.h"
#include "fake_plugins.h"
#include "host/cycle/framework.h"

namespace kbinder::testing {
namespace {

using host::Code;
using host::CycleInput;
using host::CycleOutcome;
using host::CycleResult;
using host::ExtensionPoint;
using host::Framework;
using Lines = std::vector<std::string>;

class CycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = storeFrom(Cluster{
        MakeNode("n1").cpu("4"), MakeNode("cordoned").cpu("4").unschedulable(),
        MakePod("p").cpu("1"), MakePod("gang-wait-1").cpu("1"), MakePod("q").cpu("1"),
        MakeRequest("r").pod("p").node("n1"), MakeRequest("cordoned").pod("q").node("cordoned"),
        MakeRequest("gang").pod("gang-wait-1").node("n1")});
    feed(cache_, *store_);
  }

  CycleResult run(const std::string& request_name = "r") {
    if (framework_ == nullptr) framework_ = std::make_unique<Framework>(profile_, *store_, cache_);
    CycleInput input;
    input.request = request(*store_, request_name);
    return framework_->run(input);
  }
  Lines log() const { return profile_.log().lines(); }
  size_t count(const std::string& part) const {
    const Lines lines = log();
    return static_cast<size_t>(std::count_if(lines.begin(), lines.end(), [&](const std::string& l) {
      return l.find(part) != std::string::npos;
    }));
  }

  std::unique_ptr<EmbeddedStore> store_;
  host::AssumeCache cache_;
  FakeProfile profile_;
  std::unique_ptr<Framework> framework_;
};

TEST_F(CycleTest, SuccessRunsEveryExtensionPointInProfileOrder) {
  profile_.add("a");
  profile_.add("b");
  const CycleResult result = run();
  ASSERT_EQ(result.outcome, CycleOutcome::kSucceeded) << result.reason;
  EXPECT_EQ(log(), (Lines{"a validate p 1", "b validate p 1", "a mutate p 1", "b mutate p 1",
                          "a reserve p 1", "b reserve p 1", "a permit p 1", "b permit p 1",
                          "a pre_bind p 1", "b pre_bind p 1", "a bind p 1", "b bind p 1",
                          "a post_bind p 1", "b post_bind p 1", "a release p", "b release p"}));
  EXPECT_EQ(boundNode(*store_, "p"), "n1");  // both skipped Bind: the default binder bound it
  EXPECT_EQ(cache_.assumedPods(), 1u);       // until the cluster shows it bound
}

TEST_F(CycleTest, APluginRunsOnlyAtThePointsItImplements) {
  profile_.add("a", {ExtensionPoint::kReserve, ExtensionPoint::kPostBind});
  const CycleResult result = run();
  ASSERT_EQ(result.outcome, CycleOutcome::kSucceeded) << result.reason;
  EXPECT_EQ(log(), (Lines{"a reserve p 1", "a post_bind p 1", "a release p"}));
}

TEST_F(CycleTest, ReserveFailureUnreservesEveryPluginInReverseExactlyOnce) {
  profile_.add("a");
  profile_.add("b").failAt(ExtensionPoint::kReserve);
  profile_.add("c");
  const CycleResult result = run();
  EXPECT_EQ(result.outcome, CycleOutcome::kRetry);
  EXPECT_EQ(result.reason, "reserve b: Error: b fails reserve as configured");
  EXPECT_EQ(log(), (Lines{"a validate p 1", "b validate p 1", "c validate p 1", "a mutate p 1",
                          "b mutate p 1", "c mutate p 1", "a reserve p 1", "b reserve p 1",
                          // c's Reserve never ran; its Unreserve runs all the same.
                          "c unreserve p 1", "b unreserve p 1", "a unreserve p 1", "a release p",
                          "b release p", "c release p"}));
  EXPECT_EQ(boundNode(*store_, "p"), "");
  EXPECT_EQ(cache_.assumedPods(), 0u);
  EXPECT_EQ(cache_.usage("n1").pods, 0);
}

TEST_F(CycleTest, UnresolvableFailureDoesNotRetry) {
  profile_.add("a").failAt(ExtensionPoint::kPreBind, Code::kUnschedulableAndUnresolvable);
  const CycleResult result = run();
  EXPECT_EQ(result.outcome, CycleOutcome::kFailed);
  EXPECT_EQ(result.reason,
            "pre_bind a: UnschedulableAndUnresolvable: a fails pre_bind as configured");
}

class FailureAfterReserve : public CycleTest,
                            public ::testing::WithParamInterface<ExtensionPoint> {};

TEST_P(FailureAfterReserve, RollsBackEveryPluginInReverseOnceAndForgets) {
  const ExtensionPoint point = GetParam();
  FakePlugin& a = profile_.add("a");
  FakePlugin& b = profile_.add("b");
  profile_.add("c");
  if (point == ExtensionPoint::kBind) {
    a.failAt(ExtensionPoint::kBind, Code::kUnschedulable);
  } else {
    b.failAt(point);
  }
  const CycleResult result = run();
  EXPECT_EQ(result.outcome, CycleOutcome::kRetry);
  const Lines lines = log();
  ASSERT_GE(lines.size(), 6u);
  EXPECT_EQ(Lines(lines.end() - 6, lines.end()),
            (Lines{"c unreserve p 1", "b unreserve p 1", "a unreserve p 1", "a release p",
                   "b release p", "c release p"}));
  EXPECT_EQ(count("unreserve"), 3u);
  EXPECT_EQ(count("post_bind"), 0u);
  EXPECT_EQ(boundNode(*store_, "p"), "");
  EXPECT_EQ(cache_.assumedPods(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Points, FailureAfterReserve,
                         ::testing::Values(ExtensionPoint::kPermit, ExtensionPoint::kPreBind,
                                           ExtensionPoint::kBind),
                         [](const ::testing::TestParamInfo<ExtensionPoint>& info) {
                           return std::string(host::extensionPointName(info.param));
                         });

TEST_F(CycleTest, BindSkipChainStopsAtTheFirstPluginThatBinds) {
  profile_.add("a");
  profile_.add("b").on(ExtensionPoint::kBind,
                       [](const FakeCall&) { return outcome(Code::kSuccess); });
  profile_.add("c");
  const CycleResult result = run();
  ASSERT_EQ(result.outcome, CycleOutcome::kSucceeded) << result.reason;
  EXPECT_EQ(count("a bind p 1"), 1u);
  EXPECT_EQ(count("b bind p 1"), 1u);
  EXPECT_EQ(count("c bind p 1"), 0u);
  // b said it bound the pod: the default binder did not run.
  EXPECT_EQ(boundNode(*store_, "p"), "");
}

TEST_F(CycleTest, ValidationCollectsEveryProblemAndFailsWithoutRetry) {
  profile_.add("a").on(ExtensionPoint::kValidate, [](const FakeCall&) {
    return validationErrors({"spec.x is missing", "spec.y is negative"});
  });
  profile_.add("b").on(ExtensionPoint::kValidate,
                       [](const FakeCall&) { return validationErrors({"spec.z is too long"}); });
  const CycleResult result = run();
  EXPECT_EQ(result.outcome, CycleOutcome::kFailed);
  EXPECT_EQ(result.reason,
            "validate: a: spec.x is missing; a: spec.y is negative; b: spec.z is too long");
  // Nothing was assumed: no Reserve, no Unreserve.
  EXPECT_EQ(log(), (Lines{"a validate p 1", "b validate p 1", "a release p", "b release p"}));
}

TEST_F(CycleTest, AssumeRefusalStopsBeforeReserve) {
  profile_.add("a");
  const CycleResult result = run("cordoned");
  EXPECT_EQ(result.outcome, CycleOutcome::kRetry);
  EXPECT_EQ(result.reason, "assume: node cordoned is cordoned (spec.unschedulable)");
  EXPECT_EQ(log(), (Lines{"a validate q 1", "a mutate q 1", "a release q"}));
}

TEST_F(CycleTest, PermitRejectRollsBack) {
  profile_.add("a").on(ExtensionPoint::kPermit, [](const FakeCall&) {
    return outcome(Code::kUnschedulable, "rejected by a");
  });
  const CycleResult result = run();
  EXPECT_EQ(result.outcome, CycleOutcome::kRetry);
  EXPECT_EQ(result.reason, "permit a: Unschedulable: rejected by a");
  EXPECT_EQ(count("a unreserve p 1"), 1u);
}

TEST_F(CycleTest, PermitWaitTimesOutAfterThePluginsTimeout) {
  profile_.add("a").on(ExtensionPoint::kPermit, [](const FakeCall&) { return permitWait(150); });
  const auto started = std::chrono::steady_clock::now();
  const CycleResult result = run();
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(150));
  EXPECT_EQ(result.outcome, CycleOutcome::kRetry);
  EXPECT_NE(result.reason.find("permit a: Unschedulable: not allowed within"), std::string::npos)
      << result.reason;
  EXPECT_NE(result.reason.find("(timed out)"), std::string::npos);
  EXPECT_EQ(count("a unreserve p 1"), 1u);
  EXPECT_EQ(count("a pre_bind p 1"), 0u);
}

TEST_F(CycleTest, PermitWaitIsCappedByTheProfile) {
  profile_.settings().permit_max_wait = std::chrono::milliseconds(200);
  profile_.add("a").on(ExtensionPoint::kPermit, [](const FakeCall&) { return permitWait(600000); });
  const auto started = std::chrono::steady_clock::now();
  const CycleResult result = run();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(60));
  EXPECT_EQ(result.outcome, CycleOutcome::kRetry);
  EXPECT_NE(result.reason.find("(timed out)"), std::string::npos) << result.reason;
}

TEST_F(CycleTest, AnotherCycleCanAllowAWaitingPod) {
  // a holds gang-wait-* pods at Permit; b, in p's cycle, allows the waiting one for a.
  profile_.add("a").on(ExtensionPoint::kPermit, [](const FakeCall& call) {
    return call.pod.metadata().name().rfind("gang-wait", 0) == 0 ? permitWait(60000)
                                                                 : outcome(Code::kSuccess);
  });
  auto waiter = RawStore(*store_).getRaw("Pod", "default", "gang-wait-1");
  ASSERT_TRUE(waiter.ok());
  const std::string uid = host::rawString(*waiter, {"metadata", "uid"});
  std::string allowed;
  profile_.add("b").on(ExtensionPoint::kPermit, [&](const FakeCall& call) {
    if (call.pod.metadata().name() == "p") {
      allowed = call.environment->waiting_pods->allow(uid, "a").message();
    }
    return outcome(Code::kSuccess);
  });
  framework_ = std::make_unique<Framework>(profile_, *store_, cache_);
  CycleResult waiting_result;
  std::thread waiting([&] { waiting_result = run("gang"); });
  // Let the waiting cycle reach WaitOnPermit.
  for (int i = 0; i < 500 && !profile_.log().has("b permit gang-wait-1 1"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const CycleResult allower = run("r");
  waiting.join();
  EXPECT_EQ(allower.outcome, CycleOutcome::kSucceeded) << allower.reason;
  EXPECT_EQ(allowed, "");  // allow() succeeded
  EXPECT_EQ(waiting_result.outcome, CycleOutcome::kSucceeded) << waiting_result.reason;
  EXPECT_EQ(boundNode(*store_, "gang-wait-1"), "n1");
}

TEST_F(CycleTest, AllowingAPodThatDoesNotWaitIsRefused) {
  std::string refused;
  profile_.add("a").on(ExtensionPoint::kPermit, [&](const FakeCall& call) {
    refused = call.environment->waiting_pods->allow("no-such-uid", "a").message();
    return outcome(Code::kSuccess);
  });
  ASSERT_EQ(run().outcome, CycleOutcome::kSucceeded);
  EXPECT_EQ(refused, "no pod with uid no-such-uid waits at Permit");
}

}  // namespace
}  // namespace kbinder::testing
