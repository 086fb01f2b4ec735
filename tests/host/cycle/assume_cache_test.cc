// SPDX-License-Identifier: Apache-2.0
// The assume cache: Kubernetes request accounting and the reasons a node refuses a pod.
#include "host/cycle/assume_cache.h"

#include <gtest/gtest.h>

#include "host/model/manifest.h"
#include "host/model/objects.h"

namespace kbinder::host {
namespace {

using kbinder::v1::Node;
using kbinder::v1::Pod;

Pod pod(const std::string& yaml_spec, const std::string& name = "p") {
  auto json = parseYaml("apiVersion: v1\nkind: Pod\nmetadata: {name: " + name +
                            ", namespace: d, uid: " + name + "-uid}\nspec:\n" + yaml_spec,
                        "pod");
  EXPECT_TRUE(json.ok()) << json.status().message();
  auto object = objectFromJson(Kind::kPod, *json);
  EXPECT_TRUE(object.ok()) << object.status().message();
  return object->pod();
}

Pod simplePod(const std::string& name, const std::string& cpu, const std::string& extra = "") {
  return pod("  containers:\n  - name: c\n    resources:\n      requests: {cpu: \"" + cpu + "\"" +
                 extra + "}\n",
             name);
}

Node node(const std::string& name, const std::string& yaml_rest) {
  auto json =
      parseYaml("apiVersion: v1\nkind: Node\nmetadata: {name: " + name + "}\n" + yaml_rest, "node");
  EXPECT_TRUE(json.ok()) << json.status().message();
  auto object = objectFromJson(Kind::kNode, *json);
  EXPECT_TRUE(object.ok()) << object.status().message();
  return object->node();
}

const char* kReady =
    "status:\n  allocatable: {cpu: \"4\", memory: 8Gi, pods: \"3\", nvidia.com/gpu: \"2\"}\n"
    "  conditions:\n  - {type: Ready, status: \"True\"}\n";

TEST(PodRequestsTest, InitContainersSidecarsAndOverhead) {
  // Largest init (3 cpu) beats the app containers' sum (1.5); overhead adds on top.
  auto r = podRequests(pod(R"(  initContainers:
  - {name: i1, resources: {requests: {cpu: "3", memory: 1Gi}}}
  - {name: i2, resources: {requests: {cpu: 500m, memory: 4Gi}}}
  containers:
  - {name: a, resources: {requests: {cpu: "1", memory: 1Gi}}}
  - {name: b, resources: {requests: {cpu: 500m, memory: 1Gi}, limits: {nvidia.com/gpu: 1}}}
  overhead: {cpu: 250m}
)"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->at("cpu"), 3250);
  EXPECT_EQ(r->at("memory"), (int64_t{4} << 30) * 1000);
  EXPECT_EQ(r->at("nvidia.com/gpu"), 1000);  // a limit without a request requests the limit

  // A sidecar (restartPolicy Always) runs beside later init containers and the app.
  auto s = podRequests(pod(R"(  initContainers:
  - {name: proxy, restartPolicy: Always, resources: {requests: {cpu: "1"}}}
  - {name: setup, resources: {requests: {cpu: "2"}}}
  containers:
  - {name: a, resources: {requests: {cpu: 500m}}}
)"));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->at("cpu"), 3000);  // max(1 + 2, 1 + 0.5)

  auto bad = podRequests(pod("  containers:\n  - {name: a, resources: {requests: {cpu: lots}}}\n"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("container \"a\": cpu"), std::string::npos)
      << bad.status().message();
}

TEST(AssumeCacheTest, RefusalsNameTheNodeAndWhatIsWrong) {
  AssumeCache cache;
  cache.upsertNode(node("ok", kReady));
  cache.upsertNode(node("cordoned", std::string("spec: {unschedulable: true}\n") + kReady));
  cache.upsertNode(node("notready",
                        "status:\n  allocatable: {cpu: \"4\"}\n  conditions:\n"
                        "  - {type: Ready, status: \"False\"}\n"));
  cache.upsertNode(node("tainted", std::string("spec:\n  taints:\n  - {key: gpu, value: yes, "
                                               "effect: NoSchedule}\n") +
                                       kReady));
  auto refuse = [&](const Pod& p, const std::string& n) { return cache.assume(p, n).message(); };
  EXPECT_EQ(refuse(simplePod("a", "1"), "gone"), "node gone not found");
  EXPECT_EQ(refuse(simplePod("a", "1"), "cordoned"),
            "node cordoned is cordoned (spec.unschedulable)");
  EXPECT_EQ(refuse(simplePod("a", "1"), "notready"), "node notready is not Ready");
  EXPECT_EQ(refuse(simplePod("a", "1"), "tainted"),
            "node tainted has taint gpu=yes:NoSchedule that the pod does not tolerate");
  EXPECT_EQ(refuse(simplePod("a", "5"), "ok"),
            "node ok has too little room (cpu: requested 5, 4 of 4 free)");
  EXPECT_EQ(refuse(simplePod("a", "1", ", nvidia.com/gpu: \"3\""), "ok"),
            "node ok has too little room (nvidia.com/gpu: requested 3, 2 of 2 free)");
  EXPECT_EQ(refuse(simplePod("a", "1", ", example.com/fpga: \"1\""), "ok"),
            "node ok has too little room (example.com/fpga: requested 1, 0 of 0 free)");
  EXPECT_EQ(cache.assume(simplePod("a", "1"), "cordoned").code(), StatusCode::kFailedPrecondition);
}

struct TolerationCase {
  const char* toleration;
  bool tolerated;
};

void PrintTo(const TolerationCase& c, std::ostream* out) {
  *out << c.toleration;
}

class Tolerations : public ::testing::TestWithParam<TolerationCase> {};

TEST_P(Tolerations, MatchTheTaint) {
  AssumeCache cache;
  cache.upsertNode(node("n", std::string("spec:\n  taints:\n  - {key: gpu, value: a100, effect: "
                                         "NoExecute}\n") +
                                 kReady));
  const Pod p = pod(std::string("  tolerations:\n  - ") + GetParam().toleration +
                    "\n  containers:\n  - {name: c}\n");
  EXPECT_EQ(cache.assume(p, "n").ok(), GetParam().tolerated) << GetParam().toleration;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, Tolerations,
    ::testing::Values(TolerationCase{"{key: gpu, operator: Equal, value: a100, effect: NoExecute}",
                                     true},
                      TolerationCase{"{key: gpu, value: a100}", true},  // Equal is the default
                      TolerationCase{"{key: gpu, value: h100}", false},
                      TolerationCase{"{key: gpu, operator: Exists}", true},
                      TolerationCase{"{key: gpu, operator: Exists, effect: NoSchedule}", false},
                      TolerationCase{"{operator: Exists}", true},  // empty key: every taint
                      TolerationCase{"{key: other, operator: Exists}", false}));

TEST(AssumeCacheTest, CountsBoundAndAssumedPodsAndThePodLimit) {
  AssumeCache cache;
  cache.upsertNode(node("n", kReady));
  Pod bound = simplePod("bound", "2");
  bound.mutable_spec()->set_node_name("n");
  cache.upsertPod(bound);
  ASSERT_TRUE(cache.assume(simplePod("a", "1"), "n").ok());
  EXPECT_EQ(cache.assume(simplePod("b", "1500m"), "n").message(),
            "node n has too little room (cpu: requested 1500m, 1 of 4 free)");
  ASSERT_TRUE(cache.assume(simplePod("c", "500m"), "n").ok());
  EXPECT_EQ(cache.assume(simplePod("d", "0"), "n").message(),
            "node n has no room for another pod (3 of 3 pods used)");
  EXPECT_EQ(cache.assume(simplePod("a", "1"), "n").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(cache.usage("n").requested.at("cpu"), 3500);
}

// What admission needs of a node is taken out of it when the node changes: every change
// counts, and the pods already on the node stay counted through it.
TEST(AssumeCacheTest, NodeChangesTakeEffectAndKeepWhatIsOnTheNode) {
  AssumeCache cache;
  cache.upsertNode(node("n", kReady));
  ASSERT_TRUE(cache.assume(simplePod("a", "3"), "n").ok());
  cache.upsertNode(node("n", std::string("spec: {unschedulable: true}\n") + kReady));
  EXPECT_EQ(cache.assume(simplePod("b", "1"), "n").message(),
            "node n is cordoned (spec.unschedulable)");
  cache.upsertNode(node("n",
                        "spec:\n  taints:\n  - {key: k, effect: NoExecute}\n"
                        "status:\n  allocatable: {cpu: \"8\", pods: bad}\n"
                        "  conditions:\n  - {type: Ready, status: \"True\"}\n"));
  EXPECT_EQ(cache.assume(simplePod("b", "1"), "n").message(),
            "node n has taint k:NoExecute that the pod does not tolerate");
  cache.upsertNode(node("n",
                        "status:\n  allocatable: {cpu: \"8\", pods: bad}\n"
                        "  conditions:\n  - {type: Ready, status: \"True\"}\n"));
  // Untainted, 8 CPUs of which a's 3 are taken; an unparsable pod count sets no limit.
  EXPECT_EQ(cache.assume(simplePod("b", "6"), "n").message(),
            "node n has too little room (cpu: requested 6, 5 of 8 free)");
  ASSERT_TRUE(cache.assume(simplePod("b", "5"), "n").ok());
  cache.removeNode("n");
  EXPECT_EQ(cache.assume(simplePod("c", "0"), "n").message(), "node n not found");
  EXPECT_EQ(cache.usage("n").requested.at("cpu"), 8000);
  cache.upsertNode(node("n", kReady));
  EXPECT_EQ(cache.assume(simplePod("c", "1"), "n").message(),
            "node n has too little room (cpu: requested 1, 0 of 4 free)");
}

TEST(AssumeCacheTest, ConfirmedWhenBoundForgottenOnFailureNeverExpired) {
  AssumeCache cache;
  cache.upsertNode(node("n", kReady));
  Pod a = simplePod("a", "3");
  ASSERT_TRUE(cache.assume(a, "n").ok());
  cache.upsertPod(a);  // the cluster still shows it unbound: the assumption stands
  EXPECT_EQ(cache.assumedPods(), 1u);
  a.mutable_spec()->set_node_name("n");
  cache.upsertPod(a);  // bound: confirmed
  EXPECT_EQ(cache.assumedPods(), 0u);
  cache.forget("a-uid");  // forgetting a confirmed pod does nothing
  EXPECT_EQ(cache.usage("n").requested.at("cpu"), 3000);

  Pod b = simplePod("b", "1");
  ASSERT_TRUE(cache.assume(b, "n").ok());
  EXPECT_EQ(cache.assumedPods(), 1u);
  cache.forget("b-uid");
  EXPECT_EQ(cache.assumedPods(), 0u);
  EXPECT_EQ(cache.usage("n").requested.at("cpu"), 3000);
  EXPECT_EQ(cache.usage("n").pods, 1);

  a.mutable_status()->set_phase("Succeeded");  // finished pods free their room
  cache.upsertPod(a);
  EXPECT_EQ(cache.usage("n").pods, 0);
  cache.removePod(a);
  EXPECT_TRUE(cache.assume(simplePod("c", "4"), "n").ok());
}

// A pod's facts settle what upsertPod and removePod would, without the pod, except where its
// requests must be counted: then nothing is done, and upsertPod counts them.
TEST(AssumeCacheTest, PodFactsSettleAllButAPodToCount) {
  AssumeCache cache;
  cache.upsertNode(node("n", kReady));
  cache.upsertNode(node("m", kReady));
  Pod a = simplePod("a", "3");
  ASSERT_TRUE(cache.assume(a, "n").ok());
  EXPECT_TRUE(cache.notePod(PodFacts{"a-uid", "", ""}, false));  // unbound: the assumption stands
  EXPECT_EQ(cache.assumedPods(), 1u);
  EXPECT_TRUE(cache.notePod(PodFacts{"a-uid", "n", "Pending"}, false));  // bound there: confirmed
  EXPECT_EQ(cache.assumedPods(), 0u);
  EXPECT_EQ(cache.usage("n").requested.at("cpu"), 3000);

  // Bound elsewhere, or never seen: its requests are needed, and nothing changes meanwhile.
  EXPECT_FALSE(cache.notePod(PodFacts{"a-uid", "m", ""}, false));
  EXPECT_FALSE(cache.notePod(PodFacts{"b-uid", "m", ""}, false));
  EXPECT_EQ(cache.usage("n").pods, 1);
  EXPECT_EQ(cache.usage("m").pods, 0);
  Pod b = simplePod("b", "1");
  b.mutable_spec()->set_node_name("m");
  cache.upsertPod(b);
  EXPECT_EQ(cache.usage("m").requested.at("cpu"), 1000);

  EXPECT_TRUE(cache.notePod(PodFacts{"a-uid", "n", "Failed"}, false));  // finished: room freed
  EXPECT_EQ(cache.usage("n").pods, 0);
  EXPECT_TRUE(cache.notePod(PodFacts{"b-uid", "", ""}, /*deleted=*/true));
  EXPECT_EQ(cache.usage("m").pods, 0);
  EXPECT_TRUE(cache.assume(simplePod("c", "4"), "m").ok());
}

}  // namespace
}  // namespace kbinder::host
