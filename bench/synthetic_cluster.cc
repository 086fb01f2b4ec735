// SPDX-License-Identifier: Apache-2.0
#include "synthetic_cluster.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace kbinder::bench {
namespace {

using host::Json;

std::string numbered(const char* prefix, size_t i, int width) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%s%0*zu", prefix, width, i);
  return buffer;
}

Json metadata(const std::string& name, const std::string& namespace_ = "") {
  Json meta = Json::object();
  meta["name"] = name;
  if (!namespace_.empty()) meta["namespace"] = namespace_;
  meta["creationTimestamp"] = "2026-11-23T08:00:00Z";
  return meta;
}

Json object(const char* api_version, const char* kind, Json meta) {
  Json o = Json::object();
  o["apiVersion"] = api_version;
  o["kind"] = kind;
  o["metadata"] = std::move(meta);
  return o;
}

Json node(const std::string& name, bool gpu, size_t pods_capacity, size_t gpus) {
  Json meta = metadata(name);
  meta["labels"] = {{"kubernetes.io/hostname", name},
                    {"kubernetes.io/os", "linux"},
                    {"node.kubernetes.io/instance-type", gpu ? "p4d.24xlarge" : "m6i.8xlarge"},
                    {"topology.kubernetes.io/zone", name.back() % 2 == 0 ? "zone-a" : "zone-b"}};
  Json n = object("v1", "Node", std::move(meta));
  if (gpu) {
    n["spec"] = {{"taints", Json::array({{{"key", "nvidia.com/gpu"},
                                          {"value", "present"},
                                          {"effect", "NoSchedule"}}})}};
  }
  Json allocatable = {{"cpu", "63500m"},
                      {"memory", "250Gi"},
                      {"ephemeral-storage", "900Gi"},
                      {"pods", std::to_string(pods_capacity)}};
  if (gpu) allocatable["nvidia.com/gpu"] = std::to_string(gpus);
  Json capacity = allocatable;
  capacity["cpu"] = "64";
  capacity["memory"] = "256Gi";
  n["status"] = {
      {"capacity", capacity},
      {"allocatable", allocatable},
      {"conditions",
       Json::array({{{"type", "Ready"}, {"status", "True"}, {"reason", "KubeletReady"}},
                    {{"type", "MemoryPressure"}, {"status", "False"}}})},
      {"nodeInfo",
       {{"kubeletVersion", "v1.34.1"}, {"containerRuntimeVersion", "containerd://2.1.4"}}}};
  return n;
}

Json storageClass(const char* name, const char* provisioner) {
  Json c = object("storage.k8s.io/v1", "StorageClass", metadata(name));
  c["provisioner"] = provisioner;
  c["volumeBindingMode"] = "WaitForFirstConsumer";
  c["reclaimPolicy"] = "Delete";
  return c;
}

Json claim(const std::string& name, const std::string& namespace_, const char* storage_class) {
  Json c = object("v1", "PersistentVolumeClaim", metadata(name, namespace_));
  c["spec"] = {{"accessModes", Json::array({"ReadWriteOnce"})},
               {"storageClassName", storage_class},
               {"resources", {{"requests", {{"storage", "10Gi"}}}}}};
  c["status"] = {{"phase", "Pending"}};
  return c;
}

Json localVolume(const std::string& name, const std::string& node_name) {
  Json v = object("v1", "PersistentVolume", metadata(name));
  v["spec"] = {{"capacity", {{"storage", "100Gi"}}},
               {"accessModes", Json::array({"ReadWriteOnce"})},
               {"storageClassName", "local-disks"},
               {"persistentVolumeReclaimPolicy", "Retain"},
               {"local", {{"path", "/mnt/disks/" + name}}},
               {"nodeAffinity",
                {{"required",
                  {{"nodeSelectorTerms",
                    Json::array({{{"matchExpressions",
                                   Json::array({{{"key", "kubernetes.io/hostname"},
                                                 {"operator", "In"},
                                                 {"values", Json::array({node_name})}}})}}})}}}}}};
  v["status"] = {{"phase", "Available"}};
  return v;
}

Json resourceClaim(const std::string& name, const std::string& namespace_) {
  Json c = object("resource.k8s.io/v1", "ResourceClaim", metadata(name, namespace_));
  c["spec"] = {
      {"devices",
       {{"requests", Json::array({{{"name", "nic"},
                                   {"exactly", {{"deviceClassName", "rdma.example.com"}}}}})}}}};
  return c;
}

