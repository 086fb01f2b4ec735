// SPDX-License-Identifier: Apache-2.0
// kbinder-bench: the load generator. Builds a synthetic cluster (see synthetic_cluster.h), runs
// every BindRequest through the full binding cycle with the controller, and reports binds per
// second, cycle latency, the host's share of cycle time and peak resident memory.
//
//   kbinder-bench [--nodes N] [--pods M] [--profile FILE|empty] [--workers W[,W...]]
//                 [--backend embedded|apiserver] [--latency-ms L] [--qps Q]
//
// On the embedded store it also times loading the snapshot and writing the final state back.
// Against the API server it starts build/bin/kbinder-test-apiserver on 127.0.0.1 (HTTPS, with
// the latency injected into every request) for each worker count, and reports API calls per
// bind and the ratio of the throughput to the API bound, workers / (calls per bind x latency).
// The snapshot is generated in a child process, so the peak memory reported is what loading
// and binding took, not what generating took.
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "host/base/logging.h"
#include "host/base/metrics.h"
#include "host/cycle/controller.h"
#include "host/kube/kube_backend.h"
#include "host/kube/kube_client.h"
#include "host/kube/kube_config.h"
#include "host/model/manifest.h"
#include "host/plugin/loaded_profile.h"
#include "host/plugin/profile.h"
#include "host/store/embedded_store.h"
#include "host/store/volume_controller.h"
#include "synthetic_cluster.h"

extern char** environ;

namespace kbinder::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using host::Status;
using host::StatusOr;

struct Options {
  size_t nodes = 5000;
  size_t pods = 50000;
  std::string profile = KBINDER_BENCH_DEFAULT_PROFILE;
  std::vector<int> workers;  // empty: the profile's
  std::string backend = "embedded";
  int latency_ms = 5;
  double qps = 0;  // API client's limit; <= 0: none
  std::string format = "yaml";
  std::string apiserver;  // the test API server program
};

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

template <class... Args>
void printLine(std::ostream& out, const char* format, Args... args) {
  char line[512];
  std::snprintf(line, sizeof line, format, args...);
  out << line;
}

void printBinds(std::ostream& out, size_t succeeded, size_t failed, double elapsed) {
  printLine(out, "  binds           %zu succeeded, %zu not, in %.2f s: %.0f binds/s\n", succeeded,
            failed, elapsed, static_cast<double>(succeeded) / elapsed);
}

// CPU time the process used so far (user + system), in seconds.
double cpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// Resident memory now, from /proc/self/statm (pages).
double rssMiB() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) /
         (1024.0 * 1024.0);
}

double peakRssMiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

// What the controller's workers record: every cycle's duration and outcome, exactly (the
// Prometheus histograms of host::Metrics keep only buckets), and the time spent in plugin hooks.
class CycleLog final : public host::MetricsRecorder {
 public:
  void requestFinished(const std::string&) override {}
  void attempt(const std::string& outcome, std::chrono::nanoseconds duration) override {
    std::lock_guard lock(mutex_);
    durations_.push_back(duration.count());
    total_ += duration;
    outcomes_[outcome]++;
  }
  void pluginCall(const std::string&, const std::string&, const std::string&,
                  std::chrono::nanoseconds duration) override {
    plugin_nanoseconds_.fetch_add(duration.count(), std::memory_order_relaxed);
  }
  void print(std::ostream& out) {
    std::lock_guard lock(mutex_);
    if (durations_.empty()) {
      out << "  cycles          none ran\n";
      return;
    }
    std::sort(durations_.begin(), durations_.end());
    auto at = [&](double q) {
      const size_t i = std::min(durations_.size() - 1, static_cast<size_t>(q * durations_.size()));
      return static_cast<double>(durations_[i]) / 1e6;
    };
    printLine(out, "  cycles          %zu: p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
              durations_.size(), at(0.50), at(0.99), static_cast<double>(durations_.back()) / 1e6);
    const double total = static_cast<double>(total_.count());
    const double host_share =
        total > 0 ? 1.0 - static_cast<double>(plugin_nanoseconds_.load()) / total : 0;
    printLine(out,
              "  host share      %.1f %% of cycle time (plugin hooks %.1f %%, counting the host "
              "services they call)\n",
              100.0 * host_share, 100.0 * (1.0 - host_share));
    out << "  outcomes        ";
    bool first = true;
    for (const auto& [outcome, n] : outcomes_) {
      out << (first ? "" : ", ") << n << " " << outcome;
      first = false;
    }
    out << "\n";
  }

