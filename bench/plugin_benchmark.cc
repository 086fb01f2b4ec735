// SPDX-License-Identifier: Apache-2.0
// What each built-in plugin's hooks cost on typical objects: whole cycles on the embedded store
// with that plugin alone, through the ABI as kbinder runs it, and the time of each hook (from
// the metrics the framework records) as counters, in microseconds per call.
//
//   gpuvalidator   a fractional-GPU pod (validate, mutate writes its labels, pre_bind)
//   volumebinding  a pod whose claim is bound to a local volume on the node (reserve, pre_bind
//                  check it; nothing to wait for)
//   dra            a pod with a resource claim the scheduler allocated (reserve, pre_bind write
//                  the allocation and reservedFor)
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "host/base/metrics.h"
#include "host/cycle/assume_cache.h"
#include "host/cycle/framework.h"
#include "host/model/manifest.h"
#include "host/model/objects.h"
#include "host/plugin/loaded_profile.h"
#include "host/plugin/profile.h"
#include "host/store/embedded_store.h"
#include "setup_failure.h"

namespace kbinder::host {
namespace {

constexpr int kPods = 6000;

std::unique_ptr<LoadedProfile> loadPlugin(const std::string& plugin) {
  const auto dir = std::filesystem::temp_directory_path() / ("kbinder-bench-" + plugin);
  std::filesystem::create_directories(dir);
  {
    std::ofstream out(dir / "profile.toml");
    out << "name = \"bench-" << plugin << "\"\n[cycle]\nworkers = 1\n[[plugins]]\nname = \""
        << plugin << "\"\n";
  }
  auto profile = parseProfile(dir / "profile.toml");
  if (!profile.ok()) kbinder::bench::failSetup(profile.status().message());
  auto loaded = LoadedProfile::load(std::move(profile).value());
  if (!loaded.ok()) kbinder::bench::failSetup(loaded.status().message());
  return std::move(loaded).value();
}

Json parse(const std::string& text) {
  return Json::parse(text);
}

// The node, and for pod i its pod, BindRequest and whatever the plugin needs.
Manifest cluster(const std::string& plugin, std::vector<kbinder::v1::BindRequest>* requests) {
  Manifest m;
  m.objects.push_back(parse(R"({"apiVersion": "v1", "kind": "Node",
      "metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}},
      "status": {"allocatable": {"cpu": "100000", "memory": "100Ti", "pods": "1000000",
                                 "nvidia.com/gpu": "8"},
                 "conditions": [{"type": "Ready", "status": "True"}]}})"));
  if (plugin == "volumebinding") {
    m.objects.push_back(parse(R"({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "local"}, "provisioner": "kubernetes.io/no-provisioner",
        "volumeBindingMode": "WaitForFirstConsumer"})"));
  }
  for (int i = 0; i < kPods; ++i) {
    const std::string n = std::to_string(i);
    Json pod = parse(R"({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"namespace": "ml", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "app", "image": "registry.example.com/app:1.4.2",
                 "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]},
        "status": {"phase": "Pending"}})");
    pod["metadata"]["name"] = "p" + n;
    pod["metadata"]["uid"] = "uid-" + n;
    Json request = parse(R"({"apiVersion": "scheduling.run.ai/v1alpha2", "kind": "BindRequest",
        "metadata": {"namespace": "ml"},
        "spec": {"selectedNode": "n1", "receivedResourceType": "Regular"}})");
    request["metadata"]["name"] = "r" + n;
    request["spec"]["podName"] = "p" + n;
    if (plugin == "gpuvalidator") {
      pod["metadata"]["annotations"] = {{"gpu-fraction", "0.5"}};
      request["spec"]["receivedResourceType"] = "Fraction";
      request["spec"]["receivedGPU"] = {{"count", 1}, {"portion", "0.50"}};
      request["spec"]["selectedGPUGroups"] = Json::array({"group-" + n});
    } else if (plugin == "volumebinding") {
      Json pv = parse(R"({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {},
          "spec": {"capacity": {"storage": "100Gi"}, "accessModes": ["ReadWriteOnce"],
                   "storageClassName": "local", "local": {"path": "/mnt/disks/a"},
                   "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                     {"key": "kubernetes.io/hostname", "operator": "In", "values": ["n1"]}]}]}}},
          "status": {"phase": "Bound"}})");
      pv["metadata"]["name"] = "pv" + n;
      pv["spec"]["claimRef"] = {{"kind", "PersistentVolumeClaim"},
                                {"namespace", "ml"},
                                {"name", "data" + n},
                                {"uid", "claim-uid-" + n}};
      Json pvc = parse(R"({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
          "metadata": {"namespace": "ml",
                       "annotations": {"pv.kubernetes.io/bind-completed": "yes"}},
          "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local",
                   "resources": {"requests": {"storage": "10Gi"}}},
          "status": {"phase": "Bound"}})");
      pvc["metadata"]["name"] = "data" + n;
      pvc["metadata"]["uid"] = "claim-uid-" + n;
      pvc["spec"]["volumeName"] = "pv" + n;
      pod["spec"]["volumes"] =
          Json::array({{{"name", "data"}, {"persistentVolumeClaim", {{"claimName", "data" + n}}}}});
      m.objects.push_back(std::move(pv));
      m.objects.push_back(std::move(pvc));
    } else if (plugin == "dra") {
      Json claim = parse(R"({"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim",
          "metadata": {"namespace": "ml"},
          "spec": {"devices": {"requests": [{"name": "nic",
                   "exactly": {"deviceClassName": "rdma.example.com"}}]}}})");
      claim["metadata"]["name"] = "nic" + n;
      pod["spec"]["resourceClaims"] =
          Json::array({{{"name", "nic"}, {"resourceClaimName", "nic" + n}}});
      request["spec"]["resourceClaimAllocations"] =
          Json::array({{{"name", "nic"},
                        {"allocation",
                         {{"devices",
                           {{"results", Json::array({{{"request", "nic"},
                                                      {"driver", "rdma.example.com"},
                                                      {"pool", "n1"},
                                                      {"device", "nic-" + n}}})}}}}}}});
      m.objects.push_back(std::move(claim));
    }
    auto typed = objectFromJson(Kind::kBindRequest, request);
    if (!typed.ok()) kbinder::bench::failSetup(typed.status().message());
    requests->push_back(typed->bind_request());
    m.objects.push_back(std::move(pod));
    m.objects.push_back(std::move(request));
  }
  return m;
}