// A pod as a Deployment would make it: labels, an owner, one container with probes and env.
Json pod(const std::string& name, const std::string& namespace_, const std::string& app) {
  Json meta = metadata(name, namespace_);
  meta["generateName"] = app + "-";
  meta["labels"] = {{"app", app}, {"pod-template-hash", "7d9f8b6c5d"}};
  meta["ownerReferences"] =
      Json::array({{{"apiVersion", "apps/v1"},
                    {"kind", "ReplicaSet"},
                    {"name", app + "-7d9f8b6c5d"},
                    {"uid", "0b5c8a2e-5d1f-4c7a-9e3b-" +
                                numbered("", std::hash<std::string>{}(app) % 1000000000000, 12)},
                    {"controller", true},
                    {"blockOwnerDeletion", true}}});
  Json p = object("v1", "Pod", std::move(meta));
  Json container = {
      {"name", "app"},
      {"image", "registry.example.com/" + app + ":1.4.2"},
      {"ports", Json::array({{{"containerPort", 8080}, {"name", "http"}, {"protocol", "TCP"}}})},
      {"env", Json::array({{{"name", "LOG_LEVEL"}, {"value", "info"}},
                           {{"name", "POD_NAME"},
                            {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}}})},
      {"resources",
       {{"requests", {{"cpu", "100m"}, {"memory", "128Mi"}}}, {"limits", {{"memory", "256Mi"}}}}},
      {"readinessProbe",
       {{"httpGet", {{"path", "/healthz"}, {"port", 8080}}}, {"periodSeconds", 10}}},
      {"volumeMounts", Json::array({{{"name", "kube-api-access"},
                                     {"mountPath", "/var/run/secrets/kubernetes.io/serviceaccount"},
                                     {"readOnly", true}}})}};
  p["spec"] = {
      {"containers", Json::array({container})},
      {"restartPolicy", "Always"},
      {"terminationGracePeriodSeconds", 30},
      {"serviceAccountName", "default"},
      {"schedulerName", "kai-scheduler"},
      {"tolerations", Json::array({{{"key", "node.kubernetes.io/not-ready"},
                                    {"operator", "Exists"},
                                    {"effect", "NoExecute"},
                                    {"tolerationSeconds", 300}}})},
      {"volumes",
       Json::array(
           {{{"name", "kube-api-access"},
             {"projected",
              {{"sources", Json::array({{{"serviceAccountToken", {{"path", "token"}}}}})}}}}})}};
  p["status"] = {{"phase", "Pending"}, {"qosClass", "Burstable"}};
  return p;
}

Json bindRequest(const std::string& name, const std::string& namespace_,
                 const std::string& node_name) {
  Json r = object("scheduling.run.ai/v1alpha2", "BindRequest", metadata(name, namespace_));
  r["spec"] = {{"podName", name}, {"selectedNode", node_name}, {"receivedResourceType", "Regular"}};
  return r;
}

}  // namespace

