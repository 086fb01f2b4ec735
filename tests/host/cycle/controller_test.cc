// SPDX-License-Identifier: Apache-2.0
// The controller: status rules, backoff limits, idempotent retries, and many workers binding
// many pods without over-committing a node or binding a pod twice.
#include "host/cycle/controller.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <thread>

#include "cluster_support.h"
#include "host/cycle/assume_cache.h"

namespace kbinder::testing {
namespace {

using host::Controller;
using host::ControllerOptions;
using host::Json;
using Lines = std::vector<std::string>;

struct Status {
  std::string phase, reason;
  int failed_attempts = 0;
};

Status statusOf(EmbeddedStore& store, const std::string& name) {
  auto raw = RawStore(store).getRaw("BindRequest", "default", name);
  EXPECT_TRUE(raw.ok());
  Status s;
  s.phase = host::rawString(*raw, {"status", "phase"});
  s.reason = host::rawString(*raw, {"status", "reason"});
  if (raw->contains("status") && (*raw)["status"].contains("failedAttempts")) {
    s.failed_attempts = (*raw)["status"]["failedAttempts"].get<int>();
  }
  return s;
}

// "Warning BindAttemptFailed p" lines for the Events recorded, in order.
Lines events(EmbeddedStore& store) {
  Lines out;
  const auto snapshot = RawStore(store).snapshot();
  EXPECT_TRUE(snapshot.ok()) << snapshot.status().message();
  if (!snapshot.ok()) return out;
  for (const auto& object : snapshot->objects) {
    if (object.value("kind", "") != "Event") continue;
    out.push_back(host::rawString(object, {"type"}) + " " + host::rawString(object, {"reason"}) +
                  " " + host::rawString(object, {"regarding", "name"}));
  }
  return out;
}

class ControllerTest : public ::testing::Test {
 protected:
  void runAll(const Cluster& cluster, const std::string& plugins, const std::string& cycle = "") {
    store_ = storeFrom(cluster);
    profile_ = profileFrom(dir_, plugins, cycle);
    Controller controller(*profile_, *store_, ControllerOptions{});
    ASSERT_TRUE(controller.start().ok());
    controller.waitUntilSettled({});
    controller.stop();
    records_ = controller.records();
  }
  std::string rec(const std::string& name, const std::string& args = "") {
    return recorder(name, log_, args);
  }