 private:
  std::mutex mutex_;
  std::vector<int64_t> durations_;
  std::chrono::nanoseconds total_{0};
  std::atomic<int64_t> plugin_nanoseconds_{0};  // in hooks, by every worker
  std::map<std::string, size_t> outcomes_;
};

StatusOr<std::string> readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return host::notFound("cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Status writeFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.flush();
  if (!out) return host::invalidArgument("cannot write " + path.string());
  return host::okStatus();
}

// Generates the cluster and writes it to `path` in a child process; returns the pod mix.
StatusOr<PodMix> writeSyntheticSnapshot(const Options& options, const fs::path& path) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return host::internalError("pipe failed");
  const pid_t child = fork();
  if (child < 0) return host::internalError("fork failed");
  if (child == 0) {
    close(pipe_fds[0]);
    PodMix mix;
    host::Manifest manifest = syntheticCluster({options.nodes, options.pods, 50}, &mix);
    manifest.format =
        options.format == "json" ? host::ManifestFormat::kJson : host::ManifestFormat::kYaml;
    manifest.as_list = manifest.format == host::ManifestFormat::kJson;
    const bool ok =
        !manifest.objects.empty() && writeFile(path, host::writeManifest(manifest)).ok();
    if (ok) (void)!write(pipe_fds[1], &mix, sizeof mix);
    _exit(ok ? 0 : 1);
  }
  close(pipe_fds[1]);
  PodMix mix;
  const ssize_t got = read(pipe_fds[0], &mix, sizeof mix);
  close(pipe_fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  if (got != static_cast<ssize_t>(sizeof mix) || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return host::invalidArgument("generating the synthetic cluster into " + path.string() +
                                 " failed");
  }
  return mix;
}

StatusOr<std::shared_ptr<const host::LoadedProfile>> loadProfile(const Options& options,
                                                                 int workers,
                                                                 const fs::path& scratch) {
  StatusOr<host::Profile> profile = host::invalidArgument("");
  if (options.profile == "empty") {
    profile = host::parseProfileText(
        "name = \"empty\"\ndescription = \"no plugins: the host alone\"\n", scratch / "empty.toml");
  } else {
    profile = host::parseProfile(options.profile);
  }
  if (!profile.ok()) return profile.status();
  if (workers > 0) profile->cycle.workers = workers;
  auto loaded = host::LoadedProfile::load(std::move(profile).value(), {});
  if (!loaded.ok()) return loaded.status();
  return std::shared_ptr<const host::LoadedProfile>(std::move(loaded).value());
}

// Prints the requests that did not succeed (a few) and returns how many succeeded.
size_t summarize(const host::Controller& controller, std::ostream& out, size_t* failed) {
  size_t succeeded = 0;
  std::vector<std::string> failures;
  for (const auto& r : controller.records()) {
    if (r.phase == "Succeeded") {
      ++succeeded;
    } else if (failures.size() < 5) {
      failures.push_back(r.namespace_ + "/" + r.name + ": " + r.phase + ": " + r.reason);
    }
  }
  *failed = controller.records().size() - succeeded;
  for (const auto& f : failures) out << "  NOT SUCCEEDED   " << f << "\n";
  return succeeded;
}

