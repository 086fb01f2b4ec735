// SPDX-License-Identifier: Apache-2.0
// The binding cycle with plugins loaded through the ABI (order-recording test plugins): the
// cycle's order end to end, Mutate's changes written to the cluster and reverted, faults and
// deadlines of plugin code, Permit's allow() as a host service, and backends that answer late,
// garbled or in conflict. The cycle's own rules, with plugins in-process: cycle_test.cc.
#include "host/cycle/framework.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <thread>

#include "cluster_support.h"

namespace kbinder::testing {
namespace {

using host::AssumeCache;
using host::CycleInput;
using host::CycleOutcome;
using host::CycleResult;
using host::Framework;
using Lines = std::vector<std::string>;

class FrameworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = storeFrom(Cluster{
        MakeNode("n1").cpu("4"), MakeNode("cordoned").cpu("4").unschedulable(),
        MakePod("p").cpu("1"), MakePod("gang-wait-1").cpu("1"), MakePod("q").cpu("1"),
        MakeRequest("r").pod("p").node("n1"), MakeRequest("cordoned").pod("q").node("cordoned")});
    feed(cache_, *store_);
  }

  CycleResult run(const std::string& plugins, const std::string& request_name = "r",
                  const std::string& cycle = "") {
    profile_ = profileFrom(dir_, plugins, cycle);
    framework_ = std::make_unique<Framework>(*profile_, *store_, cache_);
    CycleInput input;
    input.request = request(*store_, request_name);
    return framework_->run(input);
  }

  // One cycle of request "r" through `cluster` (a double in front of the store).
  CycleResult runOn(host::ClusterBackend& cluster, const std::string& plugins,
                    const std::string& expected_pod_uid = "") {
    profile_ = profileFrom(dir_, plugins);
    framework_ = std::make_unique<Framework>(*profile_, cluster, cache_);
    CycleInput input;
    input.request = request(*store_, "r");
    input.expected_pod_uid = expected_pod_uid;
    return framework_->run(input);
  }

  std::string rec(const std::string& name, const std::string& args = "") {
    return recorder(name, log_, args);
  }
  Lines log() { return readLines(log_); }

  TempDir dir_;
  std::filesystem::path log_ = dir_.path() / "calls.log";
  std::unique_ptr<EmbeddedStore> store_;
  AssumeCache cache_;
  std::unique_ptr<LoadedProfile> profile_;
  std::unique_ptr<Framework> framework_;
};

TEST_F(FrameworkTest, SuccessRunsEveryExtensionPointInProfileOrder) {
  const CycleResult result = run(rec("rec-a") + rec("rec-b"));
  ASSERT_EQ(result.outcome, CycleOutcome::kSucceeded) << result.reason;
  EXPECT_EQ(
      log(),
      (Lines{"rec-a validate p 1", "rec-b validate p 1", "rec-a mutate p 1", "rec-b mutate p 1",
             "rec-a reserve p 1", "rec-b reserve p 1", "rec-a permit p 1", "rec-b permit p 1",
             "rec-a pre_bind p 1", "rec-b pre_bind p 1", "rec-a bind p 1", "rec-b bind p 1",
             "rec-a post_bind p 1", "rec-b post_bind p 1", "rec-a release p", "rec-b release p"}));
  EXPECT_EQ(boundNode(*store_, "p"), "n1");  // both skipped Bind: the default binder bound it
  EXPECT_EQ(cache_.assumedPods(), 1u);       // until the cluster shows it bound
}

TEST_F(FrameworkTest, MutateWritesLabelsAsAPatchKeepingTheRest) {
  const CycleResult result = run(rec("rec-a", "set_label = \"team=ml\""));
  ASSERT_EQ(result.outcome, CycleOutcome::kSucceeded) << result.reason;
  auto pod = RawStore(*store_).getRaw("Pod", "default", "p");
  ASSERT_TRUE(pod.ok());
  EXPECT_EQ((*pod)["metadata"]["labels"]["team"], "ml");
  EXPECT_EQ((*pod)["spec"]["containers"][0]["image"], "busybox");
}

