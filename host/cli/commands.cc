// SPDX-License-Identifier: Apache-2.0
#include "host/cli/commands.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "host/base/allocator.h"
#include "host/base/logging.h"
#include "host/base/sha256.h"
#include "host/cli/run_command.h"
#include "host/cli/serve_command.h"
#include "host/plugin/loaded_profile.h"
#include "host/plugin/plugin_library.h"
#include "host/plugin/profile.h"

namespace kbinder::host {
namespace fs = std::filesystem;

namespace {

int profileCheck(const std::string& file, const std::vector<std::string>& plugin_dirs,
                 std::ostream& out, std::ostream& err) {
  auto profile = parseProfile(file);
  if (!profile.ok()) {
    err << "kbinder: " << profile.status().message() << "\n";
    return kExitFailed;
  }
  ProfileLoadOptions options;
  for (const auto& dir : plugin_dirs) options.extra_plugin_dirs.emplace_back(fs::absolute(dir));
  auto loaded = LoadedProfile::load(std::move(profile).value(), options);
  if (!loaded.ok()) {
    err << "kbinder: " << loaded.status().message() << "\n";
    return kExitFailed;
  }
  out << (*loaded)->describe() << "\nprofile OK\n";
  return kExitOk;
}

int pluginInspect(const std::string& file, std::ostream& out, std::ostream& err) {
  std::error_code ec;
  const fs::path path = fs::absolute(file, ec).lexically_normal();
  auto library = PluginLibrary::open(path);
  if (!library.ok()) {
    err << "kbinder: " << library.status().message() << "\n";
    return kExitFailed;
  }
  const PluginLibrary& lib = **library;
  std::string implemented, missing;
  for (ExtensionPoint point : kAllExtensionPoints) {
    std::string& list = lib.implements(point) ? implemented : missing;
    list += (list.empty() ? "" : ", ") + std::string(extensionPointName(point));
  }
  auto digest = sha256File(path);
  out << "plugin:       " << lib.name() << "\n"
      << "version:      " << (lib.version().empty() ? "(none)" : lib.version()) << "\n";
  if (!lib.description().empty()) out << "description:  " << lib.description() << "\n";
  out << "file:         " << path.string() << "\n"
      << "sha256:       " << (digest.ok() ? *digest : digest.status().message()) << "\n"
      << "ABI:          " << lib.abiMajor() << "." << lib.abiMinor()
      << " (this host: " << KBINDER_ABI_VERSION_MAJOR << "." << KBINDER_ABI_VERSION_MINOR << ")\n"
      << "concurrency:  " << concurrencyName(lib.concurrency()) << "\n"
      << "hooks:        " << (implemented.empty() ? "(none)" : implemented) << "\n"
      << "not present:  " << (missing.empty() ? "(none)" : missing) << "\n";
  return kExitOk;
}

}  // namespace

int runCommandLine(int argc, char** argv, std::ostream& out, std::ostream& err) {
  CLI::App app{"kbinder: carries out a scheduler's binding decisions through plugins", "kbinder"};
  app.set_version_flag("--version", std::string(KBINDER_VERSION) + " (plugin ABI " +
                                        std::to_string(KBINDER_ABI_VERSION_MAJOR) + "." +
                                        std::to_string(KBINDER_ABI_VERSION_MINOR) + ", allocator " +
                                        allocatorName() + ")");
  app.require_subcommand(1);
  std::string log_level = "warn";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();

  int result = kExitOk;

  auto* profile = app.add_subcommand("profile", "Work with profiles (TOML files choosing plugins)");
  profile->require_subcommand(1);
  auto* check = profile->add_subcommand(
      "check", "Load every plugin of a profile and print the resolved plan; exit 1 on any error");
  std::string profile_file;
  std::vector<std::string> plugin_dirs;
  check->add_option("FILE", profile_file, "The profile (.toml)")->required();
  check->add_option("--plugin-dir", plugin_dirs,
                    "Also search this directory for plugin libraries (repeatable; searched after "
                    "the profile's own directories, before the built-in plugins)");
  check->callback([&] { result = profileCheck(profile_file, plugin_dirs, out, err); });

  auto* plugin = app.add_subcommand("plugin", "Work with plugin libraries (.so)");
  plugin->require_subcommand(1);
  auto* inspect = plugin->add_subcommand(
      "inspect", "Load a plugin library and print what it is and which hooks it implements");
  std::string plugin_file;
  inspect->add_option("FILE", plugin_file, "The plugin library (.so)")->required();
  inspect->callback([&] { result = pluginInspect(plugin_file, out, err); });

  auto* run = app.add_subcommand(
      "run",
      "Rehearse a cluster snapshot offline: run every pending BindRequest through a "
      "profile on the embedded store and show what the binder would do");
  RunOptions run_options;
  bool no_volume_controller = false;
  run->add_option("--profile", run_options.profile, "The profile (.toml)")->required();
  run->add_option("--cluster", run_options.cluster,
                  "The snapshot: YAML or JSON manifests, as `kubectl get -o yaml` prints them")
      ->required();
  run->add_option("--out", run_options.out,
                  "Write the final state of every object here, in the snapshot's form");
  run->add_option("--plugin-dir", run_options.plugin_dirs,
                  "Also search this directory for plugin libraries (repeatable)");
  run->add_flag("--strict", run_options.strict, "Exit 3 if any request failed");
  run->add_flag("--no-volume-controller", no_volume_controller,
                "Do not play the PersistentVolume controller: nothing completes volume binds");
  run->callback([&] {
    run_options.volume_controller = !no_volume_controller;
    run_options.progress = ::isatty(STDERR_FILENO) != 0;
    result = runRehearsal(run_options, out, err);
  });

  auto* serve = app.add_subcommand(
      "serve",
      "Bind for a real cluster through the Kubernetes API until stopped (SIGTERM); "
      "SIGHUP reloads the profile");
  ServeOptions serve_options;
  double lease_duration = 15, renew_deadline = 10, retry_period = 2, grace = 30;
  std::string log_format = "text";
  serve->add_option("--profile", serve_options.profile, "The profile (.toml)")->required();
  serve->add_option("--plugin-dir", serve_options.plugin_dirs,
                    "Also search this directory for plugin libraries (repeatable)");
  serve->add_option("--kubeconfig", serve_options.kubeconfig,
                    "A kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster)");
  serve->add_option("--context", serve_options.context,
                    "The kubeconfig context (default: current)");
  serve->add_option("--namespace", serve_options.namespace_,
                    "Bind only the BindRequests of this namespace (default: all)");
  serve
      ->add_option("--listen-address", serve_options.listen_address,
                   "Where to serve /healthz, /readyz and /metrics")
      ->capture_default_str();
  serve->add_option("--qps", serve_options.qps,
                    "API requests per second (overrides the profile's [api])");
  serve->add_option("--burst", serve_options.burst,
                    "API request burst (overrides the profile's [api])");
  serve->add_option("--max-in-flight", serve_options.max_in_flight,
                    "API requests open at once (overrides the profile's [api])");
  serve->add_flag("--leader-elect", serve_options.leader_elect,
                  "Bind only while holding the Lease (run several replicas for availability)");
  serve->add_option("--lease-namespace", serve_options.lease_namespace,
                    "The Lease's namespace (default: the context's or the pod's namespace)");
  serve->add_option("--lease-name", serve_options.lease_name, "The Lease's name")
      ->capture_default_str();
  serve->add_option("--identity", serve_options.identity,
                    "This replica's name in the Lease (default: host name and process id)");
  serve
      ->add_option("--lease-duration-seconds", lease_duration,
                   "How long a standby waits without seeing a renewal before it takes over")
      ->capture_default_str();
  serve
      ->add_option("--renew-deadline-seconds", renew_deadline,
                   "How long the leader may fail to renew before it stops binding")
      ->capture_default_str();
  serve
      ->add_option("--retry-period-seconds", retry_period,
                   "How often the leader renews and a standby tries")
      ->capture_default_str();
  serve
      ->add_option("--shutdown-grace-seconds", grace,
                   "How long cycles in flight may take to finish after SIGTERM")
      ->capture_default_str();
  serve->add_option("--log-format", log_format, "text or json")->capture_default_str();
  serve->callback([&] {
    auto ms = [](double seconds) {
      return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
    };
    serve_options.lease_duration = ms(lease_duration);
    serve_options.renew_deadline = ms(renew_deadline);
    serve_options.retry_period = ms(retry_period);
    serve_options.shutdown_grace = ms(grace);
    if (!(retry_period > 0 && renew_deadline > retry_period && lease_duration > renew_deadline)) {
      throw CLI::ValidationError("--lease-duration-seconds",
                                 "need lease duration > renew deadline > retry period > 0");
    }
    if (Status s = configureLogFormat(log_format); !s.ok()) {
      throw CLI::ValidationError("--log-format", s.message());
    }
    result = runServe(serve_options, out, err);
  });

  app.parse_complete_callback([&] {
    if (Status s = configureLogging(log_level); !s.ok()) {
      throw CLI::ValidationError("--log-level", s.message());
    }
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::CallForVersion& e) {
    out << e.what() << "\n";
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    app.exit(e, out, err);
    return kExitUsage;
  }
  return result;
}

}  // namespace kbinder::host
