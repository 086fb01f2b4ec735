// SPDX-License-Identifier: Apache-2.0
// What the plugin host costs: hooks called through the ABI (PluginInstance::invoke) against the
// same no-op hooks called directly, whole binding cycles on the embedded store with 0, 1, 3
// and 10 no-op plugins, and encoding and decoding a typical pod.
#include <benchmark/benchmark.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "host/cycle/assume_cache.h"
#include "host/cycle/framework.h"
#include "host/model/manifest.h"
#include "host/model/objects.h"
#include "host/plugin/call_context.h"
#include "host/plugin/loaded_profile.h"
#include "host/store/embedded_store.h"
#include "kbinder/sdk/wire.h"
#include "setup_failure.h"

extern "C" const kbinder_plugin_descriptor* kbinder_plugin_v1(const kbinder_host_services*,
                                                              const char**);

namespace {

using namespace kbinder::host;

constexpr ExtensionPoint kCyclePoints[] = {ExtensionPoint::kValidate, ExtensionPoint::kMutate,
                                           ExtensionPoint::kReserve,  ExtensionPoint::kPermit,
                                           ExtensionPoint::kPreBind,  ExtensionPoint::kBind,
                                           ExtensionPoint::kPostBind};

const char* kPod = R"({"apiVersion": "v1", "kind": "Pod",
 "metadata": {"name": "web-7d4b9c", "namespace": "ml", "uid": "6f1c2a3e-0000-4000-8000-000000000001",
   "labels": {"app": "web", "pod-template-hash": "7d4b9c"},
   "annotations": {"kubernetes.io/created-by": "deployment"}},
 "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27",
   "resources": {"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
   "ports": [{"containerPort": 80}], "env": [{"name": "A", "value": "1"}]}],
   "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
     "effect": "NoExecute", "tolerationSeconds": 300}],
   "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "web-data"}}]},
 "status": {"phase": "Pending"}})";

std::filesystem::path profileWith(int plugins) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("kbinder-bench-" + std::to_string(plugins));
  std::filesystem::create_directories(dir);
  std::ofstream out(dir / "profile.toml");
  out << "name = \"bench\"\nplugin_dirs = [\"" << KBINDER_BENCH_PLUGIN_DIR << "\"]\n"
      << "[cycle]\nworkers = 1\n";
  for (int i = 0; i < plugins; ++i) {
    out << "[[plugins]]\nname = \"noop-" << i << "\"\nlibrary = \"noop_" << i << ".so\"\n";
  }
  return dir / "profile.toml";
}

std::unique_ptr<LoadedProfile> load(int plugins) {
  auto profile = parseProfile(profileWith(plugins));
  if (!profile.ok()) kbinder::bench::failSetup(profile.status().message());
  auto loaded = LoadedProfile::load(std::move(profile).value());
  if (!loaded.ok()) kbinder::bench::failSetup(loaded.status().message());
  return std::move(loaded).value();
}

// One plugin's hooks for a cycle, through the host's guarded invoke.
void BM_HooksThroughAbi(benchmark::State& state) {
  const auto profile = load(1);
  PluginInstance& plugin = *profile->plugins().front();
  const std::string bytes =
      objectFromJson(Kind::kPod, Json::parse(kPod))->pod().SerializeAsString();
  kbinder_cycle cycle{};
  cycle.struct_size = sizeof cycle;
  cycle.pod = {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()};
  CallEnvironment env;
  for (auto _ : state) {
    void* slot = nullptr;
    for (ExtensionPoint point : kCyclePoints) {
      benchmark::DoNotOptimize(plugin.invoke(point, cycle, &slot, env));
    }
  }
  state.SetItemsProcessed(state.iterations() * 7);
}
BENCHMARK(BM_HooksThroughAbi);

// The same no-op hooks, linked in and called directly.
void BM_HooksDirect(benchmark::State& state) {
  const kbinder_plugin_descriptor* d = kbinder_plugin_v1(nullptr, nullptr);
  const kbinder_hook_fn hooks[] = {d->validate, d->mutate, d->reserve,  d->permit,
                                   d->pre_bind, d->bind,   d->post_bind};
  kbinder_cycle cycle{};
  kbinder_call call;
  for (auto _ : state) {
    void* slot = nullptr;
    for (kbinder_hook_fn hook : hooks)
      benchmark::DoNotOptimize(hook(nullptr, &call, &cycle, &slot));
  }
  state.SetItemsProcessed(state.iterations() * 7);
}
BENCHMARK(BM_HooksDirect);

