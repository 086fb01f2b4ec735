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
#include "host/plugin/extension_point.h"
#include "host/plugin/plugin_library.h"
#include "kbinder/v1/plugin.pb.h"

namespace kbinder::host {

// The framework's statuses (kbinder_status_t >= 0).
enum class Code {
  kSuccess = KBINDER_STATUS_SUCCESS,
  kError = KBINDER_STATUS_ERROR,
  kUnschedulable = KBINDER_STATUS_UNSCHEDULABLE,
  kUnschedulableAndUnresolvable = KBINDER_STATUS_UNSCHEDULABLE_AND_UNRESOLVABLE,
  kWait = KBINDER_STATUS_WAIT,
  kSkip = KBINDER_STATUS_SKIP,
};

std::string_view codeName(Code code);

// What one hook call produced.
struct HookOutcome {
  Code code = Code::kSuccess;
  std::string message;  // the plugin's message, or the host's explanation of a fault
  std::chrono::nanoseconds duration{0};
  // The decoded result, for the extension points that have one; an empty result otherwise.
  // Held only when the plugin returned one: most calls return none and build no message.
  std::variant<std::monostate, kbinder::v1::ValidateResult, kbinder::v1::MutateResult,
               kbinder::v1::PermitResult>
      result;

  const kbinder::v1::ValidateResult& validate() const {
    return resultOr<kbinder::v1::ValidateResult>();
  }
  const kbinder::v1::MutateResult& mutate() const { return resultOr<kbinder::v1::MutateResult>(); }
  const kbinder::v1::PermitResult& permit() const { return resultOr<kbinder::v1::PermitResult>(); }

 private:
  template <class Result>
  const Result& resultOr() const {
    const Result* held = std::get_if<Result>(&result);
    return held != nullptr ? *held : Result::default_instance();
  }
};

// What the call's host services act on, supplied by whoever runs the cycle.
struct CallEnvironment {
  std::chrono::nanoseconds timeout{std::chrono::seconds(30)};
  const std::atomic<bool>* cancelled = nullptr;
  ObjectServices* objects = nullptr;
  WaitingPods* waiting_pods = nullptr;
  std::string_view log_context;  // the caller's, kept for the length of the call
};

class PluginInstance {
 public:
  // Calls the plugin's create with `config`. On failure the status names the plugin and carries
  // the plugin's message.
  static StatusOr<std::unique_ptr<PluginInstance>> create(
      std::shared_ptr<const PluginLibrary> library, const kbinder::v1::PluginConfig& config,
      std::chrono::nanoseconds timeout);

  PluginInstance(const PluginInstance&) = delete;
  PluginInstance& operator=(const PluginInstance&) = delete;
  ~PluginInstance();  // calls destroy

  const std::string& name() const { return name_; }
  const PluginLibrary& library() const { return *library_; }
  bool implements(ExtensionPoint point) const { return library_->implements(point); }
  // The deadline of each hook call (the profile's, or this plugin's own).
  std::chrono::milliseconds hookTimeout() const { return hook_timeout_; }
  void setHookTimeout(std::chrono::milliseconds timeout) { hook_timeout_ = timeout; }

  // Runs one hook. `cycle_state` is this plugin's slot for the cycle (see abi.h).
  // Precondition: implements(point).
  HookOutcome invoke(ExtensionPoint point, const kbinder_cycle& cycle, void** cycle_state,
                     const CallEnvironment& environment);

  // Hands a non-null per-cycle state back to the plugin; call exactly once per cycle.
  void releaseCycleState(void* cycle_state);

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
