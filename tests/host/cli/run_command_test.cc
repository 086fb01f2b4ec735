// SPDX-License-Identifier: Apache-2.0
// `kbinder run` end to end with the built-in plugins: what a failed cycle leaves behind in the
// cluster's final state, with and without the embedded PersistentVolume controller.
#include "host/cli/run_command.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "cluster_support.h"
#include "host/model/manifest.h"
#include "host/model/objects.h"

namespace kbinder::testing {
namespace {

using host::Json;

const std::string kCluster = R"(apiVersion: v1
kind: Node
metadata: {name: gpu-1, labels: {kubernetes.io/hostname: gpu-1}}
status:
  allocatable: {cpu: "16", memory: 64Gi, pods: "110", nvidia.com/gpu: "4"}
  conditions: [{type: Ready, status: "True"}]
---
)" + storageClassesYaml() +
                             R"(apiVersion: v1
kind: PersistentVolume
metadata: {name: disk-a}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: local
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [gpu-1]}]
status: {phase: Available}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: ml}
spec: {accessModes: [ReadWriteOnce], storageClassName: local, resources: {requests: {storage: 5Gi}}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: scratch, namespace: ml}
spec: {accessModes: [ReadWriteOnce], storageClassName: fast, resources: {requests: {storage: 1Gi}}}
---
apiVersion: resource.k8s.io/v1
kind: ResourceClaim
metadata: {name: nic, namespace: ml}
spec: {devices: {requests: [{name: nic, exactly: {deviceClassName: rdma.example.com}}]}}
---
apiVersion: v1
kind: Pod
metadata: {name: job, namespace: ml, labels: {app: job}, annotations: {gpu-fraction: "0.5"}}
spec:
  resourceClaims: [{name: nic, resourceClaimName: nic}]
  containers: [{name: c, image: busybox}]
  volumes:
  - {name: data, persistentVolumeClaim: {claimName: data}}
  - {name: scratch, persistentVolumeClaim: {claimName: scratch}}
---
apiVersion: scheduling.run.ai/v1alpha2
kind: BindRequest
metadata: {name: job, namespace: ml}
spec:
  podName: job
  selectedNode: gpu-1
  receivedResourceType: Fraction
  receivedGPU: {count: 1, portion: "0.50"}
  selectedGPUGroups: [grp]
  backoffLimit: 1
  resourceClaimAllocations:
  - name: nic
    allocation: {devices: {results: [{request: nic, driver: rdma.example.com, pool: gpu-1, device: nic-0}]}}
)";

class RunTest : public ::testing::Test {
 protected:
  // Runs the cluster above through the built-ins plus `extra` (TOML) and returns the exit code.
  int run(const std::string& extra, bool volume_controller, const std::string& volume_args = "",
          const std::string& cluster = kCluster) {
    const auto profile = writeFile(
        dir_.path() / "profile.toml",
        "name = \"e2e\"\n[cycle]\nbackoff_base_seconds = 0.01\n"
        "[[plugins]]\nname = \"gpuvalidator\"\n"
        "[[plugins]]\nname = \"volumebinding\"\nhook_timeout_seconds = 30\n[plugins.args]\n" +
            volume_args + "\n[[plugins]]\nname = \"dra\"\n" + extra);
    host::RunOptions options;
    options.profile = profile.string();
    options.cluster = writeFile(dir_.path() / "cluster.yaml", cluster).string();
    options.out = (dir_.path() / "final.yaml").string();
    options.plugin_dirs = {KBINDER_TEST_PLUGIN_DIR};
    options.volume_controller = volume_controller;
    std::ostringstream out, err;
    const int code = host::runRehearsal(options, out, err);
    output_ = out.str() + err.str();
    std::ifstream in(options.out);
    std::stringstream text;
    text << in.rdbuf();
    auto manifest = host::parseManifest(text.str(), "final.yaml");
    EXPECT_TRUE(manifest.ok()) << output_;
    if (manifest.ok()) {
      for (const auto& o : manifest->objects) {
        objects_[o["kind"].get<std::string>() + "/" + host::rawString(o, {"metadata", "name"})] = o;
      }
    }
    return code;
  }
  const Json& object(const std::string& key) { return objects_[key]; }

  TempDir dir_;
  std::string output_;
  std::map<std::string, Json> objects_;
};

TEST_F(RunTest, EveryPluginDoesItsJob) {
  ASSERT_EQ(run("", true), 0) << output_;
  EXPECT_NE(output_.find("1 requests: 1 succeeded"), std::string::npos) << output_;
  const Json& pod = object("Pod/job");
  EXPECT_EQ(pod["spec"]["nodeName"], "gpu-1");
  EXPECT_EQ(pod["metadata"]["labels"]["runai-gpu-group"], "grp");
  EXPECT_EQ(pod["metadata"]["annotations"]["received-resource-type"], "Fraction");
  EXPECT_EQ(object("PersistentVolumeClaim/data")["spec"]["volumeName"], "disk-a");
  EXPECT_EQ(host::rawString(object("PersistentVolumeClaim/scratch"),
                            {"metadata", "annotations", "volume.kubernetes.io/selected-node"}),
            "gpu-1");
  const Json& claim = object("ResourceClaim/nic");
  EXPECT_EQ(claim["status"]["allocation"]["devices"]["results"][0]["device"], "nic-0");
  EXPECT_EQ(claim["status"]["reservedFor"][0]["name"], "job");
}

