// SPDX-License-Identifier: Apache-2.0
#include "volumebinding.h"

#include <functional>

#include "plugins/fake_cluster.h"
#include "plugins/plugin_test_support.h"

namespace kbinder::plugins::volumebinding {
namespace {

using namespace kbinder::plugins::testing;

TEST(VolumeBindingConfigTest, DefaultsToTenMinutes) {
  EXPECT_EQ(parseConfig({}).bind_timeout, std::chrono::seconds(600));
}

TEST(VolumeBindingConfigTest, AcceptsIntegerAndFractionalSeconds) {
  EXPECT_EQ(parseConfig(configWith("bind_timeout_seconds", intValue(30))).bind_timeout,
            std::chrono::seconds(30));
  EXPECT_EQ(parseConfig(configWith("bind_timeout_seconds", floatValue(0.5))).bind_timeout,
            std::chrono::milliseconds(500));
}

TEST(VolumeBindingConfigTest, RejectsBadArguments) {
  const std::string range =
      "argument 'bind_timeout_seconds' must be more than 0 and at most 86400 seconds";
  const std::vector<std::pair<kbinder::v1::PluginConfig, std::string>> cases = {
      {configWith("bind_timeout_seconds", intValue(0)), range},
      {configWith("bind_timeout_seconds", intValue(86401)), range},
      {configWith("bind_timeout_seconds", textValue("10m")),
       "argument 'bind_timeout_seconds' must be a number of seconds"},
      {configWith("bind_timeout", intValue(5)),
       "unknown argument(s) 'bind_timeout'; it accepts: bind_timeout_seconds"},
  };
  for (const auto& [config, message] : cases) {
    expectConfigError([&] { parseConfig(config); }, message);
  }
}

// Table rows leave trailing fields at their defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

// ---- the cycle --------------------------------------------------------------------------------

using Action = ClaimDecision::Action;

kbinder::v1::Object volume(const std::string& name, const std::string& size,
                           const std::string& cls = "local", const std::string& node = "n1",
                           const std::vector<std::string>& modes = {"ReadWriteOnce"}) {
  kbinder::v1::Object o;
  auto& pv = *o.mutable_persistent_volume();
  pv.mutable_metadata()->set_name(name);
  (*pv.mutable_spec()->mutable_capacity())["storage"] = size;
  pv.mutable_spec()->set_storage_class_name(cls);
  for (const auto& m : modes) pv.mutable_spec()->add_access_modes(m);
  if (!node.empty()) {
    auto& req = *pv.mutable_spec()
                     ->mutable_node_affinity()
                     ->mutable_required()
                     ->add_node_selector_terms()
                     ->add_match_expressions();
    req.set_key("kubernetes.io/hostname");
    req.set_operator_("In");
    req.add_values(node);
  }
  pv.mutable_status()->set_phase("Available");
  return o;
}

kbinder::v1::Object claimObject(const std::string& name, const std::string& size,
                                const std::string& cls = "local") {
  kbinder::v1::Object o;
  auto& pvc = *o.mutable_persistent_volume_claim();
  pvc.mutable_metadata()->set_name(name);
  pvc.mutable_metadata()->set_namespace_("ns");
  pvc.mutable_spec()->add_access_modes("ReadWriteOnce");
  (*pvc.mutable_spec()->mutable_resources()->mutable_requests())["storage"] = size;
  pvc.mutable_spec()->set_storage_class_name(cls);
  return o;
}

kbinder::v1::Object storageClass(const std::string& name, const std::string& mode,
                                 const std::string& provisioner) {
  kbinder::v1::Object o;
  o.mutable_storage_class()->mutable_metadata()->set_name(name);
  o.mutable_storage_class()->set_volume_binding_mode(mode);
  o.mutable_storage_class()->set_provisioner(provisioner);
  return o;
}

// A cluster with node n1, classes "local" (pre-created volumes) and "fast" (provisioned),
// "slow" (Immediate), and pod p with the claims given.
struct World {
  explicit World(const std::vector<std::string>& claims) {
    node.mutable_metadata()->set_name("n1");
    (*node.mutable_metadata()->mutable_labels())["kubernetes.io/hostname"] = "n1";
    pod.mutable_metadata()->set_name("p");
    pod.mutable_metadata()->set_namespace_("ns");
    pod.mutable_metadata()->set_uid("p-uid");
    for (const auto& c : claims) {
      auto* v = pod.mutable_spec()->add_volumes();
      v->set_name(c);
      v->mutable_persistent_volume_claim()->set_claim_name(c);
    }
    kbinder::v1::Object pod_object;
    *pod_object.mutable_pod() = pod;
    cluster.put(pod_object);
    cluster.put(storageClass("local", "WaitForFirstConsumer", "kubernetes.io/no-provisioner"));
    cluster.put(storageClass("fast", "WaitForFirstConsumer", "csi.example.com"));
    cluster.put(storageClass("slow", "Immediate", "csi.example.com"));
  }
  kbinder::v1::PersistentVolume& pv(const std::string& name) {
    return *cluster.find("PersistentVolume", "", name)->mutable_persistent_volume();
  }
  kbinder::v1::PersistentVolumeClaim& pvc(const std::string& name) {
    return *cluster.find("PersistentVolumeClaim", "ns", name)->mutable_persistent_volume_claim();
  }
  // Plays the PersistentVolume controller: completes binds and provisions, as the cluster would.
  static void controller(FakeCluster& c) {
    kbinder::v1::ObjectList claims;
    kbinder::v1::ListRequest list;
    list.set_kind("PersistentVolumeClaim");
    c.list(list, &claims);
    for (const auto& item : claims.items()) {
      auto& pvc =
          *c.find("PersistentVolumeClaim", "ns", item.persistent_volume_claim().metadata().name())
               ->mutable_persistent_volume_claim();
      if (pvc.metadata().annotations().count(kBindCompletedAnnotation)) continue;
      kbinder::v1::ObjectList volumes;
      list.set_kind("PersistentVolume");
      c.list(list, &volumes);
      for (const auto& v : volumes.items()) {
        if (v.persistent_volume().spec().claim_ref().name() == pvc.metadata().name()) {
          pvc.mutable_spec()->set_volume_name(v.persistent_volume().metadata().name());
          (*pvc.mutable_metadata()->mutable_annotations())[kBindCompletedAnnotation] = "yes";
        }
      }
      if (pvc.metadata().annotations().count(kSelectedNodeAnnotation) &&
          pvc.spec().volume_name().empty()) {
        auto pv = volume("pvc-" + pvc.metadata().uid(), "1Gi", "fast");
        pv.mutable_persistent_volume()->mutable_spec()->mutable_claim_ref()->set_name(
            pvc.metadata().name());
        pv.mutable_persistent_volume()->mutable_spec()->mutable_claim_ref()->set_namespace_("ns");
        c.put(pv);
        pvc.mutable_spec()->set_volume_name("pvc-" + pvc.metadata().uid());
        (*pvc.mutable_metadata()->mutable_annotations())[kBindCompletedAnnotation] = "yes";
      }
    }
  }