// A store with one roomy node and `pods` pending pods, and a BindRequest for each.
// `pods` pods waiting to be bound, with a BindRequest each, spread over nodes 100 to a node as
// in a cluster (a node's pods are what the store's index on spec.nodeName holds per node).
struct CycleFixture {
  static constexpr int kPodsPerNode = 100;
  std::unique_ptr<EmbeddedStore> store;
  AssumeCache cache;
  std::vector<kbinder::v1::BindRequest> requests;

  explicit CycleFixture(int pods) {
    Manifest manifest;
    const int nodes = std::max(1, pods / kPodsPerNode);
    std::vector<Json> node_objects;
    for (int n = 0; n < nodes; ++n) {
      Json node = Json::parse(R"({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"},
          "status": {"allocatable": {"cpu": "1000", "memory": "1Ti", "pods": "110"},
                     "conditions": [{"type": "Ready", "status": "True"}]}})");
      node["metadata"]["name"] = "n" + std::to_string(n);
      manifest.objects.push_back(node);
      node_objects.push_back(std::move(node));
    }
    const Json pod = Json::parse(kPod);
    for (int i = 0; i < pods; ++i) {
      Json p = pod;
      p["metadata"]["name"] = "p" + std::to_string(i);
      p["metadata"]["uid"] = "uid-" + std::to_string(i);
      p["spec"].erase("volumes");
      manifest.objects.push_back(std::move(p));
      kbinder::v1::BindRequest r;
      r.mutable_metadata()->set_namespace_("ml");
      r.mutable_metadata()->set_name("r" + std::to_string(i));
      r.mutable_spec()->set_pod_name("p" + std::to_string(i));
      r.mutable_spec()->set_selected_node("n" + std::to_string(i % nodes));
      requests.push_back(std::move(r));
    }
    store = std::move(EmbeddedStore::load(std::move(manifest),
                                          EmbeddedStore::Options{.raw_watches = false}))
                .value();
    for (const Json& node : node_objects)
      cache.upsertNode(objectFromJson(Kind::kNode, node)->node());
  }
};

