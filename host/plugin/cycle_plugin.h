// SPDX-License-Identifier: Apache-2.0
// What the binding cycle runs: a profile's plugins (ProfilePlugins), each a CyclePlugin it calls
// at the extension points. A profile loaded from TOML, with its plugins loaded from libraries
// through the ABI, is one implementation (LoadedProfile and PluginInstance); tests of the cycle
// register plugins written in C++ in-process, as kube-scheduler's framework tests do.
//
// Thread-safety: a CyclePlugin's invoke() is called from many threads at once, one cycle each.
#pragma once

#include <kbinder/abi.h>

#include <atomic>
#include <chrono>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "host/cluster/object_services.h"
#include "host/plugin/extension_point.h"
#include "host/plugin/profile.h"
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

class CyclePlugin {
 public:
  virtual ~CyclePlugin() = default;
  // The plugin's name in the profile: what messages, metrics and Permit's allow() name it by.
  virtual const std::string& name() const = 0;
  // The deadline of each hook call.
  virtual std::chrono::milliseconds hookTimeout() const = 0;
  // Runs the plugin's hook at `point` for the cycle `cycle` (the ABI's view of it).
  // `cycle_state` is this plugin's slot for the cycle (see abi.h): what it holds when the
  // cycle ends is handed to releaseCycleState(). A fault of any kind is an outcome of kError
  // whose message names the plugin and the point; invoke() does not throw.
  virtual HookOutcome invoke(ExtensionPoint point, const kbinder_cycle& cycle, void** cycle_state,
                             const CallEnvironment& environment) = 0;
  // Hands a non-null per-cycle state back to the plugin, once per cycle.
  virtual void releaseCycleState(void* cycle_state) = 0;
};

class ProfilePlugins {
 public:
  virtual ~ProfilePlugins() = default;
  // How the cycle runs (timeouts, Permit's longest wait, annotations with the Binding).
  virtual const CycleSettings& cycleSettings() const = 0;
  // Every plugin, in profile order: each has one per-cycle state slot.
  virtual const std::vector<CyclePlugin*>& cyclePlugins() const = 0;
  // The plugins that run at `point`, in the order they run: profile order, reversed for
  // Unreserve.
  virtual const std::vector<CyclePlugin*>& runAt(ExtensionPoint point) const = 0;
};

}  // namespace kbinder::host