  FakeCluster cluster;
  kbinder::v1::Pod pod;
  kbinder::v1::Node node;
  CycleState state;
};

TEST(VolumeBindingClaimsTest, PersistentAndEphemeralVolumesNameClaims) {
  kbinder::v1::Pod pod;
  pod.mutable_metadata()->set_name("web");
  auto* v1 = pod.mutable_spec()->add_volumes();
  v1->set_name("data");
  v1->mutable_persistent_volume_claim()->set_claim_name("web-data");
  auto* v2 = pod.mutable_spec()->add_volumes();
  v2->set_name("scratch");
  v2->mutable_ephemeral()->mutable_volume_claim_template();
  pod.mutable_spec()->add_volumes()->set_name("config");  // neither: not a claim
  EXPECT_EQ(podClaimNames(pod), (std::vector<std::string>{"web-data", "web-scratch"}));
}

TEST(VolumeBindingReserveTest, PodWithoutClaimsIsLeftAlone) {
  World w({});
  VolumeBinding vb(Config{});
  EXPECT_TRUE(vb.reserve(w.cluster, w.pod, w.node, w.state).ok());
  EXPECT_TRUE(w.state.claims.empty());
  EXPECT_TRUE(vb.preBind(w.cluster, w.pod, w.node, w.state).ok());
  EXPECT_TRUE(w.cluster.writes.empty());
}

struct ChoiceCase {
  const char* name;
  std::function<void(World&)> setup;  // the claim "data" (5Gi, class local) exists already
  std::string volume;                 // expected choice; empty for an expected refusal
  std::string refusal;
};

void PrintTo(const ChoiceCase& c, std::ostream* out) {
  *out << c.name;
}

class Choice : public ::testing::TestWithParam<ChoiceCase> {};

TEST_P(Choice, Decides) {
  World w({"data"});
  w.cluster.put(claimObject("data", "5Gi"));
  GetParam().setup(w);
  VolumeBinding vb(Config{});
  const sdk::Verdict v = vb.reserve(w.cluster, w.pod, w.node, w.state);
  if (GetParam().volume.empty()) {
    EXPECT_EQ(v.code, sdk::Verdict::Code::kUnschedulable);
    EXPECT_EQ(v.message, GetParam().refusal);
  } else {
    ASSERT_TRUE(v.ok()) << v.message;
    ASSERT_EQ(w.state.claims.size(), 1u);
    if (GetParam().volume == "(provision)") {
      EXPECT_EQ(w.state.claims[0].action, Action::kProvision);
      EXPECT_TRUE(vb.held().empty());
    } else {
      EXPECT_EQ(w.state.claims[0].action, Action::kBindVolume);
      EXPECT_EQ(w.state.claims[0].volume, GetParam().volume);
      EXPECT_EQ(vb.held(), std::set<std::string>{GetParam().volume});
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    VolumeBinding, Choice,
    ::testing::Values(
        ChoiceCase{"smallest_fit",
                   [](World& w) {
                     w.cluster.put(volume("big", "100Gi"));
                     w.cluster.put(volume("small", "10Gi"));
                     w.cluster.put(volume("tiny", "1Gi"));
                   },
                   "small"},
        ChoiceCase{
            "prebound_first",
            [](World& w) {
              w.cluster.put(volume("small", "10Gi"));
              auto pre = volume("reserved", "100Gi");
              pre.mutable_persistent_volume()->mutable_spec()->mutable_claim_ref()->set_name(
                  "data");
              pre.mutable_persistent_volume()->mutable_spec()->mutable_claim_ref()->set_namespace_(
                  "ns");
              w.cluster.put(pre);
            },
            "reserved"},
        ChoiceCase{
            "class_access_mode_volume_mode_and_affinity_filter",
            [](World& w) {
              w.cluster.put(volume("other-class", "6Gi", "fast"));
              w.cluster.put(volume("read-only-many", "6Gi", "local", "n1", {"ReadOnlyMany"}));
              auto block = volume("block", "6Gi");
              block.mutable_persistent_volume()->mutable_spec()->set_volume_mode("Block");
              w.cluster.put(block);
              w.cluster.put(volume("other-node", "6Gi", "local", "n2"));
              auto taken = volume("taken", "6Gi");
              taken.mutable_persistent_volume()->mutable_spec()->mutable_claim_ref()->set_name("x");
              w.cluster.put(taken);
              w.cluster.put(volume("fits", "8Gi"));
            },
            "fits"},
        ChoiceCase{
            "selector",
            [](World& w) {
              (*w.pvc("data").mutable_spec()->mutable_selector()->mutable_match_labels())["tier"] =
                  "gold";
              w.cluster.put(volume("plain", "6Gi"));
              auto gold = volume("gold", "9Gi");
              (*gold.mutable_persistent_volume()->mutable_metadata()->mutable_labels())["tier"] =
                  "gold";
              w.cluster.put(gold);
            },
            "gold"},
        ChoiceCase{"provision_on_node",
                   [](World& w) { w.pvc("data").mutable_spec()->set_storage_class_name("fast"); },
                   "(provision)"},
        ChoiceCase{
            "immediate_unbound",
            [](World& w) { w.pvc("data").mutable_spec()->set_storage_class_name("slow"); }, "",
            "claim ns/data uses Immediate binding and is not bound yet; the PersistentVolume "
            "controller binds it before the pod can be placed"},
        ChoiceCase{"nothing_fits", [](World& w) { w.cluster.put(volume("tiny", "1Gi")); }, "",
                   "no volume available for claim ns/data on node n1 (class \"local\", matching "
                   "capacity, access modes, volume mode and node affinity), and class \"local\" "
                   "cannot provision"},
        ChoiceCase{
            "prebound_elsewhere",
            [](World& w) {
              auto pre = volume("reserved", "100Gi", "local", "n2");
              pre.mutable_persistent_volume()->mutable_spec()->mutable_claim_ref()->set_name(
                  "data");
              pre.mutable_persistent_volume()->mutable_spec()->mutable_claim_ref()->set_namespace_(
                  "ns");
              w.cluster.put(pre);
            },
            "",
            "claim ns/data is pre-bound to volume reserved, whose node affinity does not "
            "admit node n1"},
        ChoiceCase{
            "bound_elsewhere",
            [](World& w) {
              w.cluster.put(volume("there", "10Gi", "local", "n2"));
              w.pvc("data").mutable_spec()->set_volume_name("there");
            },
            "", "claim ns/data: its volume there has a node affinity that does not admit node n1"},
        ChoiceCase{"missing_claim",
                   [](World& w) { w.cluster.erase("PersistentVolumeClaim", "ns", "data"); }, "",
                   "claim ns/data not found"}),
    [](const ::testing::TestParamInfo<ChoiceCase>& info) { return std::string(info.param.name); });

// The free volumes are asked for with everything the host can filter on: the class, no claim,
// not Bound, and a node affinity admitting the pod's node (other nodes' local volumes never
// cross the boundary).
TEST(VolumeBindingReserveTest, AsksOnlyForFreeVolumesOfTheClassThatTheNodeAdmits) {
  World w({"data"});
  w.cluster.put(claimObject("data", "5Gi"));
  w.cluster.put(volume("v", "10Gi"));
  VolumeBinding vb(Config{});
  ASSERT_TRUE(vb.reserve(w.cluster, w.pod, w.node, w.state).ok());
  ASSERT_EQ(w.cluster.lists.size(), 2u);  // the volume pre-bound to the claim, then free ones
  const kbinder::v1::ListRequest& free = w.cluster.lists[1];
  EXPECT_EQ(free.kind(), "PersistentVolume");
  EXPECT_EQ(free.field_selector(),
            "spec.storageClassName=local,spec.claimRef.name=,status.phase!=Bound");
  EXPECT_EQ(free.admits_node(), "n1");
  EXPECT_TRUE(
      w.cluster.lists[0].admits_node().empty());  // a pre-bound volume is judged, not skipped
}

TEST(VolumeBindingReserveTest, TwoPodsInFlightNeverGetTheSameVolume) {
  World w({"data"});
  w.cluster.put(claimObject("data", "5Gi"));
  auto other = claimObject("data2", "5Gi");
  w.cluster.put(other);
  w.cluster.put(volume("a", "10Gi"));
  w.cluster.put(volume("b", "20Gi"));
  VolumeBinding vb(Config{});
  ASSERT_TRUE(vb.reserve(w.cluster, w.pod, w.node, w.state).ok());
  EXPECT_EQ(w.state.claims[0].volume, "a");
  World second({"data2"});
  CycleState state2;
  kbinder::v1::Pod pod2 = w.pod;
  pod2.mutable_spec()->mutable_volumes(0)->mutable_persistent_volume_claim()->set_claim_name(
      "data2");
  ASSERT_TRUE(vb.reserve(w.cluster, pod2, w.node, state2).ok());
  EXPECT_EQ(state2.claims[0].volume, "b");
  CycleState state3;
  EXPECT_FALSE(vb.reserve(w.cluster, pod2, w.node, state3).ok());  // a and b are held
  vb.unreserve(w.cluster, w.pod, w.state);
  CycleState state4;
  ASSERT_TRUE(vb.reserve(w.cluster, pod2, w.node, state4).ok());
  EXPECT_EQ(state4.claims[0].volume, "a");
}

class VolumeBindingPreBindTest : public ::testing::Test {
 protected:
  VolumeBindingPreBindTest() : w({"data", "scratch"}) {
    w.cluster.put(claimObject("data", "5Gi"));
    w.cluster.put(claimObject("scratch", "1Gi", "fast"));
    w.cluster.put(volume("pv1", "10Gi"));
  }
  sdk::Verdict cycle() {
    const sdk::Verdict reserved = vb.reserve(w.cluster, w.pod, w.node, w.state);
    if (!reserved.ok()) return reserved;
    return vb.preBind(w.cluster, w.pod, w.node, w.state);
  }
  World w;
  VolumeBinding vb{Config{std::chrono::seconds(2), std::chrono::milliseconds(50)}};
};

TEST_F(VolumeBindingPreBindTest, WritesClaimRefThenTheClaimAndWaitsForTheBinds) {
  w.cluster.on_sleep = &World::controller;
  ASSERT_TRUE(cycle().ok());
  EXPECT_EQ(w.cluster.writes, (std::vector<std::string>{"PersistentVolume /pv1",
                                                        "PersistentVolumeClaim ns/scratch"}));
  const auto& ref = w.pv("pv1").spec().claim_ref();
  EXPECT_EQ(ref.name(), "data");
  EXPECT_EQ(ref.uid(), "data-uid");
  EXPECT_EQ(w.pvc("scratch").metadata().annotations().at(kSelectedNodeAnnotation), "n1");
  EXPECT_EQ(w.pvc("data").spec().volume_name(), "pv1");
  EXPECT_TRUE(vb.held().empty());
}

// A bind the controller completes at once is seen after the first, short pause; while nothing
// happens the pauses double up to the poll interval.
TEST_F(VolumeBindingPreBindTest, LooksAgainSoonThenLessOften) {
  w.cluster.on_sleep = &World::controller;
  auto before = w.cluster.remaining();
  ASSERT_TRUE(cycle().ok());
  EXPECT_EQ(before - w.cluster.remaining(), std::chrono::milliseconds(2));

  World idle({"data"});
  idle.cluster.put(claimObject("data", "5Gi"));
  idle.cluster.put(volume("pv1", "10Gi"));
  std::vector<int64_t> pauses;
  before = idle.cluster.remaining();
  idle.cluster.on_sleep = [&](FakeCluster& c) {
    pauses.push_back((before - c.remaining()).count());
    before = c.remaining();
  };
  ASSERT_TRUE(vb.reserve(idle.cluster, idle.pod, idle.node, idle.state).ok());
  EXPECT_EQ(vb.preBind(idle.cluster, idle.pod, idle.node, idle.state).code,
            sdk::Verdict::Code::kError);  // nothing binds: the wait runs out
  ASSERT_GE(pauses.size(), 8u);
  EXPECT_EQ(std::vector<int64_t>(pauses.begin(), pauses.begin() + 8),
            (std::vector<int64_t>{2, 4, 8, 16, 32, 50, 50, 50}));
}

// Reads before a write are fresh; while waiting, the plugin looks at the host's copies (no
// API call per look) and confirms on fresh reads whatever there would make it give up.
TEST_F(VolumeBindingPreBindTest, WaitsOnCopiesAndConfirmsFreshWhatWouldEndTheWait) {
  w.cluster.on_sleep = &World::controller;
  ASSERT_TRUE(vb.reserve(w.cluster, w.pod, w.node, w.state).ok());
  w.cluster.fresh_reads = w.cluster.cached_reads = 0;
  ASSERT_TRUE(vb.preBind(w.cluster, w.pod, w.node, w.state).ok());
  EXPECT_EQ(w.cluster.fresh_reads,
            3);  // claim and volume before the claimRef, claim before provisioning
  EXPECT_GT(w.cluster.cached_reads, 0);

  World lagging({"data"});
  lagging.cluster.put(claimObject("data", "5Gi"));
  lagging.cluster.put(volume("pv1", "10Gi"));
  auto stale = *lagging.cluster.find("PersistentVolume", "", "pv1");
  stale.mutable_persistent_volume()->mutable_spec()->mutable_claim_ref()->set_name("earlier");
  lagging.cluster.lagging[{"PersistentVolume", "", "pv1"}] =
      stale;  // an older owner, released since
  lagging.cluster.on_sleep = &World::controller;
  ASSERT_TRUE(vb.reserve(lagging.cluster, lagging.pod, lagging.node, lagging.state).ok());
  const sdk::Verdict v = vb.preBind(lagging.cluster, lagging.pod, lagging.node, lagging.state);
  EXPECT_TRUE(v.ok()) << v.message;
}

TEST_F(VolumeBindingPreBindTest, TimesOutCleanlyAndUnreserveTakesBackItsWrites) {
  const sdk::Verdict v = cycle();  // nothing completes the binds
  EXPECT_EQ(v.code, sdk::Verdict::Code::kError);
  EXPECT_EQ(v.message,
            "timed out after 2.0s (bind_timeout) waiting for claims in ns to be bound: "
            "data, scratch");
  vb.unreserve(w.cluster, w.pod, w.state);
  EXPECT_TRUE(w.pv("pv1").spec().claim_ref().name().empty());
  EXPECT_EQ(w.pv("pv1").metadata().annotations().count(kBoundByControllerAnnotation), 0u);
  EXPECT_EQ(w.pvc("scratch").metadata().annotations().count(kSelectedNodeAnnotation), 0u);
  EXPECT_TRUE(vb.held().empty());
}

TEST_F(VolumeBindingPreBindTest, UnreserveNeverTouchesWhatChangedSinceItsWrite) {
  cycle();
  // Someone else changed both objects after this cycle wrote them.
  (*w.pv("pv1").mutable_metadata()->mutable_labels())["audited"] = "yes";
  w.pv("pv1").mutable_metadata()->set_resource_version("9999");
  w.pvc("scratch").mutable_metadata()->set_resource_version("9998");
  const size_t writes = w.cluster.writes.size();
  vb.unreserve(w.cluster, w.pod, w.state);
  EXPECT_EQ(w.cluster.writes.size(), writes);
  EXPECT_EQ(w.pv("pv1").spec().claim_ref().name(), "data");
}

struct EarlyFailure {
  const char* name;
  std::function<void(FakeCluster&)> meanwhile;
  sdk::Verdict::Code code;
  std::string message;
};

void PrintTo(const EarlyFailure& c, std::ostream* out) {
  *out << c.name;
}

class FailsEarly : public VolumeBindingPreBindTest,
                   public ::testing::WithParamInterface<EarlyFailure> {};

TEST_P(FailsEarly, NamingTheClaim) {
  w.cluster.on_sleep = GetParam().meanwhile;
  const sdk::Verdict v = cycle();
  EXPECT_EQ(v.code, GetParam().code);
  EXPECT_EQ(v.message, GetParam().message);
  EXPECT_GT(w.cluster.time_left, std::chrono::seconds(29));  // did not wait for the timeout
}

INSTANTIATE_TEST_SUITE_P(
    VolumeBinding, FailsEarly,
    ::testing::Values(
        EarlyFailure{"provisioning_abandoned",
                     [](FakeCluster& c) {
                       c.find("PersistentVolumeClaim", "ns", "scratch")
                           ->mutable_persistent_volume_claim()
                           ->mutable_metadata()
                           ->mutable_annotations()
                           ->erase(kSelectedNodeAnnotation);
                     },
                     sdk::Verdict::Code::kUnschedulable,
                     "provisioning for claim ns/scratch was abandoned (the "
                     "volume.kubernetes.io/selected-node annotation was removed)"},
        EarlyFailure{"claim_ref_taken",
                     [](FakeCluster& c) {
                       auto& ref = *c.find("PersistentVolume", "", "pv1")
                                        ->mutable_persistent_volume()
                                        ->mutable_spec()
                                        ->mutable_claim_ref();
                       ref.set_name("intruder");
                       ref.set_uid("intruder-uid");
                     },
                     sdk::Verdict::Code::kUnschedulable,
                     "volume pv1 chosen for claim ns/data was taken by claim ns/intruder"},
        EarlyFailure{"pod_deleted", [](FakeCluster& c) { c.erase("Pod", "ns", "p"); },
                     sdk::Verdict::Code::kUnresolvable,
                     "pod ns/p was deleted while its volumes were binding"},
        EarlyFailure{"node_affinity_changed",
                     [](FakeCluster& c) {
                       c.find("PersistentVolume", "", "pv1")
                           ->mutable_persistent_volume()
                           ->mutable_spec()
                           ->mutable_node_affinity()
                           ->mutable_required()
                           ->mutable_node_selector_terms(0)
                           ->mutable_match_expressions(0)
                           ->set_values(0, "n9");
                     },
                     sdk::Verdict::Code::kUnschedulable,
                     "volume pv1 of claim ns/data no longer admits node n1 (its node affinity "
                     "changed)"}),
    [](const ::testing::TestParamInfo<EarlyFailure>& info) {
      return std::string(info.param.name);
    });

TEST(VolumeBindingAffinityTest, TermsAreOredAndRequirementsAnded) {
  World w({});
  w.node.mutable_metadata()->mutable_labels()->insert({"zone", "a"});
  auto o = volume("v", "1Gi", "local", "");
  auto* required =
      o.mutable_persistent_volume()->mutable_spec()->mutable_node_affinity()->mutable_required();
  auto* t1 = required->add_node_selector_terms();
  auto* r1 = t1->add_match_expressions();
  r1->set_key("zone");
  r1->set_operator_("In");
  r1->add_values("b");
  EXPECT_FALSE(nodeAffinityAdmits(o.persistent_volume(), w.node));
  auto* t2 = required->add_node_selector_terms();
  auto* f = t2->add_match_fields();
  f->set_key("metadata.name");
  f->set_operator_("In");
  f->add_values("n1");
  auto* r2 = t2->add_match_expressions();
  r2->set_key("zone");
  r2->set_operator_("Exists");
  EXPECT_TRUE(nodeAffinityAdmits(o.persistent_volume(), w.node));
  r2->set_operator_("DoesNotExist");
  EXPECT_FALSE(nodeAffinityAdmits(o.persistent_volume(), w.node));
}

}  // namespace
}  // namespace kbinder::plugins::volumebinding