// Whole cycles (load, validate, mutate, assume, reserve, permit, pre-bind, bind, post-bind) on
// the embedded store, one new pod per cycle, with N no-op plugins.
void BM_CycleOnEmbeddedStore(benchmark::State& state) {
  const auto profile = load(static_cast<int>(state.range(0)));
  CycleFixture fixture(20000);
  Framework framework(*profile, *fixture.store, fixture.cache);
  size_t next = 0;
  for (auto _ : state) {
    if (next == fixture.requests.size()) {
      state.SkipWithError("ran out of pods; lower --benchmark_min_time");
      break;
    }
    CycleInput input;
    input.request = fixture.requests[next++];
    const CycleResult result = framework.run(input);
    if (result.outcome != CycleOutcome::kSucceeded) state.SkipWithError(result.reason.c_str());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_CycleOnEmbeddedStore)->Arg(0)->Arg(1)->Arg(3)->Arg(10)->Iterations(5000);

// The host alone (no plugins) on both cores: two threads running cycles on one framework,
// store and cache, as the controller's workers do. items_per_second is the sum over threads.
std::unique_ptr<CycleFixture> g_shared;
std::unique_ptr<Framework> g_framework;
std::shared_ptr<const LoadedProfile> g_empty_profile;
std::atomic<size_t> g_next{0};

void BM_HostAloneCyclesOnEveryCore(benchmark::State& state) {
  if (state.thread_index() == 0) {
    g_empty_profile = load(0);
    g_shared = std::make_unique<CycleFixture>(20000);
    g_framework = std::make_unique<Framework>(*g_empty_profile, *g_shared->store, g_shared->cache);
    g_next = 0;
  }
  for (auto _ : state) {  // the loop starts once every thread is here (thread 0 has set up)
    const size_t next = g_next++;
    if (next >= g_shared->requests.size()) {
      state.SkipWithError("ran out of pods; lower the iterations");
      break;
    }
    CycleInput input;
    input.request = g_shared->requests[next];
    const CycleResult result = g_framework->run(input);
    if (result.outcome != CycleOutcome::kSucceeded) state.SkipWithError(result.reason.c_str());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  if (state.thread_index() == 0) {  // every thread has left the loop
    g_framework.reset();
    g_shared.reset();
    g_empty_profile.reset();
  }
}
BENCHMARK(BM_HostAloneCyclesOnEveryCore)->Threads(2)->Iterations(5000)->UseRealTime();

void BM_EncodePod(benchmark::State& state) {
  const auto pod = objectFromJson(Kind::kPod, Json::parse(kPod))->pod();
  for (auto _ : state) benchmark::DoNotOptimize(pod.SerializeAsString());
}
BENCHMARK(BM_EncodePod);

void BM_DecodePod(benchmark::State& state) {
  const std::string bytes =
      objectFromJson(Kind::kPod, Json::parse(kPod))->pod().SerializeAsString();
  for (auto _ : state) {
    kbinder::v1::Pod pod;
    benchmark::DoNotOptimize(pod.ParseFromString(bytes));
  }
}
BENCHMARK(BM_DecodePod);

// The store's conversion of a raw object to the schema's subset (every write does one).
void BM_PodJsonToSubset(benchmark::State& state) {
  const Json raw = Json::parse(kPod);
  for (auto _ : state) benchmark::DoNotOptimize(objectFromJson(Kind::kPod, raw));
}
BENCHMARK(BM_PodJsonToSubset);

// An API server's answer, parsed as a JSON tree and converted (as the tree is read when the
// raw object is kept) ...
void BM_PodJsonTextParsedThenConverted(benchmark::State& state) {
  const std::string text = kPod;
  for (auto _ : state) benchmark::DoNotOptimize(objectFromJson(Kind::kPod, Json::parse(text)));
}
BENCHMARK(BM_PodJsonTextParsedThenConverted);

// ... and read straight from its text (answers and watch events in API mode).
void BM_PodJsonTextRead(benchmark::State& state) {
  const std::string text = kPod;
  for (auto _ : state) benchmark::DoNotOptimize(objectFromJsonText(Kind::kPod, text));
}
BENCHMARK(BM_PodJsonTextRead);

// Whether a pod's bytes hold spec.volumes[].persistentVolumeClaim, as volumebinding asks of
// every pod: the SDK's hand-written walk (kbinder/sdk/wire.h) against the same walk on
// protobuf's CodedInputStream. Arg 1: the pod has the claim (found early); 0: it has no
// volumes (every record is read).
const std::string& podBytes(bool with_claim) {
  static const std::string with =
      objectFromJson(Kind::kPod, Json::parse(kPod))->pod().SerializeAsString();
  static const std::string without = [] {
    Json p = Json::parse(kPod);
    p["spec"].erase("volumes");
    return objectFromJson(Kind::kPod, p)->pod().SerializeAsString();
  }();
  return with_claim ? with : without;
}
constexpr int kClaimPath[] = {kbinder::v1::Pod::kSpecFieldNumber,
                              kbinder::v1::PodSpec::kVolumesFieldNumber,
                              kbinder::v1::Volume::kPersistentVolumeClaimFieldNumber};

bool findCoded(google::protobuf::io::CodedInputStream& in, const int* path, size_t depth) {
  using google::protobuf::internal::WireFormatLite;
  while (true) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return false;
    if (WireFormatLite::GetTagFieldNumber(tag) != path[0]) {
      if (!WireFormatLite::SkipField(&in, tag)) return true;  // malformed: answer true, as the SDK
      continue;
    }
    if (depth == 1) return true;
    uint32_t length = 0;
    if (WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_LENGTH_DELIMITED ||
        !in.ReadVarint32(&length)) {
      return true;
    }
    const auto limit = in.PushLimit(static_cast<int>(length));
    if (findCoded(in, path + 1, depth - 1)) return true;
    in.PopLimit(limit);
  }
}

void BM_WirePresentSdk(benchmark::State& state) {
  const std::string& bytes = podBytes(state.range(0) != 0);
  for (auto _ : state) {
    benchmark::DoNotOptimize(kbinder::sdk::wire::present(
        bytes.data(), bytes.size(), {kClaimPath[0], kClaimPath[1], kClaimPath[2]}));
  }
}
BENCHMARK(BM_WirePresentSdk)->Arg(0)->Arg(1)->Iterations(200000);

void BM_WirePresentCodedInputStream(benchmark::State& state) {
  const std::string& bytes = podBytes(state.range(0) != 0);
  google::protobuf::io::CodedInputStream check(reinterpret_cast<const uint8_t*>(bytes.data()),
                                               static_cast<int>(bytes.size()));
  if (findCoded(check, kClaimPath, 3) != (state.range(0) != 0)) {
    state.SkipWithError("the CodedInputStream walk does not answer as the SDK's");
    return;
  }
  for (auto _ : state) {
    google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                              static_cast<int>(bytes.size()));
    benchmark::DoNotOptimize(findCoded(in, kClaimPath, 3));
  }
}
BENCHMARK(BM_WirePresentCodedInputStream)->Arg(0)->Arg(1)->Iterations(200000);

}  // namespace

BENCHMARK_MAIN();
