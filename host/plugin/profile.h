// SPDX-License-Identifier: Apache-2.0
// Profiles: which plugins run, in which order, with which arguments, and the cycle's settings.
// A profile is a TOML file (see config/profiles/ and the README for the format).
//
// Parsing checks everything that can be checked without loading plugins; every error carries
// "FILE:LINE:COLUMN" and says how to fix it. Thread-safety: a Profile is a value.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "host/base/status.h"
#include "kbinder/v1/plugin.pb.h"

namespace kbinder::host {

struct SourcePosition {
  uint32_t line = 0;
  uint32_t column = 0;
};

struct PluginSpec {
  std::string name;     // the plugin's name, as its descriptor reports it
  std::string library;  // a file name searched for, or a path (relative to the profile)
  bool enabled = true;
  std::string sha256;  // lowercase hex pin, or empty
  // This plugin's hook deadline, in place of [cycle] hook_timeout_seconds (e.g. for a PreBind
  // that waits on the cluster).
  std::optional<std::chrono::milliseconds> hook_timeout;
  kbinder::v1::ValueMap args;
  SourcePosition position;  // of the [[plugins]] entry
};

struct CycleSettings {
  int workers = 16;
  std::chrono::milliseconds backoff_base{1000};
  std::chrono::milliseconds backoff_cap{300000};
  double backoff_jitter = 0.1;  // each delay is scaled by a random factor in [1-j, 1+j]
  int default_backoff_limit = 5;
  std::chrono::milliseconds hook_timeout{30000};
  std::chrono::milliseconds permit_max_wait{300000};
  // Annotations Mutate only sets are written with the Binding (one write, guarded by the pod's
  // resourceVersion as the patch would be); false: patched at once, before Reserve, as labels.
  bool annotations_with_binding = true;
};

// How `kbinder serve` talks to the API server (command-line flags override these).
struct ApiSettings {
  double qps = 50;  // sustained requests per second
  int burst = 100;
  int max_in_flight = 64;
  std::chrono::milliseconds request_timeout{30000};
};

struct Profile {
  std::filesystem::path path;  // absolute
  std::string name;
  std::string description;
  std::vector<std::filesystem::path> plugin_dirs;  // absolute, in the order listed
  bool allow_insecure_permissions = false;
  CycleSettings cycle;
  ApiSettings api;
  std::vector<PluginSpec> plugins;  // in profile order, disabled ones included

  // "PATH:LINE:COLUMN" for messages about the profile.
  std::string where(const SourcePosition& position) const;
};

StatusOr<Profile> parseProfile(const std::filesystem::path& path);
// Parses TOML text; `path` is used for messages and relative paths only.
StatusOr<Profile> parseProfileText(std::string_view text, const std::filesystem::path& path);

}  // namespace kbinder::host