int runEmbedded(const Options& options, const fs::path& snapshot, int workers,
                const fs::path& scratch, std::ostream& out) {
  auto profile = loadProfile(options, workers, scratch);
  if (!profile.ok()) {
    std::cerr << "kbinder-bench: " << profile.status().message() << "\n";
    return 1;
  }
  const auto load_started = Clock::now();
  auto text = readFile(snapshot);
  if (!text.ok()) return std::cerr << "kbinder-bench: " << text.status().message() << "\n", 1;
  const size_t snapshot_bytes = text->size();
  auto manifest = host::parseManifest(*text, snapshot.string());
  if (!manifest.ok())
    return std::cerr << "kbinder-bench: " << manifest.status().message() << "\n", 1;
  text->clear();
  text->shrink_to_fit();
  const auto parsed = Clock::now();
  auto store = host::EmbeddedStore::load(std::move(manifest).value(),
                                         host::EmbeddedStore::Options{.raw_watches = false});
  if (!store.ok()) return std::cerr << "kbinder-bench: " << store.status().message() << "\n", 1;
  const auto stored = Clock::now();

  out << "embedded store, profile " << (*profile)->profile().name << " ("
      << (*profile)->plugins().size() << " plugins), " << (*profile)->profile().cycle.workers
      << " workers\n";
  printLine(
      out,
      "  snapshot load   %.2f s (%.0f MB: read and parsed %.2f s, stored %.2f s; RSS %.0f MiB)\n",
      seconds(stored - load_started), static_cast<double>(snapshot_bytes) / 1e6,
      seconds(parsed - load_started), seconds(stored - parsed), rssMiB());

  CycleLog log;
  host::ControllerOptions controller_options;
  controller_options.metrics = &log;
  host::VolumeController volumes(**store);
  volumes.start();
  host::Controller controller(*profile, **store, controller_options);
  const double cpu_started = cpuSeconds();
  const auto started = Clock::now();
  if (Status s = controller.start(); !s.ok()) {
    std::cerr << "kbinder-bench: " << s.message() << "\n";
    return 1;
  }
  const auto synced = Clock::now();
  controller.waitUntilSettled({}, std::chrono::milliseconds(50));
  const auto settled = Clock::now();
  const double cpu_used = cpuSeconds() - cpu_started;
  controller.stop();
  volumes.stop();

  size_t failed = 0;
  const size_t succeeded = summarize(controller, out, &failed);
  const double elapsed = seconds(settled - started);
  printLine(out, "  informer sync   %.2f s (listing BindRequests, pods and nodes)\n",
            seconds(synced - started));
  printBinds(out, succeeded, failed, elapsed);
  printLine(out, "  CPU             %.1f s over %.1f s: %.0f us per bind, %.2f of %u cores busy\n",
            cpu_used, elapsed, 1e6 * cpu_used / static_cast<double>(std::max<size_t>(1, succeeded)),
            cpu_used / elapsed, std::thread::hardware_concurrency());
  log.print(out);
  printLine(
      out,
      "  peak RSS        %.0f MiB (the process, snapshot load included; %.0f MiB at the end)\n",
      peakRssMiB(), rssMiB());

  const auto write_started = Clock::now();
  const fs::path written = scratch / ("final." + options.format);
  {
    std::ofstream file(written, std::ios::binary | std::ios::trunc);
    const Status s = (*store)->writeSnapshot(file);
    file.flush();
    if (!s.ok())
      return std::cerr << "kbinder-bench: writing " << written << ": " << s.message() << "\n", 1;
    if (!file) return std::cerr << "kbinder-bench: cannot write " << written << "\n", 1;
  }
  printLine(out, "  snapshot write  %.2f s (%.0f MB, the final state written back)\n",
            seconds(Clock::now() - write_started),
            static_cast<double>(fs::file_size(written)) / 1e6);
  return failed == 0 ? 0 : 3;
}

// The test API server as a child process.
class ApiServerProcess {
 public:
  ~ApiServerProcess() { stop(); }