  TempDir dir_;
  std::filesystem::path log_ = dir_.path() / "calls.log";
  std::unique_ptr<EmbeddedStore> store_;
  std::unique_ptr<LoadedProfile> profile_;
  std::vector<host::RequestRecord> records_;
};

const Cluster kCluster{MakeNode("n1").cpu("4"), MakeNode("n2").cpu("4"), MakePod("p").cpu("1")};

TEST_F(ControllerTest, SuccessMarksTheRequestSucceededWithANormalEvent) {
  runAll(kCluster + MakeRequest("r").pod("p").node("n1"), rec("rec-a"));
  const Status s = statusOf(*store_, "r");
  EXPECT_EQ(s.phase, "Succeeded");
  EXPECT_EQ(s.failed_attempts, 0);
  EXPECT_EQ(events(*store_), (Lines{"Normal Bound p"}));
  EXPECT_EQ(host::rawString(*RawStore(*store_).getRaw("Pod", "default", "p"), {"spec", "nodeName"}),
            "n1");
}

TEST_F(ControllerTest, FailedAttemptsGrowWhilePendingThenTheRetrySucceeds) {
  store_ = storeFrom(kCluster + MakeRequest("r").pod("p").node("n1"));
  profile_ = profileFrom(dir_, rec("rec-a", "fail_at = \"reserve\"\nfail_below_attempt = 3"));
  auto watch = store_->watch(host::Kind::kBindRequest, std::to_string(store_->resourceVersion()));
  ASSERT_TRUE(watch.ok());
  Controller controller(*profile_, *store_, ControllerOptions{});
  ASSERT_TRUE(controller.start().ok());
  controller.waitUntilSettled({});
  controller.stop();
  Lines seen;
  while (true) {
    auto event = (*watch)->next(std::chrono::milliseconds(0));
    if (!event.ok() || !event->has_value()) break;
    const auto& st = (*event)->object.bind_request().status();
    seen.push_back(st.phase() + " " + std::to_string(st.failed_attempts()));
  }
  EXPECT_EQ(seen, (Lines{"Pending 1", "Pending 2", "Succeeded 2"}));
  EXPECT_EQ(events(*store_), (Lines{"Warning BindAttemptFailed p", "Warning BindAttemptFailed p",
                                    "Normal Bound p"}));
  const Lines calls = readLines(log_);
  EXPECT_NE(std::find(calls.begin(), calls.end(), "rec-a reserve p 3"), calls.end());
}

TEST_F(ControllerTest, BackoffLimitEndsInFailedWithTheReason) {
  runAll(kCluster + MakePod("q").cpu("1") + MakeRequest("r").pod("p").node("n1").backoffLimit(3) +
             MakeRequest("d").pod("q").node("n2"),
         rec("rec-a", "fail_at = \"reserve\""), "default_backoff_limit = 2");
  const Status limited = statusOf(*store_, "r");
  EXPECT_EQ(limited.phase, "Failed");
  EXPECT_EQ(limited.failed_attempts, 3);
  EXPECT_EQ(limited.reason, "reserve rec-a: Error: rec-a fails reserve as configured");
  const Status defaulted = statusOf(*store_, "d");  // no backoffLimit: the profile's default
  EXPECT_EQ(defaulted.phase, "Failed");
  EXPECT_EQ(defaulted.failed_attempts, 2);
  const Lines all = events(*store_);
  EXPECT_EQ(std::count(all.begin(), all.end(), "Warning BindAttemptFailed p"), 3);
  EXPECT_EQ(std::count(all.begin(), all.end(), "Warning BindFailed p"), 1);
  EXPECT_EQ(std::count(all.begin(), all.end(), "Normal Bound p"), 0);
}

TEST_F(ControllerTest, InvalidPodFailsAtOnce) {
  runAll(kCluster + MakeRequest("r").pod("p").node("n1").backoffLimit(5),
         rec("rec-a", "fail_at = \"validate\"\nfail_code = 3"));
  const Status s = statusOf(*store_, "r");
  EXPECT_EQ(s.phase, "Failed");
  EXPECT_EQ(s.failed_attempts, 1);
  EXPECT_EQ(events(*store_), (Lines{"Warning BindAttemptFailed p", "Warning BindFailed p"}));
}

TEST_F(ControllerTest, PodAlreadyBoundToTheSelectedNodeSucceedsAtOnce) {
  runAll(Cluster{MakeNode("n1").cpu("4"), MakePod("p").cpu("1").node("n1"),
                 MakeRequest("r").pod("p").node("n1")},
         rec("rec-a"));
  const Status s = statusOf(*store_, "r");
  EXPECT_EQ(s.phase, "Succeeded");
  EXPECT_EQ(s.reason, "pod already bound to n1");
  EXPECT_TRUE(readLines(log_).empty());  // no plugin ran
}

TEST_F(ControllerTest, PodBoundElsewhereOrDeletedFailsWithoutRetry) {
  runAll(kCluster + MakePod("q").cpu("1").node("n2") +
             MakeRequest("elsewhere").pod("q").node("n1") +
             MakeRequest("deleted").pod("nobody").node("n1"),
         rec("rec-a"));
  Status s = statusOf(*store_, "elsewhere");
  EXPECT_EQ(s.phase, "Failed");
  EXPECT_EQ(s.failed_attempts, 1);
  EXPECT_EQ(s.reason, "pod is bound to node n2, not the selected node n1");
  s = statusOf(*store_, "deleted");
  EXPECT_EQ(s.phase, "Failed");
  EXPECT_EQ(s.reason, "pod default/nobody not found (deleted)");
}

// A pod bound by someone else while the controller runs takes its room on the node: the pod
// watch hands its changes over encoded, and a bound pod the cache does not hold is decoded for
// its requests.
TEST_F(ControllerTest, APodBoundElsewhereMeanwhileTakesItsRoom) {
  store_ = storeFrom(
      Cluster{MakeNode("n1").cpu("4"), MakePod("big").cpu("3"), MakePod("small").cpu("2")});
  profile_ = profileFrom(dir_, rec("rec-a"));
  Controller controller(*profile_, *store_, ControllerOptions{});
  ASSERT_TRUE(controller.start().ok());
  ASSERT_TRUE(bindPod(*store_, "default", "big", "", "n1").ok());  // not through a request
  // The pod informer takes a change within milliseconds; a second leaves ample margin.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  ASSERT_TRUE(RawStore(*store_).put(MakeRequest("r").pod("small").node("n1").backoffLimit(1)).ok());
  for (int i = 0; i < 2000 && statusOf(*store_, "r").phase != "Failed" &&
                  statusOf(*store_, "r").phase != "Succeeded";
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  controller.stop();
  const Status s = statusOf(*store_, "r");
  EXPECT_EQ(s.phase, "Failed");
  EXPECT_NE(s.reason.find("node n1 has too little room (cpu: requested 2, 1 of 4 free)"),
            std::string::npos)
      << s.reason;
}

TEST_F(ControllerTest, PodRecreatedWithAnotherUidFailsWithoutRetry) {
  // The first attempt fails at PreBind; while it backs off, the pod is deleted and recreated.
  store_ = storeFrom(kCluster + MakeRequest("r").pod("p").node("n1").backoffLimit(5));
  profile_ = profileFrom(dir_, rec("rec-a", "fail_at = \"pre_bind\"\nfail_below_attempt = 2"),
                         "backoff_base_seconds = 0.5\nbackoff_cap_seconds = 1\nbackoff_jitter = 0");
  Controller controller(*profile_, *store_, ControllerOptions{});
  ASSERT_TRUE(controller.start().ok());
  for (int i = 0; i < 500 && statusOf(*store_, "r").failed_attempts == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto pod = RawStore(*store_).getRaw("Pod", "default", "p");
  ASSERT_TRUE(RawStore(*store_).remove("Pod", "default", "p").ok());
  (*pod)["metadata"].erase("uid");
  (*pod)["metadata"].erase("resourceVersion");
  (*pod)["metadata"]["labels"]["generation"] = "2";  // a fresh uid is derived on store
  ASSERT_TRUE(RawStore(*store_).put(*pod).ok());
  controller.waitUntilSettled({});
  controller.stop();
  const Status s = statusOf(*store_, "r");
  EXPECT_EQ(s.phase, "Failed");
  EXPECT_EQ(s.failed_attempts, 2);
  EXPECT_NE(s.reason.find("was recreated"), std::string::npos) << s.reason;
}

TEST_F(ControllerTest, StatusChangesDoNotCutTheBackoffShort) {
  // Every failed attempt writes the status, which the controller sees as a change; the next
  // attempt must still wait out the backoff: 0.2s, then 0.4s (no jitter).
  const auto started = std::chrono::steady_clock::now();
  runAll(kCluster + MakeRequest("r").pod("p").node("n1").backoffLimit(3),
         rec("rec-a", "fail_at = \"reserve\""),
         "backoff_base_seconds = 0.2\nbackoff_cap_seconds = 1\nbackoff_jitter = 0");
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(600));
  ASSERT_EQ(records_.size(), 1u);
  EXPECT_EQ(records_[0].attempts, 3);
  EXPECT_EQ(statusOf(*store_, "r").failed_attempts, 3);
}

// A backend over the store that counts reads by kind and lets another writer change each
// BindRequest (through `change`, on its raw form) just before the controller's first status
// write to it.
class ChangingBeforeStatusWrite final : public host::ClusterBackend {
 public:
  ChangingBeforeStatusWrite(EmbeddedStore& store, std::function<void(Json&)> change)
      : store_(store), change_(std::move(change)) {}
  host::StatusOr<kbinder::v1::Object> get(const kbinder::v1::GetRequest& r) override {
    {
      std::lock_guard lock(mutex_);
      ++gets_[r.kind()];
    }
    return store_.get(r);
  }
  host::StatusOr<kbinder::v1::ObjectList> list(const kbinder::v1::ListRequest& r) override {
    return store_.list(r);
  }
  host::StatusOr<kbinder::v1::Object> patch(const kbinder::v1::PatchRequest& r) override {
    bool first = false;
    if (r.subresource() == "status" && r.object().has_bind_request()) {
      std::lock_guard lock(mutex_);
      if (unreachable_status_writes > 0) {
        --unreachable_status_writes;
        return host::Status(host::StatusCode::kUnavailable, "the API server did not answer");
      }
      first = changed_.insert(r.object().bind_request().metadata().name()).second;
    }
    if (first && change_) {
      auto raw = RawStore(store_).getRaw("BindRequest", "default",
                                         r.object().bind_request().metadata().name());
      EXPECT_TRUE(raw.ok());
      change_(*raw);
      EXPECT_TRUE(RawStore(store_).put(*raw).ok());
    }
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
  host::StatusOr<std::unique_ptr<host::Watch>> watch(host::Kind kind,
                                                     const std::string& rv) override {
    return store_.watch(kind, rv);
  }
  using host::ClusterBackend::bindPod;
  host::Status bindPod(const host::PodBinding& binding) override { return store_.bindPod(binding); }
  std::string describe() const override { return "changing"; }
  int gets(const std::string& kind) {
    std::lock_guard lock(mutex_);
    return gets_[kind];
  }
  int unreachable_status_writes = 0;  // this many status writes fail first, as unreachable

 private:
  EmbeddedStore& store_;
  std::function<void(Json&)> change_;
  std::mutex mutex_;
  std::set<std::string> changed_;
  std::map<std::string, int> gets_;
};

// The first status write goes onto the version the cycle read, guarded by it; when someone
// changed the request meanwhile, it is written again onto a fresh read, keeping their change.
// The cycle starts from the request the informer delivered: it is not read again.
TEST_F(ControllerTest, StatusWriteAfterAConcurrentChangeGoesOntoTheFreshVersion) {
  store_ = storeFrom(kCluster + MakeRequest("r").pod("p").node("n1"));
  profile_ = profileFrom(dir_, rec("rec-a"), "");
  ChangingBeforeStatusWrite backend(
      *store_, [](Json& raw) { raw["metadata"]["labels"]["touched"] = "yes"; });
  Controller controller(*profile_, backend, ControllerOptions{});
  ASSERT_TRUE(controller.start().ok());
  controller.waitUntilSettled({});
  controller.stop();
  EXPECT_EQ(statusOf(*store_, "r").phase, "Succeeded");
  EXPECT_EQ(host::rawString(*RawStore(*store_).getRaw("BindRequest", "default", "r"),
                            {"metadata", "labels", "touched"}),
            "yes");
  EXPECT_EQ(events(*store_), (Lines{"Normal Bound p"}));
}

// A cycle starts from the request as the informer delivered it: with no conflict, the
// request is never read from the cluster (an API call saved per bind).
TEST_F(ControllerTest, ACycleStartsFromTheRequestTheInformerDelivered) {
  store_ = storeFrom(kCluster + MakeRequest("r").pod("p").node("n1"));
  profile_ = profileFrom(dir_, rec("rec-a"), "");
  ChangingBeforeStatusWrite backend(*store_, nullptr);
  Controller controller(*profile_, backend, ControllerOptions{});
  ASSERT_TRUE(controller.start().ok());
  controller.waitUntilSettled({});
  controller.stop();
  EXPECT_EQ(statusOf(*store_, "r").phase, "Succeeded");
  EXPECT_EQ(backend.gets("BindRequest"), 0);
  EXPECT_EQ(backend.gets("Pod"), 1);  // the cycle's own read
}

// A status write that fails for good (here: the API server unreachable) leaves the request to
// be looked at again: the next attempt finds the pod bound and records the success. (It was
// dropped until some other change to the request came, which might never happen.)
TEST_F(ControllerTest, AStatusWriteThatFailedIsTriedAgain) {
  store_ = storeFrom(kCluster + MakeRequest("r").pod("p").node("n1"));
  profile_ = profileFrom(dir_, rec("rec-a"), "backoff_base_seconds = 0.01");
  ChangingBeforeStatusWrite backend(*store_, nullptr);
  backend.unreachable_status_writes = 1;
  Controller controller(*profile_, backend, ControllerOptions{});
  ASSERT_TRUE(controller.start().ok());
  // Not waitUntilSettled: without the retry it would wait for ever.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (statusOf(*store_, "r").phase != "Succeeded" &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  controller.stop();
  const Status status = statusOf(*store_, "r");
  EXPECT_EQ(status.phase, "Succeeded");
  EXPECT_EQ(status.reason, "pod already bound to n1");
  EXPECT_EQ(host::rawString(*RawStore(*store_).getRaw("Pod", "default", "p"), {"spec", "nodeName"}),
            "n1");
  const auto records = controller.records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].attempts, 2);
}

// A failure counts on the stored failedAttempts, also when the status write had to be done
// again on a fresh read: attempts counted meanwhile are kept, and the limit applies to the sum.
TEST_F(ControllerTest, AFailureAfterAConflictCountsOnTheStoredAttempts) {
  store_ = storeFrom(kCluster + MakeRequest("r").pod("p").node("n1").backoffLimit(3));
  profile_ =
      profileFrom(dir_, rec("rec-a", "fail_at = \"reserve\""), "backoff_base_seconds = 0.01");
  ChangingBeforeStatusWrite backend(*store_,
                                    [](Json& raw) { raw["status"]["failedAttempts"] = 2; });
  Controller controller(*profile_, backend, ControllerOptions{});
  ASSERT_TRUE(controller.start().ok());
  controller.waitUntilSettled({});
  controller.stop();
  const Status status = statusOf(*store_, "r");
  EXPECT_EQ(status.phase, "Failed");
  EXPECT_EQ(status.failed_attempts, 3);
  const auto records = controller.records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].attempts, 1);
  EXPECT_EQ(events(*store_), (Lines{"Warning BindAttemptFailed p", "Warning BindFailed p"}));
}

