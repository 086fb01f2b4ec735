// SPDX-License-Identifier: Apache-2.0
#include "host/plugin/plugin_instance.h"

#include <climits>
#include <optional>

#include "host/base/logging.h"
#include "host/plugin/call_context.h"

namespace kbinder::host {
namespace {

using Clock = CallContext::Clock;

bool allowed(ExtensionPoint point, Code code) {
  switch (code) {
    case Code::kSuccess:
    case Code::kError: return true;
    case Code::kUnschedulable:
    case Code::kUnschedulableAndUnresolvable: return point != ExtensionPoint::kMutate;
    case Code::kWait: return point == ExtensionPoint::kPermit;
    case Code::kSkip: return point == ExtensionPoint::kBind;
  }
  return false;
}

std::string_view abiFaultName(kbinder_status_t status) {
  switch (status) {
    case KBINDER_STATUS_ABI_INVALID_ARGUMENT: return "ABI_INVALID_ARGUMENT";
    case KBINDER_STATUS_ABI_BAD_MESSAGE: return "ABI_BAD_MESSAGE";
    case KBINDER_STATUS_ABI_NOT_FOUND: return "ABI_NOT_FOUND";
    case KBINDER_STATUS_ABI_CONFLICT: return "ABI_CONFLICT";
    case KBINDER_STATUS_ABI_DEADLINE_EXCEEDED: return "ABI_DEADLINE_EXCEEDED";
    case KBINDER_STATUS_ABI_CANCELLED: return "ABI_CANCELLED";
    case KBINDER_STATUS_ABI_UNAVAILABLE: return "ABI_UNAVAILABLE";
    case KBINDER_STATUS_ABI_INTERNAL: return "ABI_INTERNAL";
    default: return {};
  }
}

std::string seconds(std::chrono::nanoseconds d) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3gs", std::chrono::duration<double>(d).count());
  return text;
}

template <class Message>
bool decodeInto(const std::string& bytes, Message& out) {
  return bytes.size() <= static_cast<size_t>(INT_MAX) &&
         out.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

}  // namespace

std::string_view codeName(Code code) {
  switch (code) {
    case Code::kSuccess: return "Success";
    case Code::kError: return "Error";
    case Code::kUnschedulable: return "Unschedulable";
    case Code::kUnschedulableAndUnresolvable: return "UnschedulableAndUnresolvable";
    case Code::kWait: return "Wait";
    case Code::kSkip: return "Skip";
  }
  return "Unknown";
}

StatusOr<std::unique_ptr<PluginInstance>> PluginInstance::create(
    std::shared_ptr<const PluginLibrary> library, const kbinder::v1::PluginConfig& config,
    std::chrono::nanoseconds timeout) {
  const std::string name = config.plugin_name().empty() ? library->name() : config.plugin_name();
  std::unique_ptr<PluginInstance> instance(new PluginInstance(std::move(library), name));
  const PluginLibrary& lib = *instance->library_;
  instance->serialized_ = lib.concurrency() == KBINDER_CONCURRENCY_SERIALIZED;

  kbinder_call call;
  call.plugin_name = name;
  call.operation = "create";
  call.deadline = Clock::now() + timeout;
  const std::string bytes = config.SerializeAsString();
  void* created = nullptr;
  kbinder_status_t status = KBINDER_STATUS_ABI_INTERNAL;
  try {
    status = lib.descriptor().create(
        &call, kbinder_bytes{reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()},
        &created);
  } catch (const std::exception& e) {
    return failedPrecondition("plugin '" + name + "' threw an exception from create: " + e.what());
  } catch (...) {
    return failedPrecondition("plugin '" + name + "' threw an exception from create");
  }
  if (status != KBINDER_STATUS_SUCCESS) {
    if (created != nullptr) lib.descriptor().destroy(created);
    const std::string reason = call.message.empty() ? "no reason given" : call.message;
    return invalidArgument("plugin '" + name + "' refused its configuration: " + reason);
  }
  if (created == nullptr) {
    // An instance may legitimately be stateless; NULL is a valid instance pointer.
    hostLogger().debug("plugin '{}' created a NULL instance", name);
  }
  instance->instance_ = created;
  return instance;
}

PluginInstance::~PluginInstance() {
  std::lock_guard lock(serial_);
  try {
    library_->descriptor().destroy(instance_);
  } catch (...) {
    hostLogger().error("plugin '{}' threw an exception from destroy", name_);
  }
}

HookOutcome PluginInstance::invoke(ExtensionPoint point, const kbinder_cycle& cycle,
                                   void** cycle_state, const CallEnvironment& environment) {
  const kbinder_hook_fn hook = library_->hook(point);
  const std::string_view point_name = extensionPointName(point);
  HookOutcome outcome;
  auto fault = [&](const std::string& message) {
    outcome.code = Code::kError;
    outcome.message = "plugin '" + name_ + "' at " + std::string(point_name) + ": " + message;
    return outcome;
  };
  if (hook == nullptr) return fault("the plugin does not implement this extension point");

  kbinder_call call;
  call.plugin_name = name_;
  call.operation = point_name;
  call.log_context = environment.log_context;
  call.cancelled = environment.cancelled;
  call.objects = environment.objects;
  call.waiting_pods = environment.waiting_pods;
  const auto start = Clock::now();
  call.deadline = start + environment.timeout;

  kbinder_status_t status = KBINDER_STATUS_ABI_INTERNAL;
  std::optional<std::string> thrown;
  {
    std::unique_lock<std::mutex> lock(serial_, std::defer_lock);
    if (serialized_) lock.lock();
    try {
      status = hook(instance_, &call, &cycle, cycle_state);
    } catch (const std::exception& e) {
      thrown = e.what();
    } catch (...) {
      thrown = "unknown exception";
    }
  }
  outcome.duration = Clock::now() - start;

  if (thrown) return fault("threw an exception (" + *thrown + "); plugins must catch everything");
  if (*cycle_state != nullptr && library_->descriptor().release_cycle_state == nullptr) {
    return fault("stored per-cycle state but has no release_cycle_state to free it");
  }
  if (outcome.duration > environment.timeout) {
    return fault("overran its deadline of " + seconds(environment.timeout) + " (took " +
                 seconds(outcome.duration) + ")");
  }
  if (status < 0) {
    const auto fault_name = abiFaultName(status);
    return fault("returned ABI fault " +
                 (fault_name.empty() ? std::to_string(status) : std::string(fault_name)) +
                 (call.message.empty() ? "" : ": " + call.message));
  }
  if (status > KBINDER_STATUS_SKIP) {
    return fault("returned unknown status code " + std::to_string(status));
  }
  const Code code = static_cast<Code>(status);
  if (!allowed(point, code)) {
    return fault("returned " + std::string(codeName(code)) + ", which " + std::string(point_name) +
                 " does not allow");
  }
  if (call.result) {
    bool decoded = true;
    const char* type = "";
    switch (point) {
      case ExtensionPoint::kValidate:
        decoded = decodeInto(*call.result, outcome.result.emplace<kbinder::v1::ValidateResult>());
        type = "kbinder.v1.ValidateResult";
        break;
      case ExtensionPoint::kMutate:
        decoded = decodeInto(*call.result, outcome.result.emplace<kbinder::v1::MutateResult>());
        type = "kbinder.v1.MutateResult";
        break;
      case ExtensionPoint::kPermit:
        decoded = decodeInto(*call.result, outcome.result.emplace<kbinder::v1::PermitResult>());
        type = "kbinder.v1.PermitResult";
        break;
      default: break;  // no result defined: ignored
    }
    if (!decoded) return fault(std::string("returned result bytes that do not decode as ") + type);
  }
  outcome.code = code;
  outcome.message = std::move(call.message);
  return outcome;
}

void PluginInstance::releaseCycleState(void* cycle_state) {
  if (cycle_state == nullptr) return;
  const auto release = library_->descriptor().release_cycle_state;
  if (release == nullptr) return;  // reported by invoke() when the state was stored
  std::unique_lock<std::mutex> lock(serial_, std::defer_lock);
  if (serialized_) lock.lock();
  try {
    release(instance_, cycle_state);
  } catch (...) {
    hostLogger().error("plugin '{}' threw an exception from release_cycle_state", name_);
  }
}

}  // namespace kbinder::host