  Status start(const Options& options, const fs::path& snapshot, const fs::path& dir) {
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) return host::internalError("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
    const std::string latency = std::to_string(options.latency_ms);
    std::vector<std::string> args = {
        options.apiserver, "--snapshot", snapshot.string(), "--dir", dir.string(),
        "--latency-ms",    latency};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc =
        posix_spawn(&pid_, options.apiserver.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(pipe_fds[1]);
    if (rc != 0) {
      close(pipe_fds[0]);
      pid_ = -1;
      return host::notFound("cannot start the test API server " + options.apiserver + ": " +
                            std::strerror(rc) +
                            "; build it (KBINDER_BUILD_TESTS=ON) or pass --apiserver");
    }
    // Wait for its "ready <url>" line (loading a large snapshot takes a while).
    std::string seen;
    const auto deadline = Clock::now() + std::chrono::minutes(5);
    while (seen.find('\n') == std::string::npos && Clock::now() < deadline) {
      pollfd p{pipe_fds[0], POLLIN, 0};
      if (poll(&p, 1, 1000) <= 0) continue;
      char buffer[256];
      const ssize_t n = read(pipe_fds[0], buffer, sizeof buffer);
      if (n <= 0) break;
      seen.append(buffer, static_cast<size_t>(n));
    }
    close(pipe_fds[0]);
    if (seen.rfind("ready ", 0) != 0) {
      stop();
      return host::internalError("the test API server did not get ready (it printed: " + seen +
                                 ")");
    }
    return host::okStatus();
  }

  // CPU time the server has used so far (user + system), from /proc.
  double cpuSeconds() const {
    std::ifstream stat("/proc/" + std::to_string(pid_) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const size_t end_of_name = text.rfind(')');
    if (pid_ <= 0 || end_of_name == std::string::npos) return 0;
    std::istringstream fields(text.substr(end_of_name + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {  // fields 14 and 15: utime, stime
      if (i == 14) utime = std::stod(field);
      if (i == 15) stime = std::stod(field);
    }
    return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }

  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

int runApiServer(const Options& options, const fs::path& snapshot, int workers,
                 const fs::path& scratch, std::ostream& out) {
  auto profile = loadProfile(options, workers, scratch);
  if (!profile.ok()) return std::cerr << "kbinder-bench: " << profile.status().message() << "\n", 1;
  const int worker_count = (*profile)->profile().cycle.workers;
  const fs::path dir = scratch / ("apiserver-" + std::to_string(worker_count));
  fs::create_directories(dir);
  ApiServerProcess server;
  if (Status s = server.start(options, snapshot, dir); !s.ok()) {
    return std::cerr << "kbinder-bench: " << s.message() << "\n", 1;
  }
  auto config = host::resolveKubeConfig((dir / "kubeconfig").string(), "");
  if (!config.ok()) return std::cerr << "kbinder-bench: " << config.status().message() << "\n", 1;
  host::KubeClientOptions client_options;
  client_options.qps = options.qps;
  client_options.burst = std::max(100, static_cast<int>(options.qps));
  client_options.max_in_flight = std::max(64, worker_count + 8);
  auto client = host::KubeClient::create(*config, client_options);
  if (!client.ok()) return std::cerr << "kbinder-bench: " << client.status().message() << "\n", 1;
  host::KubeClient* kube = client->get();
  host::KubernetesBackend backend(std::move(client).value(), {});

  out << "test API server over HTTPS, " << options.latency_ms << " ms per request, "
      << (options.qps > 0 ? "QPS limit " + std::to_string(static_cast<int>(options.qps))
                          : "no QPS limit")
      << "; profile " << (*profile)->profile().name << " (" << (*profile)->plugins().size()
      << " plugins), " << worker_count << " workers\n";
  CycleLog log;
  host::ControllerOptions controller_options;
  controller_options.metrics = &log;
  const auto started = Clock::now();
  if (Status s = backend.startCaches(std::chrono::minutes(5)); !s.ok()) {
    return std::cerr << "kbinder-bench: " << s.message() << "\n", 1;
  }
  const auto cached = Clock::now();
  const auto before = kube->requestCounts();
  host::Controller controller(*profile, backend, controller_options);
  const double cpu_started = cpuSeconds();
  const double server_cpu_started = server.cpuSeconds();
  const auto controller_started = Clock::now();
  if (Status s = controller.start(); !s.ok())
    return std::cerr << "kbinder-bench: " << s.message() << "\n", 1;
  const auto synced = Clock::now();
  controller.waitUntilSettled({}, std::chrono::milliseconds(50));
  const auto settled = Clock::now();
  const auto after = kube->requestCounts();
  const double cpu_used = cpuSeconds() - cpu_started;
  const double server_cpu_used = server.cpuSeconds() - server_cpu_started;
  controller.stop();
  backend.stop();
  server.stop();

  size_t failed = 0;
  const size_t succeeded = summarize(controller, out, &failed);
  const double elapsed = seconds(settled - controller_started);
  printLine(out, "  cache sync      %.2f s; informer sync %.2f s\n", seconds(cached - started),
            seconds(synced - controller_started));
  printBinds(out, succeeded, failed, elapsed);
  std::map<std::string, long> calls;  // by verb, during the run
  long all_calls = 0;
  for (const auto& [key, n] : after) {
    const auto b = before.find(key);
    const long d = n - (b == before.end() ? 0 : b->second);
    if (d == 0) continue;
    calls[key] += d;
    all_calls += d;
  }
  const double per_bind =
      succeeded > 0 ? static_cast<double>(all_calls) / static_cast<double>(succeeded) : 0;
  out << "  API calls       " << all_calls << " (";
  bool first = true;
  for (const auto& [key, n] : calls) {
    printLine(out, "%s%s %.2f", first ? "" : ", ", key.c_str(),
              static_cast<double>(n) / std::max<double>(1, static_cast<double>(succeeded)));
    first = false;
  }
  out << " per bind)\n";
  const double binds = static_cast<double>(std::max<size_t>(1, succeeded));
  printLine(out,
            "  CPU             kbinder %.1f s (%.0f us per bind), API server %.1f s (%.0f us per "
            "bind), over %.1f s on %u cores\n",
            cpu_used, 1e6 * cpu_used / binds, server_cpu_used, 1e6 * server_cpu_used / binds,
            elapsed, std::thread::hardware_concurrency());
  if (per_bind > 0 && options.latency_ms > 0) {
    const double bound = worker_count / (per_bind * options.latency_ms / 1000.0);
    printLine(
        out,
        "  API bound       %d workers / (%.2f calls x %d ms) = %.0f binds/s; reached %.0f %%\n",
        worker_count, per_bind, options.latency_ms, bound,
        100.0 * static_cast<double>(succeeded) / elapsed / bound);
  }
  log.print(out);
  printLine(out,
            "  peak RSS        %.0f MiB (kbinder's side; the API server runs in its own process)\n",
            peakRssMiB());
  return failed == 0 ? 0 : 3;
}

}  // namespace

int benchMain(int argc, char** argv) {
  CLI::App app{
      "kbinder-bench: binds a synthetic cluster through the full cycle and reports how fast",
      "kbinder-bench"};
  Options options;
  const fs::path self = fs::read_symlink("/proc/self/exe");
  options.apiserver = (self.parent_path() / "kbinder-test-apiserver").string();
  app.add_option("--nodes", options.nodes, "Nodes in the synthetic cluster (one in ten has GPUs)")
      ->check(CLI::Range(2, 1000000))
      ->capture_default_str();
  app.add_option("--pods", options.pods, "Pods, each with a BindRequest")
      ->check(CLI::Range(1, 10000000))
      ->capture_default_str();
  app.add_option("--profile", options.profile, "The profile (.toml), or `empty` for the host alone")
      ->capture_default_str();
  app.add_option("--workers", options.workers,
                 "Binding cycles at once (default: the profile's); a list runs once per count")
      ->delimiter(',')
      ->check(CLI::Range(1, 4096));
  app.add_option("--backend", options.backend,
                 "embedded, or apiserver (the test API server over HTTPS)")
      ->check(CLI::IsMember({"embedded", "apiserver"}))
      ->capture_default_str();
  app.add_option("--latency-ms", options.latency_ms, "apiserver: latency added to every request")
      ->check(CLI::Range(0, 10000))
      ->capture_default_str();
  app.add_option("--qps", options.qps, "apiserver: the client's QPS limit; 0 for none")
      ->check(CLI::Range(0.0, 1e9))
      ->capture_default_str();
  app.add_option("--format", options.format, "The snapshot's form: yaml or json")
      ->check(CLI::IsMember({"yaml", "json"}))
      ->capture_default_str();
  app.add_option("--apiserver", options.apiserver, "apiserver: the test API server program")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  (void)host::configureLogging("warn");

  std::error_code ec;
  const fs::path scratch =
      fs::temp_directory_path() / ("kbinder-bench-" + std::to_string(getpid()));
  fs::create_directories(scratch, ec);
  if (ec) {
    std::cerr << "kbinder-bench: cannot create " << scratch << ": " << ec.message() << "\n";
    return 1;
  }
  const fs::path snapshot = scratch / ("cluster." + options.format);
  auto mix = writeSyntheticSnapshot(options, snapshot);
  if (!mix.ok()) {
    std::cerr << "kbinder-bench: " << mix.status().message() << "\n";
    fs::remove_all(scratch, ec);
    return 1;
  }
  std::cout << "synthetic cluster: " << options.nodes << " nodes, " << options.pods << " pods ("
            << mix->plain << " plain, " << mix->provisioned << " with a volume to provision, "
            << mix->local_volume << " with a local volume to bind, " << mix->resource_claim
            << " with a resource claim, " << mix->fractional_gpu << " fractional-GPU, "
            << mix->whole_gpu << " whole-GPU)\n";

  std::vector<int> workers = options.workers.empty() ? std::vector<int>{0} : options.workers;
  int result = 0;
  for (int w : workers) {
    const int rc = options.backend == "embedded"
                       ? runEmbedded(options, snapshot, w, scratch, std::cout)
                       : runApiServer(options, snapshot, w, scratch, std::cout);
    result = std::max(result, rc);
    if (rc == 1) break;
  }
  fs::remove_all(scratch, ec);
  return result;
}

}  // namespace kbinder::bench

int main(int argc, char** argv) {
  return kbinder::bench::benchMain(argc, argv);
}