// A pod whose only claim comes from an ephemeral volume, asking for no GPU: volumebinding finds
// the claim (it looks into the pod's bytes before decoding them) and gpuvalidator passes the
// node without reading it.
TEST_F(RunTest, AnEphemeralVolumesClaimIsBoundForAPlainPod) {
  const std::string cluster = kCluster + R"(---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: web-cache, namespace: ml}
spec: {accessModes: [ReadWriteOnce], storageClassName: fast, resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: ml}
spec:
  containers: [{name: c, image: busybox}]
  volumes:
  - {name: token, projected: {sources: []}}
  - name: cache
    ephemeral: {volumeClaimTemplate: {spec: {storageClassName: fast, resources: {requests: {storage: 1Gi}}}}}
---
apiVersion: scheduling.run.ai/v1alpha2
kind: BindRequest
metadata: {name: web, namespace: ml}
spec: {podName: web, selectedNode: gpu-1, backoffLimit: 1}
)";
  ASSERT_EQ(run("", true, "", cluster), 0) << output_;
  EXPECT_NE(output_.find("2 requests: 2 succeeded"), std::string::npos) << output_;
  EXPECT_EQ(object("Pod/web")["spec"]["nodeName"], "gpu-1");
  EXPECT_EQ(host::rawString(object("PersistentVolumeClaim/web-cache"),
                            {"metadata", "annotations", "volume.kubernetes.io/selected-node"}),
            "gpu-1");
  EXPECT_EQ(object("Pod/web")["metadata"]["annotations"]["received-resource-type"], "Regular");
}

TEST_F(RunTest, WithoutTheVolumeControllerBindingTimesOutAndReleasesWhatItTook) {
  ASSERT_EQ(run("", false, "bind_timeout_seconds = 0.5"), 0) << output_;
  EXPECT_NE(output_.find("pre_bind volumebinding: Error: timed out after 0.5s (bind_timeout) "
                         "waiting for claims in ml to be bound: data, scratch"),
            std::string::npos)
      << output_;
  const Json& pv = object("PersistentVolume/disk-a");
  EXPECT_FALSE(pv["spec"].contains("claimRef")) << pv.dump();
  EXPECT_FALSE(pv["metadata"].contains("annotations") &&
               pv["metadata"]["annotations"].contains("pv.kubernetes.io/bound-by-controller"));
  const Json& scratch = object("PersistentVolumeClaim/scratch");
  EXPECT_FALSE(scratch["metadata"].contains("annotations") &&
               scratch["metadata"]["annotations"].contains("volume.kubernetes.io/selected-node"))
      << scratch.dump();
  // dra's PreBind never ran (volumebinding's came first): the claim is untouched.
  EXPECT_FALSE(object("ResourceClaim/nic").contains("status"));
  // Mutate's label was taken back.
  EXPECT_FALSE(object("Pod/job")["metadata"]["labels"].contains("runai-gpu-group"));
  EXPECT_EQ(object("Pod/job")["metadata"]["labels"]["app"], "job");
}

TEST_F(RunTest, FailureInALaterPluginAtPermitLeavesEverythingAsBefore) {
  const std::string later =
      "[[plugins]]\nname = \"rec-a\"\nlibrary = \"rec_a.so\"\n"
      "[plugins.args]\nfail_at = \"permit\"\n";
  ASSERT_EQ(run(later, true), 0) << output_;
  EXPECT_NE(output_.find("permit rec-a: Error: rec-a fails permit as configured"),
            std::string::npos)
      << output_;
  EXPECT_FALSE(object("PersistentVolume/disk-a")["spec"].contains("claimRef"));
  EXPECT_EQ(object("PersistentVolume/disk-a")["status"]["phase"], "Available");
  EXPECT_FALSE(object("PersistentVolumeClaim/data")["spec"].contains("volumeName"));
  EXPECT_FALSE(object("ResourceClaim/nic").contains("status"));
  const Json& labels = object("Pod/job")["metadata"]["labels"];
  EXPECT_EQ(labels, Json::parse(R"({"app": "job"})"));
  EXPECT_FALSE(object("Pod/job")["metadata"]["annotations"].contains("received-resource-type"));
  EXPECT_FALSE(object("Pod/job")["spec"].contains("nodeName"));
}

TEST_F(RunTest, FailureAtBindTakesBackClaimsAndLabels) {
  const std::string later =
      "[[plugins]]\nname = \"rec-a\"\nlibrary = \"rec_a.so\"\n"
      "[plugins.args]\nfail_at = \"bind\"\n";
  ASSERT_EQ(run(later, true), 0) << output_;
  EXPECT_NE(output_.find("bind rec-a: Error: rec-a fails bind as configured"), std::string::npos)
      << output_;
  // dra wrote the allocation and the reservation; both are gone again.
  const Json& claim = object("ResourceClaim/nic");
  EXPECT_FALSE(claim.contains("status") && claim["status"].contains("allocation")) << claim.dump();
  EXPECT_FALSE(claim.contains("status") && claim["status"].contains("reservedFor") &&
               !claim["status"]["reservedFor"].empty());
  EXPECT_EQ(object("Pod/job")["metadata"]["labels"], Json::parse(R"({"app": "job"})"));
  EXPECT_FALSE(object("Pod/job")["spec"].contains("nodeName"));
  // The volume controller completed the binds during PreBind: a bound claim stays bound to its
  // volume (as in Kubernetes, where the controller would bind it again), pinning the pod's next
  // attempt to a node that volume admits.
  EXPECT_EQ(object("PersistentVolumeClaim/data")["spec"]["volumeName"], "disk-a");
}

}  // namespace
}  // namespace kbinder::testing
