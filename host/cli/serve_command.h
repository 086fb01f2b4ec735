// SPDX-License-Identifier: Apache-2.0
// `kbinder serve`: binds for a real cluster through the Kubernetes API until stopped.
//
// Serves /healthz, /readyz and /metrics. SIGTERM (or SIGINT) stops taking requests, gives the
// cycles in flight the grace period to finish (then cancels them, and they roll back),
// releases the lease and exits 0. SIGHUP loads the profile again: the new one takes over only
// once fully loaded; cycles in flight finish on the old one; a bad profile is logged and the old
// one keeps running.
#pragma once

#include <chrono>
#include <ostream>
#include <string>
#include <vector>

namespace kbinder::host {

struct ServeOptions {
  std::string profile;
  std::vector<std::string> plugin_dirs;
  std::string kubeconfig, context;
  std::string namespace_;  // BindRequests of one namespace; empty: all
  std::string listen_address = ":8080";
  // Overrides of the profile's [api] settings; negative: keep the profile's.
  double qps = -1;
  int burst = -1;
  int max_in_flight = -1;
  bool leader_elect = false;
  std::string lease_namespace;  // default: the kubeconfig context's (or the pod's) namespace
  std::string lease_name = "kbinder";
  std::string identity;
  std::chrono::milliseconds lease_duration{15000}, renew_deadline{10000}, retry_period{2000};
  std::chrono::milliseconds shutdown_grace{30000};
};

int runServe(const ServeOptions& options, std::ostream& out, std::ostream& err);

}  // namespace kbinder::host