// Mean seconds per call of each of `plugin`'s hooks, from the metrics' histograms.
std::map<std::string, double> hookMeans(const Metrics& metrics, const std::string& plugin) {
  std::map<std::string, double> sums, counts;
  std::istringstream text(metrics.render());
  std::string line;
  const std::string family = "kbinder_plugin_duration_seconds_";
  while (std::getline(text, line)) {
    if (line.rfind(family, 0) != 0 || line.find("plugin=\"" + plugin + "\"") == std::string::npos) {
      continue;
    }
    const size_t at = line.find("point=\"");
    if (at == std::string::npos) continue;
    const std::string point = line.substr(at + 7, line.find('"', at + 7) - at - 7);
    const double value = std::stod(line.substr(line.rfind(' ') + 1));
    if (line.compare(family.size(), 4, "sum{") == 0) sums[point] += value;
    if (line.compare(family.size(), 6, "count{") == 0) counts[point] += value;
  }
  std::map<std::string, double> means;
  for (const auto& [point, sum] : sums) {
    if (counts[point] > 0) means[point] = sum / counts[point];
  }
  return means;
}

void BM_PluginHooks(benchmark::State& state, const std::string& plugin) {
  const auto profile = loadPlugin(plugin);
  std::vector<kbinder::v1::BindRequest> requests;
  auto store = std::move(EmbeddedStore::load(cluster(plugin, &requests),
                                             EmbeddedStore::Options{.raw_watches = false}))
                   .value();
  AssumeCache cache;
  kbinder::v1::GetRequest get;
  get.set_kind("Node");
  get.set_name("n1");
  cache.upsertNode(store->get(get)->node());
  Metrics metrics;
  Framework framework(*profile, *store, cache, &metrics);
  size_t next = 0;
  std::chrono::nanoseconds plugin_time{0};
  for (auto _ : state) {
    if (next == requests.size()) {
      state.SkipWithError("ran out of pods; lower the iterations");
      break;
    }
    CycleInput input;
    input.request = requests[next++];
    const CycleResult result = framework.run(input);
    if (result.outcome != CycleOutcome::kSucceeded) {
      state.SkipWithError(result.reason.c_str());
      break;
    }
    plugin_time += result.plugin_time;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["plugin_us_per_cycle"] =
      static_cast<double>(plugin_time.count()) / 1e3 / static_cast<double>(state.iterations());
  for (const auto& [point, seconds] : hookMeans(metrics, plugin)) {
    state.counters[point + "_us"] = seconds * 1e6;
  }
}
BENCHMARK_CAPTURE(BM_PluginHooks, gpuvalidator, std::string("gpuvalidator"))->Iterations(5000);
BENCHMARK_CAPTURE(BM_PluginHooks, volumebinding, std::string("volumebinding"))->Iterations(5000);
BENCHMARK_CAPTURE(BM_PluginHooks, dra, std::string("dra"))->Iterations(5000);

}  // namespace
}  // namespace kbinder::host

BENCHMARK_MAIN();