host::Manifest syntheticCluster(const ClusterShape& shape, PodMix* mix) {
  host::Manifest manifest;
  if (shape.nodes < 2 || shape.namespaces == 0) return manifest;
  const size_t gpu_nodes = std::max<size_t>(1, shape.nodes / 10);
  const size_t cpu_nodes = shape.nodes - gpu_nodes;
  // Room for every pod placed: pods per node (110 unless more are needed), GPUs for the
  // whole-GPU pods (8 per GPU node unless more are needed).
  const size_t tail = shape.pods % 100;
  const size_t whole_gpu_pods =
      shape.pods / 100 * 4 + std::min<size_t>(4, tail > 14 ? tail - 14 : 0);
  const size_t pods_capacity =
      std::max<size_t>(110, shape.pods / cpu_nodes + shape.pods * 8 / 100 / gpu_nodes + 10);
  const size_t gpus = std::max<size_t>(8, whole_gpu_pods / gpu_nodes + 1);

  auto& objects = manifest.objects;
  objects.reserve(shape.nodes + shape.namespaces + shape.pods * 2 + shape.pods / 10);
  std::vector<std::string> cpu_names, gpu_names;
  for (size_t i = 0; i < shape.nodes; ++i) {
    const bool gpu = i >= cpu_nodes;
    std::string name = gpu ? numbered("gpu-", i - cpu_nodes, 5) : numbered("cpu-", i, 5);
    objects.push_back(node(name, gpu, pods_capacity, gpus));
    (gpu ? gpu_names : cpu_names).push_back(std::move(name));
  }
  objects.push_back(storageClass("fast-ssd", "csi.example.com"));
  objects.push_back(storageClass("local-disks", "kubernetes.io/no-provisioner"));
  for (size_t n = 0; n < shape.namespaces; ++n) {
    objects.push_back(object("v1", "Namespace", metadata(numbered("team-", n, 2))));
  }

  PodMix counts;
  size_t next_cpu = 0, next_gpu = 0;
  std::vector<Json> requests;
  requests.reserve(shape.pods);
  for (size_t i = 0; i < shape.pods; ++i) {
    const size_t kind = i % 100;
    const bool gpu = kind >= 10 && kind < 18;
    const std::string& node_name =
        gpu ? gpu_names[next_gpu++ % gpu_names.size()] : cpu_names[next_cpu++ % cpu_names.size()];
    const std::string ns = numbered("team-", i % shape.namespaces, 2);
    const std::string app = numbered("svc-", (i / shape.namespaces) % 200, 3);
    const std::string name = app + numbered("-", i, 6);
    Json p = pod(name, ns, app);
    Json r = bindRequest(name, ns, node_name);
    // Looked up at each use: adding a key to an ordered_json object moves its members.
    auto spec = [&p]() -> Json& { return p["spec"]; };
    auto container = [&p]() -> Json& { return p["spec"]["containers"][0]; };
    if (kind < 6) {
      const bool local = kind >= 4;
      const std::string claim_name = name + "-data";
      objects.push_back(claim(claim_name, ns, local ? "local-disks" : "fast-ssd"));
      if (local) objects.push_back(localVolume(numbered("local-", i, 6), node_name));
      spec()["volumes"].push_back(
          {{"name", "data"}, {"persistentVolumeClaim", {{"claimName", claim_name}}}});
      container()["volumeMounts"].push_back({{"name", "data"}, {"mountPath", "/data"}});
      (local ? counts.local_volume : counts.provisioned)++;
    } else if (kind < 10) {
      const std::string claim_name = name + "-nic";
      objects.push_back(resourceClaim(claim_name, ns));
      spec()["resourceClaims"] =
          Json::array({{{"name", "nic"}, {"resourceClaimName", claim_name}}});
      container()["resources"]["claims"] = Json::array({{{"name", "nic"}}});
      r["spec"]["resourceClaimAllocations"] = Json::array(
          {{{"name", "nic"},
            {"allocation",
             {{"devices",
               {{"results", Json::array({{{"request", "nic"},
                                          {"driver", "rdma.example.com"},
                                          {"pool", node_name},
                                          {"device", numbered("nic-", i, 6)}}})}}},
              {"nodeSelector",
               {{"nodeSelectorTerms",
                 Json::array({{{"matchFields",
                                Json::array({{{"key", "metadata.name"},
                                              {"operator", "In"},
                                              {"values", Json::array({node_name})}}})}}})}}}}}}});
      counts.resource_claim++;
    } else if (gpu) {
      spec()["tolerations"].push_back(
          {{"key", "nvidia.com/gpu"}, {"operator", "Exists"}, {"effect", "NoSchedule"}});
      if (kind < 14) {
        p["metadata"]["annotations"] = {{"gpu-fraction", "0.5"}};
        r["spec"]["receivedResourceType"] = "Fraction";
        r["spec"]["receivedGPU"] = {{"count", 1}, {"portion", "0.50"}};
        r["spec"]["selectedGPUGroups"] = Json::array({numbered("group-", i, 6)});
        counts.fractional_gpu++;
      } else {
        container()["resources"]["limits"]["nvidia.com/gpu"] = 1;
        r["spec"]["receivedGPU"] = {{"count", 1}, {"portion", "1.00"}};
        counts.whole_gpu++;
      }
    } else {
      counts.plain++;
    }
    objects.push_back(std::move(p));
    requests.push_back(std::move(r));
  }
  for (auto& r : requests) objects.push_back(std::move(r));
  if (mix != nullptr) *mix = counts;
  return manifest;
}

}  // namespace kbinder::bench
