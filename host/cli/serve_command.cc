// SPDX-License-Identifier: Apache-2.0
#include "host/cli/serve_command.h"

#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <mutex>
#include <thread>

#include "host/base/logging.h"
#include "host/base/metrics.h"
#include "host/cli/commands.h"
#include "host/cli/http_endpoint.h"
#include "host/cycle/controller.h"
#include "host/kube/kube_backend.h"
#include "host/kube/leader_election.h"
#include "host/plugin/loaded_profile.h"

namespace kbinder::host {
namespace {

namespace fs = std::filesystem;

StatusOr<std::shared_ptr<const LoadedProfile>> loadProfile(const ServeOptions& options) {
  auto profile = parseProfile(options.profile);
  if (!profile.ok()) return profile.status();
  ProfileLoadOptions load;
  for (const auto& dir : options.plugin_dirs)
    load.extra_plugin_dirs.emplace_back(fs::absolute(dir));
  auto loaded = LoadedProfile::load(std::move(profile).value(), load);
  if (!loaded.ok()) return loaded.status();
  return std::shared_ptr<const LoadedProfile>(std::move(loaded).value());
}

// What the signal thread and the lease's renewer tell the main loop.
struct Events {
  std::mutex mutex;
  std::condition_variable changed;
  bool terminate = false;
  bool reload = false;
  bool lost = false;
};

}  // namespace

int runServe(const ServeOptions& options, std::ostream&, std::ostream& err) {
  auto fail = [&](const Status& s) {
    err << "kbinder: " << s.message() << "\n";
    return kExitFailed;
  };
  // Signals are taken by one thread with sigwait, so block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto profile = loadProfile(options);
  if (!profile.ok()) return fail(profile.status());
  auto config = resolveKubeConfig(options.kubeconfig, options.context);
  if (!config.ok()) return fail(config.status());
  const ApiSettings& api = (*profile)->profile().api;
  KubeClientOptions client_options;
  client_options.qps = options.qps >= 0 ? options.qps : api.qps;
  client_options.burst = options.burst >= 0 ? options.burst : api.burst;
  client_options.max_in_flight =
      options.max_in_flight >= 0 ? options.max_in_flight : api.max_in_flight;
  client_options.request_timeout = api.request_timeout;
  auto client = KubeClient::create(*config, client_options);
  if (!client.ok()) return fail(client.status());
  KubeClient* kube = client->get();
  KubernetesBackend::Options backend_options;
  backend_options.namespace_ = options.namespace_;
  KubernetesBackend backend(std::move(client).value(), backend_options);

  Metrics metrics;
  std::mutex controller_mutex;
  std::unique_ptr<Controller> controller;  // guarded by controller_mutex; null while not leading
  std::atomic<bool> leading{false}, synced{false};
  metrics.addGauge("kbinder_queue_depth", "Requests waiting for a worker.", [&] {
    std::lock_guard lock(controller_mutex);
    return std::vector<std::pair<Metrics::Labels, double>>{
        {{}, controller ? static_cast<double>(controller->queueDepth()) : 0.0}};
  });
  metrics.addGauge("kbinder_cycles_in_flight", "Binding cycles running now.", [&] {
    std::lock_guard lock(controller_mutex);
    return std::vector<std::pair<Metrics::Labels, double>>{
        {{}, controller ? static_cast<double>(controller->cyclesInFlight()) : 0.0}};
  });
  metrics.addGauge("kbinder_assumed_pods", "Pods assumed onto nodes, not yet seen bound.", [&] {
    std::lock_guard lock(controller_mutex);
    return std::vector<std::pair<Metrics::Labels, double>>{
        {{}, controller ? static_cast<double>(controller->assumedPods()) : 0.0}};
  });
  metrics.addGauge("kbinder_leader", "1 while this replica leads (or runs without election).", [&] {
    return std::vector<std::pair<Metrics::Labels, double>>{{{}, leading ? 1.0 : 0.0}};
  });
  metrics.addCounter(
      "kbinder_api_requests_total", "Requests to the API server, by verb and code.", [&] {
        std::vector<std::pair<Metrics::Labels, double>> rows;
        for (const auto& [key, n] : kube->requestCounts()) {
          const size_t space = key.find(' ');
          rows.push_back({{{"verb", key.substr(0, space)}, {"code", key.substr(space + 1)}},
                          static_cast<double>(n)});
        }
        return rows;
      });

  auto endpoint =
      HttpEndpoint::start(options.listen_address, [&](const std::string& path) -> HttpAnswer {
        if (path == "/healthz") return {200, "text/plain; charset=utf-8", "ok\n"};
        if (path == "/readyz") {
          return synced ? HttpAnswer{200, "text/plain; charset=utf-8", "ok\n"}
                        : HttpAnswer{503, "text/plain; charset=utf-8", "caches not synced yet\n"};
        }
        if (path == "/metrics")
          return {200, "text/plain; version=0.0.4; charset=utf-8", metrics.render()};
        return {404, "text/plain; charset=utf-8", "not found\n"};
      });
  if (!endpoint.ok()) return fail(endpoint.status());
  err << "kbinder: serving /healthz, /readyz and /metrics on port " << (*endpoint)->port()
      << "; API server " << config->server << " (" << config->source << ")" << std::endl;

  Events events;
  std::atomic<bool> signal_thread_done{false};
  std::thread signal_thread([&] {
    while (true) {
      int signal = 0;
      if (sigwait(&signals, &signal) != 0) continue;
      std::lock_guard lock(events.mutex);
      if (signal == SIGHUP) {
        events.reload = true;
      } else {
        events.terminate = true;
      }
      events.changed.notify_all();
      if (signal != SIGHUP) {
        signal_thread_done = true;
        return;
      }
    }
  });
  auto finish = [&](int code) {
    // The signal thread waits for a signal to end: send it one if none came.
    // sigwait() takes the signal; nothing is terminated by it.
    if (!signal_thread_done) {
      pthread_kill(signal_thread.native_handle(),  // NOLINT(bugprone-bad-signal-to-kill-thread)
                   SIGTERM);
    }
    signal_thread.join();
    backend.stop();
    return code;
  };

  if (Status s = backend.startCaches(std::chrono::seconds(60)); !s.ok()) {
    err << "kbinder: " << s.message() << "\n";
    return finish(kExitFailed);
  }
  synced = true;

  std::unique_ptr<LeaderElector> elector;
  if (options.leader_elect) {
    LeaderElectionOptions election;
    election.namespace_ =
        options.lease_namespace.empty() ? config->namespace_ : options.lease_namespace;
    election.name = options.lease_name;
    election.identity = options.identity;
    election.lease_duration = options.lease_duration;
    election.renew_deadline = options.renew_deadline;
    election.retry_period = options.retry_period;
    elector = std::make_unique<LeaderElector>(backend, election);
  }

  std::atomic<bool> stop_acquiring{false};
  std::thread terminate_watch([&] {  // ends acquire() when a SIGTERM comes while waiting
    std::unique_lock lock(events.mutex);
    events.changed.wait(lock, [&] { return events.terminate; });
    stop_acquiring = true;
  });
  auto current = std::move(profile).value();
  int code = kExitOk;
  while (true) {
    if (elector && !elector->acquire(stop_acquiring)) break;  // terminated while waiting
    ControllerOptions controller_options;
    controller_options.namespace_ = options.namespace_;
    controller_options.reporting_instance = elector ? elector->identity() : "kbinder";
    controller_options.metrics = &metrics;
    {
      std::lock_guard lock(controller_mutex);
      controller = std::make_unique<Controller>(current, backend, controller_options);
    }
    if (Status s = controller->start(); !s.ok()) {
      err << "kbinder: " << s.message() << "\n";
      code = kExitFailed;
      break;
    }
    leading = true;
    if (elector) {
      elector->keepRenewing([&] {
        std::lock_guard lock(events.mutex);
        events.lost = true;
        events.changed.notify_all();
      });
    }
    hostLogger().info("binding with profile \"{}\"", current->profile().name);
    bool terminate = false;
    while (true) {
      std::unique_lock lock(events.mutex);
      events.changed.wait(lock, [&] { return events.terminate || events.reload || events.lost; });
      if (events.lost) {
        events.lost = false;
        lock.unlock();
        leading = false;
        controller->drain(std::chrono::milliseconds(0));  // no new cycles from this replica
        hostLogger().error("lost the lease: stopped binding; waiting to lead again");
        break;
      }
      if (events.terminate) {
        terminate = true;
        break;
      }
      events.reload = false;
      lock.unlock();
      auto reloaded = loadProfile(options);
      if (!reloaded.ok()) {
        hostLogger().error("SIGHUP: keeping profile \"{}\": {}", current->profile().name,
                           reloaded.status().message());
        continue;
      }
      current = std::move(reloaded).value();
      controller->replaceProfile(current);
      hostLogger().warn("SIGHUP: now binding with profile \"{}\" ({})", current->profile().name,
                        current->profile().path.string());
    }
    if (terminate) {
      hostLogger().warn(
          "terminating: finishing the cycles in flight (grace {} s)",
          std::chrono::duration_cast<std::chrono::seconds>(options.shutdown_grace).count());
      controller->drain(options.shutdown_grace);
      leading = false;
      if (elector) elector->release();
      break;
    }
    std::lock_guard lock(controller_mutex);
    controller.reset();
  }
  {
    std::lock_guard lock(controller_mutex);
    if (controller) controller->stop();
    controller.reset();
  }
  {
    std::lock_guard lock(events.mutex);
    events.terminate = true;
    events.changed.notify_all();
  }
  terminate_watch.join();
  return finish(code);
}

}  // namespace kbinder::host