TEST(BackoffTest, DoublesFromTheBaseUpToTheCapWithJitter) {
  host::CycleSettings settings;
  settings.backoff_base = std::chrono::milliseconds(1000);
  settings.backoff_cap = std::chrono::milliseconds(5000);
  settings.backoff_jitter = 0.1;
  using ms = std::chrono::milliseconds;
  EXPECT_EQ(Controller::backoffDelay(settings, 1, 0.5), ms(1000));
  EXPECT_EQ(Controller::backoffDelay(settings, 2, 0.5), ms(2000));
  EXPECT_EQ(Controller::backoffDelay(settings, 3, 0.5), ms(4000));
  EXPECT_EQ(Controller::backoffDelay(settings, 4, 0.5), ms(5000));
  EXPECT_EQ(Controller::backoffDelay(settings, 400, 0.5), ms(5000));
  EXPECT_EQ(Controller::backoffDelay(settings, 1, 0.0), ms(900));
  EXPECT_EQ(Controller::backoffDelay(settings, 1, 1.0), ms(1100));
}

TEST(ControllerConcurrencyTest, ManyWorkersNeverOverCommitANodeOrBindAPodTwice) {
  constexpr int kNodes = 50;
  constexpr int kPodsPerNode = 40;  // each node has room for 10 of them
  Cluster cluster;
  for (int n = 0; n < kNodes; ++n) cluster.add(MakeNode("n" + std::to_string(n)).cpu("10"));
  for (int i = 0; i < kNodes * kPodsPerNode; ++i) {
    const std::string pod = "p" + std::to_string(i), node = "n" + std::to_string(i % kNodes);
    cluster.add(MakePod(pod).cpu("1"));
    cluster.add(MakeRequest("r" + std::to_string(i)).pod(pod).node(node).backoffLimit(1));
    if (i % 10 == 0) {  // a second request for the same decision: must not bind twice
      cluster.add(MakeRequest("dup" + std::to_string(i)).pod(pod).node(node).backoffLimit(2));
    }
  }
  auto store = storeFrom(cluster);
  TempDir dir;
  auto profile = profileFrom(dir, "", "workers = 8");
  Controller controller(*profile, *store, ControllerOptions{});
  ASSERT_TRUE(controller.start().ok());
  controller.waitUntilSettled({});
  controller.stop();

  std::map<std::string, int> pods_on_node;
  int bound_events = 0;
  std::map<std::string, int> bound_events_per_pod;
  const auto snapshot = RawStore(*store).snapshot();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().message();
  for (const auto& object : snapshot->objects) {
    const std::string kind = object.value("kind", "");
    if (kind == "Pod") {
      const std::string node = host::rawString(object, {"spec", "nodeName"});
      if (!node.empty()) ++pods_on_node[node];
    } else if (kind == "Event" && host::rawString(object, {"reason"}) == "Bound" &&
               host::rawString(object, {"note"}).rfind("Bound pod", 0) == 0) {
      ++bound_events;
      ++bound_events_per_pod[host::rawString(object, {"regarding", "name"})];
    } else if (kind == "BindRequest") {
      EXPECT_EQ(host::rawString(object, {"status", "reason"}).find("already assigned"),
                std::string::npos);
      const std::string phase = host::rawString(object, {"status", "phase"});
      EXPECT_TRUE(phase == "Succeeded" || phase == "Failed") << phase;
    }
  }
  ASSERT_EQ(pods_on_node.size(), static_cast<size_t>(kNodes));
  for (const auto& [node, count] : pods_on_node) EXPECT_EQ(count, 10) << node;
  EXPECT_EQ(bound_events, kNodes * 10);
  for (const auto& [pod, count] : bound_events_per_pod) EXPECT_EQ(count, 1) << pod;
}

}  // namespace
}  // namespace kbinder::testing
