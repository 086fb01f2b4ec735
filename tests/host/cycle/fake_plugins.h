// SPDX-License-Identifier: Apache-2.0
// Plugins written in C++ and registered in-process, for unit tests of the binding cycle: a
// FakeProfile holds FakePlugins as a loaded profile holds plugins from libraries (no TOML, no
// dlopen, no log file), as kube-scheduler's framework tests register theirs.
//
// Every FakePlugin of a profile records its calls, in order, in the profile's log:
// "<plugin> <point> <pod> <attempt>", and "<plugin> release <pod>" when the cycle hands its
// per-cycle state back. What a fake does at a point is Success (Skip at Bind) unless the test
// says otherwise with on().
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "host/plugin/cycle_plugin.h"

namespace kbinder::testing {

// The calls of one profile's fakes, from any thread.
class CallLog {
 public:
  void add(std::string line) {
    std::lock_guard lock(mutex_);
    lines_.push_back(std::move(line));
  }
  std::vector<std::string> lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
  }
  bool has(const std::string& line) const {
    const auto all = lines();
    return std::find(all.begin(), all.end(), line) != all.end();
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

// What a fake is handed at one call.
struct FakeCall {
  host::ExtensionPoint point;
  kbinder::v1::Pod pod;  // as the cycle hands it over
  uint32_t attempt = 0;
  const host::CallEnvironment* environment = nullptr;  // the host services of the call
};

// Outcomes a fake returns.
inline host::HookOutcome outcome(host::Code code, std::string message = "") {
  host::HookOutcome out;
  out.code = code;
  out.message = std::move(message);
  return out;
}
inline host::HookOutcome permitWait(int64_t timeout_millis) {
  host::HookOutcome out = outcome(host::Code::kWait);
  kbinder::v1::PermitResult result;
  result.set_timeout_millis(timeout_millis);
  out.result = std::move(result);
  return out;
}
inline host::HookOutcome validationErrors(std::vector<std::string> errors) {
  host::HookOutcome out = outcome(host::Code::kSuccess);
  kbinder::v1::ValidateResult result;
  for (auto& error : errors) result.add_errors(std::move(error));
  out.result = std::move(result);
  return out;
}

class FakePlugin final : public host::CyclePlugin {
 public:
  using Behaviour = std::function<host::HookOutcome(const FakeCall&)>;

  FakePlugin(std::string name, CallLog& log, std::vector<host::ExtensionPoint> points)
      : name_(std::move(name)), log_(log), points_(std::move(points)) {}

  // What the plugin does at `point` from now on.
  FakePlugin& on(host::ExtensionPoint point, Behaviour behaviour) {
    behaviours_[static_cast<size_t>(point)] = std::move(behaviour);
    return *this;
  }
  // Fails at `point` with `code` and the message "<name> fails <point> as configured".
  FakePlugin& failAt(host::ExtensionPoint point, host::Code code = host::Code::kError) {
    const std::string message =
        name_ + " fails " + std::string(host::extensionPointName(point)) + " as configured";
    return on(point, [code, message](const FakeCall&) { return outcome(code, message); });
  }
  FakePlugin& setHookTimeout(std::chrono::milliseconds timeout) {
    hook_timeout_ = timeout;
    return *this;
  }
  bool implements(host::ExtensionPoint point) const {
    return std::find(points_.begin(), points_.end(), point) != points_.end();
  }

  // host::CyclePlugin
  const std::string& name() const override { return name_; }
  std::chrono::milliseconds hookTimeout() const override { return hook_timeout_; }
  host::HookOutcome invoke(host::ExtensionPoint point, const kbinder_cycle& cycle,
                           void** cycle_state, const host::CallEnvironment& environment) override {
    FakeCall call{point, {}, cycle.attempt, &environment};
    call.pod.ParseFromArray(cycle.pod.data, static_cast<int>(cycle.pod.size));
    const std::string& pod = call.pod.metadata().name();
    log_.add(name_ + " " + std::string(host::extensionPointName(point)) + " " + pod + " " +
             std::to_string(cycle.attempt));
    if (*cycle_state == nullptr) *cycle_state = new std::string(pod);
    const Behaviour& behaviour = behaviours_[static_cast<size_t>(point)];
    if (behaviour) return behaviour(call);
    return outcome(point == host::ExtensionPoint::kBind ? host::Code::kSkip : host::Code::kSuccess);
  }
  void releaseCycleState(void* cycle_state) override {
    std::unique_ptr<std::string> pod(static_cast<std::string*>(cycle_state));
    log_.add(name_ + " release " + *pod);
  }

 private:
  std::string name_;
  CallLog& log_;
  std::vector<host::ExtensionPoint> points_;
  std::array<Behaviour, host::kAllExtensionPoints.size()> behaviours_;
  std::chrono::milliseconds hook_timeout_{30000};
};

// Plugins registered in profile order, each at every extension point unless told otherwise.
class FakeProfile final : public host::ProfilePlugins {
 public:
  explicit FakeProfile(host::CycleSettings settings = {}) : settings_(settings) {}

  FakePlugin& add(const std::string& name,
                  std::vector<host::ExtensionPoint> points = {
                      std::begin(host::kAllExtensionPoints), std::end(host::kAllExtensionPoints)}) {
    plugins_.push_back(std::make_unique<FakePlugin>(name, log_, std::move(points)));
    all_.push_back(plugins_.back().get());
    for (const host::ExtensionPoint point : host::kAllExtensionPoints) {
      auto& order = run_at_[static_cast<size_t>(point)];
      order.clear();
      for (const auto& plugin : plugins_) {
        if (plugin->implements(point)) order.push_back(plugin.get());
      }
      if (point == host::ExtensionPoint::kUnreserve) std::reverse(order.begin(), order.end());
    }
    return *plugins_.back();
  }
  host::CycleSettings& settings() { return settings_; }
  const CallLog& log() const { return log_; }

  // host::ProfilePlugins
  const host::CycleSettings& cycleSettings() const override { return settings_; }
  const std::vector<host::CyclePlugin*>& cyclePlugins() const override { return all_; }
  const std::vector<host::CyclePlugin*>& runAt(host::ExtensionPoint point) const override {
    return run_at_[static_cast<size_t>(point)];
  }

 private:
  host::CycleSettings settings_;
  CallLog log_;
  std::vector<std::unique_ptr<FakePlugin>> plugins_;
  std::vector<host::CyclePlugin*> all_;
  std::array<std::vector<host::CyclePlugin*>, host::kAllExtensionPoints.size()> run_at_;
};

}  // namespace kbinder::testing