// The hooks after Mutate are handed the pod as written: its labels and the resourceVersion
// of Mutate's write, between the one read and the Binding's.
TEST_F(FrameworkTest, HooksAfterMutateSeeThePodAsWritten) {
  const CycleResult result =
      run(rec("rec-a", "set_label = \"team=ml\"\nlog_pod_at = \"validate\"") +
          rec("rec-b", "set_label = \"zone=b\"\nlog_pod_at = \"reserve\""));
  ASSERT_EQ(result.outcome, CycleOutcome::kSucceeded) << result.reason;
  std::string before, after, labels;
  for (const std::string& line : log()) {
    std::istringstream in(line);
    std::string plugin, point, sees, rv, seen;
    in >> plugin >> point >> sees >> rv >> seen;
    if (sees != "sees") continue;
    (point == "validate" ? before : after) = rv;
    if (point == "reserve") labels = seen;
  }
  EXPECT_EQ(labels, "team=ml,zone=b");
  ASSERT_FALSE(before.empty());
  ASSERT_FALSE(after.empty());
  const auto pod = RawStore(*store_).getRaw("Pod", "default", "p");
  ASSERT_TRUE(pod.ok());
  const std::string bound = (*pod)["metadata"]["resourceVersion"];
  EXPECT_LT(std::stoull(before), std::stoull(after));
  EXPECT_LT(std::stoull(after), std::stoull(bound));
}

TEST_F(FrameworkTest, FailedCycleRevertsMutatesChangesStillAsWritten) {
  auto pod = RawStore(*store_).getRaw("Pod", "default", "p");
  (*pod)["metadata"]["labels"]["team"] = "web";
  (*pod)["metadata"]["labels"]["keep"] = "1";
  ASSERT_TRUE(RawStore(*store_).put(*pod).ok());
  const CycleResult result = run(rec("rec-a", "set_label = \"team=ml\"") +
                                 rec("rec-b", "set_label = \"added=yes\"\nfail_at = \"bind\""));
  EXPECT_EQ(result.outcome, CycleOutcome::kRetry);
  auto after = RawStore(*store_).getRaw("Pod", "default", "p");
  EXPECT_EQ((*after)["metadata"]["labels"], host::Json::parse(R"({"team": "web", "keep": "1"})"));
}

