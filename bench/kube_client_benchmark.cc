// SPDX-License-Identifier: Apache-2.0
// What one request to the API server costs kbinder's side: KubeClient over HTTPS (keep-alive,
// a bearer token, the CA pinned) against the test API server in the same process. The time
// reported is the calling thread's CPU, which is the client's: the server answers on threads
// of its own.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <string>

#include "api_server.h"
#include "host/kube/kube_client.h"
#include "host/model/manifest.h"
#include "host/store/embedded_store.h"
#include "setup_failure.h"
#include "synthetic_cluster.h"

namespace kbinder {
namespace {

struct Served {
  Served() {
    // The load generator's cluster, small: its pod 18 is a plain pod as most pods there are.
    host::Manifest manifest =
        bench::syntheticCluster({.nodes = 2, .pods = 20, .namespaces = 1}, nullptr);
    for (const auto& object : manifest.objects) {
      if (object.value("kind", "") == "Pod" && pod_path.empty()) {
        const std::string name = host::rawString(object, {"metadata", "name"});
        if (name.size() > 2 && name.compare(name.size() - 2, 2, "18") == 0) {
          pod_path = "/api/v1/namespaces/" + host::rawString(object, {"metadata", "namespace"}) +
                     "/pods/" + name;
        }
      }
    }
    if (pod_path.empty()) bench::failSetup("the synthetic cluster has no pod 18");
    auto store = host::EmbeddedStore::load(std::move(manifest), {});
    if (!store.ok()) bench::failSetup(store.status().message());
    server = std::make_unique<testing::TestApiServer>(std::move(*store));
    host::KubeConfig config;
    config.source = "kube_client_benchmark";
    config.server = server->url();
    config.ca_pem = server->caPem();
    config.token = "test-token";
    host::KubeClientOptions options;
    options.qps = 0;  // no client-side rate limit: the request alone is measured
    auto made = host::KubeClient::create(std::move(config), options);
    if (!made.ok()) bench::failSetup(made.status().message());
    client = std::move(*made);
  }
  std::string pod_path;
  std::unique_ptr<testing::TestApiServer> server;
  std::unique_ptr<host::KubeClient> client;
};

Served& served() {
  static Served instance;
  return instance;
}

void checkOk(benchmark::State& state, const host::HttpResult& result) {
  if (result.status / 100 != 2) {
    state.SkipWithError(("HTTP " + std::to_string(result.status) + " " + result.error).c_str());
  }
}

void BM_GetPod(benchmark::State& state) {
  auto& client = *served().client;
  size_t answer = 0;
  for (auto _ : state) {
    auto result = client.request("GET", served().pod_path);
    checkOk(state, result);
    answer = result.body.size();
  }
  state.counters["answer_bytes"] = static_cast<double>(answer);
}
BENCHMARK(BM_GetPod);

void BM_PatchPodAnnotation(benchmark::State& state) {
  auto& client = *served().client;
  int64_t n = 0;
  size_t answer = 0;
  for (auto _ : state) {
    const std::string body =
        R"({"metadata":{"annotations":{"kbinder.io/bench":")" + std::to_string(++n) + "\"}}}";
    auto result = client.request("PATCH", served().pod_path, body, "application/merge-patch+json");
    checkOk(state, result);
    answer = result.body.size();
  }
  state.counters["answer_bytes"] = static_cast<double>(answer);
}
BENCHMARK(BM_PatchPodAnnotation);

}  // namespace
}  // namespace kbinder

BENCHMARK_MAIN();
