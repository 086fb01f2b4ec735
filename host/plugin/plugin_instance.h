// SPDX-License-Identifier: Apache-2.0
// One configured instance of a plugin, and the only place the host calls into plugin code.
//
// Every call is guarded: an exception, a negative ABI status, a status the extension point does
// not allow, an unknown status code, result bytes that do not decode, or running past the call's
// deadline all become an Error whose message names the plugin and the extension point.
//
// Thread-safety: invoke() may be called from many threads; for a plugin that declared
// KBINDER_CONCURRENCY_SERIALIZED the instance runs one call at a time.
#pragma once

#include <kbinder/abi.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <variant>

#include "host/base/status.h"
#include "host/cluster/object_services.h"
#include "host/plugin/cycle_plugin.h"
#include "host/plugin/extension_point.h"
#include "host/plugin/plugin_library.h"
#include "kbinder/v1/plugin.pb.h"

namespace kbinder::host {

// A plugin from a library, loaded and created through the ABI: the CyclePlugin kbinder runs.
class PluginInstance final : public CyclePlugin {
 public:
  // Calls the plugin's create with `config`. On failure the status names the plugin and carries
  // the plugin's message.
  static StatusOr<std::unique_ptr<PluginInstance>> create(
      std::shared_ptr<const PluginLibrary> library, const kbinder::v1::PluginConfig& config,
      std::chrono::nanoseconds timeout);

  PluginInstance(const PluginInstance&) = delete;
  PluginInstance& operator=(const PluginInstance&) = delete;
  ~PluginInstance() override;  // calls destroy

  const std::string& name() const override { return name_; }
  const PluginLibrary& library() const { return *library_; }
  bool implements(ExtensionPoint point) const { return library_->implements(point); }
  // The deadline of each hook call (the profile's, or this plugin's own).
  std::chrono::milliseconds hookTimeout() const override { return hook_timeout_; }
  void setHookTimeout(std::chrono::milliseconds timeout) { hook_timeout_ = timeout; }

  // Runs one hook. `cycle_state` is this plugin's slot for the cycle (see abi.h).
  // Precondition: implements(point).
  HookOutcome invoke(ExtensionPoint point, const kbinder_cycle& cycle, void** cycle_state,
                     const CallEnvironment& environment) override;

  // Hands a non-null per-cycle state back to the plugin; call exactly once per cycle.
  void releaseCycleState(void* cycle_state) override;

 private:
  PluginInstance(std::shared_ptr<const PluginLibrary> library, std::string name)
      : library_(std::move(library)), name_(std::move(name)) {}

  std::shared_ptr<const PluginLibrary> library_;  // keeps the code loaded while we exist
  std::string name_;
  void* instance_ = nullptr;
  bool serialized_ = false;
  std::chrono::milliseconds hook_timeout_{30000};
  std::mutex serial_;
};

}  // namespace kbinder::host