TEST_F(FrameworkTest, RevertLeavesLabelsChangedByOthersSinceMutate) {
  // rec-b's Reserve fails; before that, someone else changes the label Mutate wrote.
  profile_ = profileFrom(
      dir_, rec("rec-a", "set_label = \"team=ml\"\nsleep_at = \"reserve\"\nsleep_ms = 200") +
                rec("rec-b", "fail_at = \"reserve\""));
  framework_ = std::make_unique<Framework>(*profile_, *store_, cache_);
  CycleResult result;
  std::thread cycle([&] {
    CycleInput input;
    input.request = request(*store_, "r");
    result = framework_->run(input);
  });
  for (int i = 0; i < 500; ++i) {
    const Lines lines = log();
    if (std::find(lines.begin(), lines.end(), "rec-a reserve p 1") != lines.end()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto pod = RawStore(*store_).getRaw("Pod", "default", "p");
  (*pod)["metadata"]["labels"]["team"] = "ops";
  ASSERT_TRUE(RawStore(*store_).put(*pod).ok());
  cycle.join();
  EXPECT_EQ(result.outcome, CycleOutcome::kRetry);
  EXPECT_EQ((*RawStore(*store_).getRaw("Pod", "default", "p"))["metadata"]["labels"]["team"],
            "ops");
}

TEST_F(FrameworkTest, AnotherCycleCanAllowAWaitingPod) {
  // rec-a holds gang-wait-* pods at Permit; rec-b, in p's cycle, allows the waiting one.
  ASSERT_TRUE(RawStore(*store_)
                  .put(host::Json::parse(R"({"apiVersion": "scheduling.run.ai/v1alpha2",
      "kind": "BindRequest", "metadata": {"name": "gang", "namespace": "default"},
      "spec": {"podName": "gang-wait-1", "selectedNode": "n1"}})"))
                  .ok());
  profile_ = profileFrom(
      dir_,
      rec("rec-a", "permit = \"wait\"\npermit_timeout_ms = 60000\nwait_pods = \"gang-wait\"") +
          rec("rec-b", "allow_annotation = \"test/allow\""));
  framework_ = std::make_unique<Framework>(*profile_, *store_, cache_);
  CycleResult waiting_result;
  std::thread waiting([&] {
    CycleInput input;
    input.request = request(*store_, "gang");
    waiting_result = framework_->run(input);
  });
  auto waiter = RawStore(*store_).getRaw("Pod", "default", "gang-wait-1");
  ASSERT_TRUE(waiter.ok());
  const std::string uid = host::rawString(*waiter, {"metadata", "uid"});
  // Let the waiting cycle reach WaitOnPermit.
  for (int i = 0; i < 500; ++i) {
    const Lines lines = log();
    if (std::find(lines.begin(), lines.end(), "rec-b permit gang-wait-1 1") != lines.end()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto pod = RawStore(*store_).getRaw("Pod", "default", "p");
  (*pod)["metadata"]["annotations"]["test/allow"] = uid + "/rec-a";
  ASSERT_TRUE(RawStore(*store_).put(*pod).ok());
  CycleInput input;
  input.request = request(*store_, "r");
  const CycleResult allower = framework_->run(input);
  waiting.join();
  EXPECT_EQ(allower.outcome, CycleOutcome::kSucceeded) << allower.reason;
  EXPECT_EQ(waiting_result.outcome, CycleOutcome::kSucceeded) << waiting_result.reason;
  const Lines lines = log();
  EXPECT_NE(std::find(lines.begin(), lines.end(), "rec-b allowed " + uid + " ok"), lines.end());
  EXPECT_EQ(boundNode(*store_, "gang-wait-1"), "n1");
}

TEST_F(FrameworkTest, HookOverrunningItsDeadlineIsAnErrorNamingPluginAndPoint) {
  const CycleResult result = run(rec("rec-a", "sleep_at = \"pre_bind\"\nsleep_ms = 300"), "r",
                                 "hook_timeout_seconds = 0.05");
  EXPECT_EQ(result.outcome, CycleOutcome::kRetry);
  EXPECT_NE(result.reason.find("plugin 'rec-a' at pre_bind: overran its deadline"),
            std::string::npos)
      << result.reason;
  EXPECT_EQ(boundNode(*store_, "p"), "");
}

TEST_F(FrameworkTest, PluginsOwnHookTimeoutReplacesTheProfiles) {
  const CycleResult result =
      run("[[plugins]]\nname = \"rec-a\"\nlibrary = \"rec_a.so\"\nhook_timeout_seconds = "
          "5\n[plugins.args]\nlog = \"" +
              log_.string() + "\"\nsleep_at = \"pre_bind\"\nsleep_ms = 100\n",
          "r", "hook_timeout_seconds = 0.05");
  EXPECT_EQ(result.outcome, CycleOutcome::kSucceeded) << result.reason;
}

struct FaultCase {
  const char* library;
  const char* message;
};

void PrintTo(const FaultCase& c, std::ostream* out) {
  *out << c.library;
}

class FaultyPlugin : public FrameworkTest, public ::testing::WithParamInterface<FaultCase> {};

TEST_P(FaultyPlugin, BecomesAnErrorNamingPluginAndPoint) {
  const CycleResult result = run("[[plugins]]\nname = \"faulty\"\nlibrary = \"" +
                                 std::string(GetParam().library) + "\"\n");
  EXPECT_EQ(result.outcome, CycleOutcome::kRetry);
  EXPECT_NE(result.reason.find(std::string("plugin 'faulty' at validate: ") + GetParam().message),
            std::string::npos)
      << result.reason;
}

INSTANTIATE_TEST_SUITE_P(
    Faults, FaultyPlugin,
    ::testing::Values(FaultCase{"fault_throws.so", "threw an exception"},
                      FaultCase{"fault_garbage.so", "returned result bytes that do not decode"},
                      FaultCase{"fault_unknown_code.so", "returned unknown status code 42"},
                      FaultCase{"fault_abi_fault.so", "returned ABI fault ABI_INTERNAL"}));

// The store behind every call; the doubles below change what they need.
class Forwarding : public host::ClusterBackend {
 public:
  explicit Forwarding(EmbeddedStore& store) : store_(store) {}
  host::StatusOr<kbinder::v1::Object> get(const kbinder::v1::GetRequest& r) override {
    return store_.get(r);
  }
  host::StatusOr<kbinder::v1::ObjectList> list(const kbinder::v1::ListRequest& r) override {
    return store_.list(r);
  }
  host::StatusOr<kbinder::v1::Object> patch(const kbinder::v1::PatchRequest& r) override {
    return store_.patch(r);
  }
  host::StatusOr<std::string> patchMetadata(host::Kind kind, const std::string& ns,
                                            const std::string& name, const std::string& rv,
                                            const std::vector<host::MetadataEdit>& edits) override {
    return store_.patchMetadata(kind, ns, name, rv, edits);
  }
  host::StatusOr<kbinder::v1::Object> create(const kbinder::v1::Object& o) override {
    return store_.create(o);
  }
  host::StatusOr<std::unique_ptr<host::Watch>> watch(host::Kind k, const std::string& rv) override {
    return store_.watch(k, rv);
  }
  using host::ClusterBackend::bindPod;
  host::Status bindPod(const host::PodBinding& binding) override { return store_.bindPod(binding); }
  std::string describe() const override { return "forwarding"; }

 protected:
  EmbeddedStore& store_;
};

// The store, except that the first Binding answers 409 without binding (as a faulty network or
// an overloaded API server may).
class ConflictOnFirstBind final : public Forwarding {
 public:
  using Forwarding::bindPod;
  using Forwarding::Forwarding;
  host::Status bindPod(const host::PodBinding& binding) override {
    if (conflicts_-- > 0) return {host::StatusCode::kAborted, "Operation cannot be fulfilled"};
    return store_.bindPod(binding);
  }

 private:
  int conflicts_ = 1;
};

// The store, except that pod reads not marked fresh see the pods as they were at the last
// copy() (a watch-fed cache that lags behind); fresh pod reads are counted.
class LaggingPodCopies final : public Forwarding {
 public:
  using Forwarding::Forwarding;
  void copy() {
    kbinder::v1::ListRequest list;
    list.set_kind("Pod");
    auto pods = store_.list(list);
    ASSERT_TRUE(pods.ok());
    copies_.clear();
    for (const auto& item : pods->items()) copies_[item.pod().metadata().name()] = item;
  }
  host::StatusOr<kbinder::v1::Object> get(const kbinder::v1::GetRequest& r) override {
    if (r.kind() != "Pod") return store_.get(r);
    if (r.fresh()) {
      ++fresh_pod_reads;
      return store_.get(r);
    }
    const auto it = copies_.find(r.name());
    if (it == copies_.end()) return host::notFound("pods \"" + r.name() + "\" not found");
    return it->second;
  }
  int fresh_pod_reads = 0;

 private:
  std::map<std::string, kbinder::v1::Object> copies_;
};

TEST_F(FrameworkTest, ABindingConflictRereadsThePodAndRetriesWhenItIsStillFree) {
  ConflictOnFirstBind cluster(*store_);
  profile_ = profileFrom(dir_, rec("rec-a"));
  Framework framework(*profile_, cluster, cache_);
  CycleInput input;
  input.request = request(*store_, "r");
  const CycleResult first = framework.run(input);
  EXPECT_EQ(first.outcome, CycleOutcome::kRetry) << first.reason;  // not Failed: the pod is free
  input.attempt = 2;
  const CycleResult second = framework.run(input);
  EXPECT_EQ(second.outcome, CycleOutcome::kSucceeded) << second.reason;
  EXPECT_EQ(boundNode(*store_, "p"), "n1");
}

// The store, counting Mutate's patches and keeping the Bindings sent.
class CountingWrites final : public Forwarding {
 public:
  using Forwarding::Forwarding;
  host::StatusOr<std::string> patchMetadata(host::Kind kind, const std::string& ns,
                                            const std::string& name, const std::string& rv,
                                            const std::vector<host::MetadataEdit>& edits) override {
    ++patches;
    return store_.patchMetadata(kind, ns, name, rv, edits);
  }
  using Forwarding::bindPod;
  host::Status bindPod(const host::PodBinding& binding) override {
    bindings.push_back(binding);
    return store_.bindPod(binding);
  }
  int patches = 0;
  std::vector<host::PodBinding> bindings;
};

// Annotations Mutate only sets go with the Binding (the API server merges them into the pod's),
// guarded by the resourceVersion read: one write to the pod, not two.
TEST_F(FrameworkTest, MutatesAnnotationsGoWithTheBindingInOneWrite) {
  const auto read = RawStore(*store_).getRaw("Pod", "default", "p");
  ASSERT_TRUE(read.ok());
  CountingWrites cluster(*store_);
  const CycleResult result = runOn(
      cluster, rec("rec-nobind", "set_annotation = \"kind=plain\"\nlog_pod_at = \"pre_bind\""));
  ASSERT_EQ(result.outcome, CycleOutcome::kSucceeded) << result.reason;
  EXPECT_EQ(cluster.patches, 0);
  ASSERT_EQ(cluster.bindings.size(), 1u);
  EXPECT_EQ(cluster.bindings[0].resource_version,
            host::rawString(*read, {"metadata", "resourceVersion"}));
  EXPECT_EQ(cluster.bindings[0].annotations,
            (std::map<std::string, std::string>{{"kind", "plain"}}));
  const auto bound = RawStore(*store_).getRaw("Pod", "default", "p");
  ASSERT_TRUE(bound.ok());
  EXPECT_EQ(host::rawString(*bound, {"spec", "nodeName"}), "n1");
  EXPECT_EQ(host::rawString(*bound, {"metadata", "annotations", "kind"}), "plain");
  // The hooks after Mutate were handed the pod as it is to be written: the version read.
  const Lines lines = log();
  EXPECT_NE(std::find(lines.begin(), lines.end(),
                      "rec-nobind pre_bind sees " +
                          host::rawString(*read, {"metadata", "resourceVersion"}) + " "),
            lines.end())
      << ::testing::PrintToString(lines);
}

// Where they cannot go with the Binding, Mutate's changes are a patch as before: with labels (a
// Binding carries none), or in a profile with a Bind plugin (which may bind in its own way).
void expectAPatchFirst(EmbeddedStore& store, const CycleResult& result,
                       const CountingWrites& cluster) {
  ASSERT_EQ(result.outcome, CycleOutcome::kSucceeded) << result.reason;
  EXPECT_EQ(cluster.patches, 1);
  ASSERT_EQ(cluster.bindings.size(), 1u);
  EXPECT_TRUE(cluster.bindings[0].annotations.empty());
  EXPECT_TRUE(cluster.bindings[0].resource_version.empty());
  EXPECT_EQ(host::rawString(*RawStore(store).getRaw("Pod", "default", "p"),
                            {"metadata", "annotations", "kind"}),
            "plain");
}

TEST_F(FrameworkTest, MutatesLabelsArePatchedFirst) {
  CountingWrites cluster(*store_);
  const CycleResult result =
      runOn(cluster, rec("rec-nobind", "set_label = \"team=ml\"\nset_annotation = \"kind=plain\""));
  expectAPatchFirst(*store_, result, cluster);
  EXPECT_EQ(host::rawString(*RawStore(*store_).getRaw("Pod", "default", "p"),
                            {"metadata", "labels", "team"}),
            "ml");
}

TEST_F(FrameworkTest, WithABindPluginMutatesAnnotationsArePatchedFirst) {
  CountingWrites cluster(*store_);
  const CycleResult result =
      runOn(cluster, rec("rec-nobind", "set_annotation = \"kind=plain\"") + rec("rec-a"));
  expectAPatchFirst(*store_, result, cluster);
}

TEST_F(FrameworkTest, AProfileCanHaveMutatesAnnotationsPatchedAtOnce) {
  CountingWrites cluster(*store_);
  profile_ = profileFrom(dir_, rec("rec-nobind", "set_annotation = \"kind=plain\""),
                         "annotations_with_binding = false");
  Framework framework(*profile_, cluster, cache_);
  CycleInput input;
  input.request = request(*store_, "r");
  expectAPatchFirst(*store_, framework.run(input), cluster);
}

// A cycle that fails after Mutate, with the annotations kept for the Binding, wrote nothing.
TEST_F(FrameworkTest, ACycleFailingBeforeTheBindingLeavesThePodUntouched) {
  const auto read = RawStore(*store_).getRaw("Pod", "default", "p");
  ASSERT_TRUE(read.ok());
  const CycleResult result =
      run(rec("rec-nobind", "set_annotation = \"kind=plain\"\nfail_at = \"pre_bind\""));
  EXPECT_EQ(result.outcome, CycleOutcome::kRetry);
  EXPECT_EQ(*RawStore(*store_).getRaw("Pod", "default", "p"), *read);
}

// A copy that went stale after it was read: the Binding, guarded by its resourceVersion,
// conflicts, and the cycle starts over from a fresh read.
TEST_F(FrameworkTest, AStaleCopyEndsInTheBindingsConflictAndTheCycleStartsOverFresh) {
  LaggingPodCopies cluster(*store_);
  cluster.copy();
  auto pod = RawStore(*store_).getRaw("Pod", "default", "p");
  ASSERT_TRUE(pod.ok());
  ASSERT_TRUE(store_
                  ->patchMetadata(host::Kind::kPod, "default", "p",
                                  host::rawString(*pod, {"metadata", "resourceVersion"}),
                                  {{host::MetadataEdit::Map::kLabels, "owner", "someone"}})
                  .ok());
  const CycleResult result = runOn(cluster, rec("rec-nobind", "set_annotation = \"kind=plain\""));
  ASSERT_EQ(result.outcome, CycleOutcome::kSucceeded) << result.reason;
  EXPECT_EQ(cluster.fresh_pod_reads, 2);  // the conflict's own read, then the new cycle's
  EXPECT_EQ(log(),
            (Lines{"rec-nobind validate p 1", "rec-nobind mutate p 1", "rec-nobind reserve p 1",
                   "rec-nobind permit p 1", "rec-nobind pre_bind p 1", "rec-nobind unreserve p 1",
                   "rec-nobind release p", "rec-nobind validate p 1", "rec-nobind mutate p 1",
                   "rec-nobind reserve p 1", "rec-nobind permit p 1", "rec-nobind pre_bind p 1",
                   "rec-nobind post_bind p 1", "rec-nobind release p"}));
  auto bound = RawStore(*store_).getRaw("Pod", "default", "p");
  ASSERT_TRUE(bound.ok());
  EXPECT_EQ(host::rawString(*bound, {"spec", "nodeName"}), "n1");
  EXPECT_EQ(host::rawString(*bound, {"metadata", "labels", "owner"}), "someone");
  EXPECT_EQ(host::rawString(*bound, {"metadata", "annotations", "kind"}), "plain");
}

// The pod and the node reach the cycle encoded as the backend answers; an answer that does not
// decode is the backend's fault, retried, and no plugin sees it.
class Garbled final : public Forwarding {
 public:
  Garbled(EmbeddedStore& store, std::string kind) : Forwarding(store), kind_(std::move(kind)) {}
  host::StatusOr<std::string> getEncoded(const kbinder::v1::GetRequest& r) override {
    if (r.kind() == kind_) return std::string("\x12\x7f", 2);  // a field cut short
    return store_.getEncoded(r);
  }

 private:
  std::string kind_;
};

TEST_F(FrameworkTest, AnObjectTheBackendGarblesIsRetriedWithoutCallingPlugins) {
  profile_ = profileFrom(dir_, rec("rec-a"));
  for (const std::string kind : {"Pod", "Node"}) {
    Garbled cluster(*store_, kind);
    Framework framework(*profile_, cluster, cache_);
    CycleInput input;
    input.request = request(*store_, "r");
    const CycleResult result = framework.run(input);
    EXPECT_EQ(result.outcome, CycleOutcome::kRetry) << kind;
    const std::string lower = kind == "Pod" ? "pod" : "node";
    EXPECT_EQ(result.reason, "reading " + lower + ": the backend's answer does not decode");
    EXPECT_TRUE(log().empty()) << kind;
    EXPECT_EQ(boundNode(*store_, "p"), "") << kind;
  }
}

TEST_F(FrameworkTest, PodRecreatedWithAnotherUidFailsWithoutRetry) {
  profile_ = profileFrom(dir_, rec("rec-a"));
  framework_ = std::make_unique<Framework>(*profile_, *store_, cache_);
  CycleInput input;
  input.request = request(*store_, "r");
  input.expected_pod_uid = "uid-of-the-pod-that-was-deleted";
  const CycleResult result = framework_->run(input);
  EXPECT_EQ(result.outcome, CycleOutcome::kFailed);
  EXPECT_NE(result.reason.find("was recreated"), std::string::npos) << result.reason;
  EXPECT_TRUE(log().empty());
}

TEST_F(FrameworkTest, ACycleStartsFromTheWatchFedCopyOfThePod) {
  LaggingPodCopies cluster(*store_);
  cluster.copy();
  const CycleResult result = runOn(cluster, rec("rec-a", "set_label = \"team=a\""));
  ASSERT_EQ(result.outcome, CycleOutcome::kSucceeded) << result.reason;
  EXPECT_EQ(cluster.fresh_pod_reads, 0);  // no request to the API server to read it
  EXPECT_EQ(boundNode(*store_, "p"), "n1");
}

TEST_F(FrameworkTest, APodTheCopyDoesNotShowYetIsReadAfresh) {
  LaggingPodCopies cluster(*store_);  // no copy(): the pods came after the cache's last event
  const CycleResult result = runOn(cluster, rec("rec-a"));
  ASSERT_EQ(result.outcome, CycleOutcome::kSucceeded) << result.reason;
  EXPECT_EQ(cluster.fresh_pod_reads, 1);
  EXPECT_EQ(boundNode(*store_, "p"), "n1");
}

TEST_F(FrameworkTest, AStaleCopyEndsInMutatesConflictAndTheCycleStartsOverFresh) {
  LaggingPodCopies cluster(*store_);
  cluster.copy();
  // Someone else labels the pod after the cache's copy: Mutate's write, guarded by the copy's
  // resourceVersion, conflicts.
  auto pod = RawStore(*store_).getRaw("Pod", "default", "p");
  ASSERT_TRUE(pod.ok());
  ASSERT_TRUE(store_
                  ->patchMetadata(host::Kind::kPod, "default", "p",
                                  host::rawString(*pod, {"metadata", "resourceVersion"}),
                                  {{host::MetadataEdit::Map::kLabels, "owner", "someone"}})
                  .ok());
  const CycleResult result = runOn(cluster, rec("rec-a", "set_label = \"team=a\""));
  ASSERT_EQ(result.outcome, CycleOutcome::kSucceeded) << result.reason;
  EXPECT_EQ(cluster.fresh_pod_reads, 1);
  EXPECT_EQ(log(), (Lines{"rec-a validate p 1", "rec-a mutate p 1", "rec-a release p",
                          "rec-a validate p 1", "rec-a mutate p 1", "rec-a reserve p 1",
                          "rec-a permit p 1", "rec-a pre_bind p 1", "rec-a bind p 1",
                          "rec-a post_bind p 1", "rec-a release p"}));
  auto bound = RawStore(*store_).getRaw("Pod", "default", "p");
  ASSERT_TRUE(bound.ok());
  EXPECT_EQ(host::rawString(*bound, {"spec", "nodeName"}), "n1");
  EXPECT_EQ(host::rawString(*bound, {"metadata", "labels", "owner"}), "someone");
  EXPECT_EQ(host::rawString(*bound, {"metadata", "labels", "team"}), "a");
}

TEST_F(FrameworkTest, AStaleCopyOfAPodAnEarlierAttemptBoundSucceedsOnTheFreshRead) {
  LaggingPodCopies cluster(*store_);
  cluster.copy();
  auto pod = RawStore(*store_).getRaw("Pod", "default", "p");
  ASSERT_TRUE(pod.ok());
  ASSERT_TRUE(
      bindPod(*store_, "default", "p", host::rawString(*pod, {"metadata", "uid"}), "n1").ok());
  const CycleResult result = runOn(cluster, rec("rec-a", "set_label = \"team=a\""));
  ASSERT_EQ(result.outcome, CycleOutcome::kSucceeded) << result.reason;
  EXPECT_TRUE(result.already_bound);
  EXPECT_EQ(cluster.fresh_pod_reads, 1);
  EXPECT_EQ(log(), (Lines{"rec-a validate p 1", "rec-a mutate p 1", "rec-a release p"}));
}

TEST_F(FrameworkTest, WhatACopyShowsButAPodToBindIsConfirmedAfresh) {
  LaggingPodCopies cluster(*store_);
  cluster.copy();
  const CycleResult result = runOn(cluster, rec("rec-a"), "uid-of-the-pod-that-was-deleted");
  EXPECT_EQ(result.outcome, CycleOutcome::kFailed);
  EXPECT_NE(result.reason.find("was recreated"), std::string::npos) << result.reason;
  EXPECT_EQ(cluster.fresh_pod_reads, 1);
  EXPECT_TRUE(log().empty());
}

}  // namespace
}  // namespace kbinder::testing
