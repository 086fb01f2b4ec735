// SPDX-License-Identifier: Apache-2.0
// A profile with every enabled plugin loaded and created: the plugins the binding cycle runs, and
// for each extension point which of them run, in which order.
//
// Thread-safety: immutable after load(); instances handle their own concurrency.
#pragma once

#include <array>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "host/plugin/cycle_plugin.h"
#include "host/plugin/extension_point.h"
#include "host/plugin/plugin_instance.h"
#include "host/plugin/profile.h"

namespace kbinder::host {

struct ProfileLoadOptions {
  // Searched after the profile's own directories and before the built-in plugin directory.
  std::vector<std::filesystem::path> extra_plugin_dirs;
  // Where built-in plugins live; defaults to builtinPluginDir().
  std::filesystem::path builtin_plugin_dir;
};

class LoadedProfile final : public ProfilePlugins {
 public:
  static StatusOr<std::unique_ptr<LoadedProfile>> load(Profile profile,
                                                       const ProfileLoadOptions& options = {});

  const Profile& profile() const { return profile_; }
  // Enabled plugins in profile order.
  const std::vector<std::unique_ptr<PluginInstance>>& plugins() const { return plugins_; }
  // Plugins that implement `point`, in the order they run: profile order, reversed for unreserve.
  const std::vector<PluginInstance*>& pluginsFor(ExtensionPoint point) const {
    return plan_[static_cast<size_t>(point)];
  }

  // ProfilePlugins
  const CycleSettings& cycleSettings() const override { return profile_.cycle; }
  const std::vector<CyclePlugin*>& cyclePlugins() const override { return cycle_plugins_; }
  const std::vector<CyclePlugin*>& runAt(ExtensionPoint point) const override {
    return run_at_[static_cast<size_t>(point)];
  }

  // A human-readable description of the resolved plan (what `kbinder profile check` prints).
  std::string describe() const;

 private:
  LoadedProfile() = default;

  Profile profile_;
  std::vector<std::unique_ptr<PluginInstance>> plugins_;
  std::array<std::vector<PluginInstance*>, kAllExtensionPoints.size()> plan_;
  // The same, as the cycle sees them.
  std::vector<CyclePlugin*> cycle_plugins_;
  std::array<std::vector<CyclePlugin*>, kAllExtensionPoints.size()> run_at_;
};

}  // namespace kbinder::host
