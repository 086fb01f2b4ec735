// SPDX-License-Identifier: Apache-2.0
// kbinder-test-apiserver: the test API server as a process, for end-to-end tests and for
// trying kubectl against it. Writes `kubeconfig` (and `url`) into --dir, prints "ready <url>",
// serves until SIGTERM or SIGINT.
#include <CLI/CLI.hpp>
#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>

#include "api_server.h"
#include "host/store/volume_controller.h"

namespace {
volatile std::sig_atomic_t g_stop = 0;
void onSignal(int) {
  g_stop = 1;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The kbinder test API server (HTTPS, for tests)", "kbinder-test-apiserver"};
  std::string snapshot, dir, token = "test-token";
  kbinder::testing::ApiFaults faults;
  int latency_ms = 0;
  std::vector<std::string> forbidden;
  bool no_volume_controller = false;
  app.add_option("--snapshot", snapshot, "Objects to start with (YAML or JSON manifests)");
  app.add_option("--dir", dir, "Where to write kubeconfig and url")->required();
  app.add_option("--token", token, "The bearer token accepted");
  app.add_option("--latency-ms", latency_ms, "Latency added to every request");
  app.add_option("--conflict-share", faults.conflict_share, "Share of writes answered 409");
  app.add_option("--throttle-share", faults.throttle_share, "Share of requests answered 429");
  app.add_option("--error-share", faults.error_share, "Share of requests answered 500");
  app.add_option("--drop-share", faults.drop_share, "Share of connections dropped");
  app.add_option("--cut-watch-after", faults.cut_watch_after,
                 "Cut watch streams mid-event after N");
  app.add_option("--garbled-share", faults.garbled_share,
                 "Share of answers that would succeed given as HTML instead (a broken proxy)");
  app.add_option("--forbid", forbidden, "A resource (plural) every request for is denied");
  app.add_flag("--no-volume-controller", no_volume_controller,
               "Do not play the PersistentVolume controller (kube-controller-manager's part)");
  CLI11_PARSE(app, argc, argv);
  faults.latency = std::chrono::milliseconds(latency_ms);

  kbinder::host::Manifest manifest;
  if (!snapshot.empty()) {
    std::ifstream in(snapshot);
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = kbinder::host::parseManifest(text.str(), snapshot);
    if (!parsed.ok()) {
      std::cerr << "kbinder-test-apiserver: " << parsed.status().message() << "\n";
      return 1;
    }
    manifest = std::move(parsed).value();
  }
  auto store = kbinder::host::EmbeddedStore::load(std::move(manifest));
  if (!store.ok()) {
    std::cerr << "kbinder-test-apiserver: " << store.status().message() << "\n";
    return 1;
  }
  kbinder::testing::TestApiServer::Options options;
  options.tokens = {token};
  options.forbidden = {forbidden.begin(), forbidden.end()};
  kbinder::testing::TestApiServer server(std::move(store).value(), options);
  server.setFaults(faults);
  kbinder::host::VolumeController volumes(server.store());
  if (!no_volume_controller) volumes.start();
  server.writeKubeconfig(dir);
  std::ofstream(std::filesystem::path(dir) / "url") << server.url() << "\n";
  std::ofstream(std::filesystem::path(dir) / "ca.crt") << server.caPem();
  std::signal(SIGTERM, onSignal);
  std::signal(SIGINT, onSignal);
  std::cout << "ready " << server.url() << std::endl;
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  volumes.stop();
  server.stop();
  return 0;
}
