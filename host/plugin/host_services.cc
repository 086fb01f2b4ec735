// SPDX-License-Identifier: Apache-2.0
// The host service table: C functions that act on the current kbinder_call.
#include <spdlog/spdlog.h>

#include <climits>
#include <limits>
#include <string_view>

#include "host/base/logging.h"
#include "host/plugin/call_context.h"

namespace kbinder::host {
namespace {

kbinder_status_t toAbiStatus(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return KBINDER_STATUS_SUCCESS;
    case StatusCode::kNotFound: return KBINDER_STATUS_ABI_NOT_FOUND;
    case StatusCode::kAborted: return KBINDER_STATUS_ABI_CONFLICT;
    case StatusCode::kInvalidArgument: return KBINDER_STATUS_ABI_INVALID_ARGUMENT;
    case StatusCode::kDeadlineExceeded: return KBINDER_STATUS_ABI_DEADLINE_EXCEEDED;
    case StatusCode::kUnavailable: return KBINDER_STATUS_ABI_UNAVAILABLE;
    default: return KBINDER_STATUS_ABI_INTERNAL;
  }
}

int64_t toNanos(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

void serviceLog(kbinder_call* call, kbinder_log_level_t level, const char* message, size_t size) {
  if (message == nullptr && size != 0) return;
  const auto spd = toSpdlogLevel(level);
  auto& logger = pluginLogger();
  if (!logger.should_log(spd)) return;
  const std::string_view text(message == nullptr ? "" : message, size);
  if (call == nullptr) {
    logger.log(spd, "{}", text);
  } else if (call->log_context.empty()) {
    logger.log(spd, "[{}] {}", call->plugin_name, text);
  } else {
    logger.log(spd, "[{}] {}: {}", call->plugin_name, call->log_context, text);
  }
}

kbinder_log_level_t serviceLogLevel(kbinder_call*) {
  return fromSpdlogLevel(pluginLogger().level());
}

int64_t serviceNowUnixNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t serviceMonotonicNanos() {
  return toNanos(std::chrono::steady_clock::now());
}

int64_t serviceDeadline(kbinder_call* call) {
  if (call == nullptr || !call->deadline) return std::numeric_limits<int64_t>::max();
  return toNanos(*call->deadline);
}

int32_t serviceCancelled(kbinder_call* call) {
  if (call == nullptr) return 0;
  if (call->cancelled != nullptr && call->cancelled->load(std::memory_order_relaxed)) return 1;
  return call->deadline && std::chrono::steady_clock::now() > *call->deadline ? 1 : 0;
}

// A response as the plugin receives it: encoded already (a get's), or a message to encode.
std::string encoded(std::string bytes) {
  return bytes;
}
std::string encoded(const google::protobuf::MessageLite& message) {
  return message.SerializeAsString();
}

// Shared shape of get/list/patch: decode the request, run it, hand out the response.
template <class Request, class Run>
kbinder_status_t objectService(kbinder_call* call, kbinder_bytes request, kbinder_bytes* response,
                               const char* request_type, Run&& run) {
  if (call == nullptr || response == nullptr || (request.data == nullptr && request.size != 0) ||
      request.size > static_cast<size_t>(INT_MAX)) {
    return KBINDER_STATUS_ABI_INVALID_ARGUMENT;
  }
  *response = kbinder_bytes{nullptr, 0};
  auto fail = [call](kbinder_status_t code, std::string message) {
    std::lock_guard lock(call->mutex);
    call->last_error = std::move(message);
    return code;
  };
  if (call->objects == nullptr) {
    return fail(KBINDER_STATUS_ABI_UNAVAILABLE,
                "object services are not available during " + std::string(call->operation));
  }
  Request decoded;
  if (!decoded.ParseFromArray(request.data, static_cast<int>(request.size))) {
    return fail(KBINDER_STATUS_ABI_BAD_MESSAGE,
                std::string("request does not decode as ") + request_type);
  }
  auto result = run(*call->objects, decoded);
  if (!result.ok()) return fail(toAbiStatus(result.status().code()), result.status().message());
  std::lock_guard lock(call->mutex);
  call->last_error.clear();
  auto& bytes = call->responses.emplace_back(encoded(std::move(result).value()));
  *response = kbinder_bytes{reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()};
  return KBINDER_STATUS_SUCCESS;
}

kbinder_status_t serviceGet(kbinder_call* call, kbinder_bytes request, kbinder_bytes* response) {
  return objectService<kbinder::v1::GetRequest>(
      call, request, response, "kbinder.v1.GetRequest",
      [](ObjectServices& objects, const auto& r) { return objects.getEncoded(r); });
}

kbinder_status_t serviceList(kbinder_call* call, kbinder_bytes request, kbinder_bytes* response) {
  return objectService<kbinder::v1::ListRequest>(
      call, request, response, "kbinder.v1.ListRequest",
      [](ObjectServices& objects, const auto& r) { return objects.list(r); });
}

kbinder_status_t servicePatch(kbinder_call* call, kbinder_bytes request, kbinder_bytes* response) {
  return objectService<kbinder::v1::PatchRequest>(
      call, request, response, "kbinder.v1.PatchRequest",
      [](ObjectServices& objects, const auto& r) { return objects.patch(r); });
}

kbinder_status_t serviceAllow(kbinder_call* call, const char* uid, size_t uid_size,
                              const char* plugin, size_t plugin_size) {
  if (call == nullptr || (uid == nullptr && uid_size != 0) ||
      (plugin == nullptr && plugin_size != 0)) {
    return KBINDER_STATUS_ABI_INVALID_ARGUMENT;
  }
  if (call->waiting_pods == nullptr) {
    std::lock_guard lock(call->mutex);
    call->last_error =
        "allowing waiting pods is not available during " + std::string(call->operation);
    return KBINDER_STATUS_ABI_UNAVAILABLE;
  }
  const Status status =
      call->waiting_pods->allow(std::string_view(uid == nullptr ? "" : uid, uid_size),
                                std::string_view(plugin == nullptr ? "" : plugin, plugin_size));
  std::lock_guard lock(call->mutex);
  call->last_error = status.ok() ? std::string() : status.message();
  return toAbiStatus(status.code());
}

kbinder_status_t serviceSetResult(kbinder_call* call, const uint8_t* data, size_t size) {
  if (call == nullptr || (data == nullptr && size != 0)) return KBINDER_STATUS_ABI_INVALID_ARGUMENT;
  std::lock_guard lock(call->mutex);
  call->result.emplace(reinterpret_cast<const char*>(data), size);
  return KBINDER_STATUS_SUCCESS;
}

kbinder_status_t serviceSetMessage(kbinder_call* call, const char* message, size_t size) {
  if (call == nullptr || (message == nullptr && size != 0)) {
    return KBINDER_STATUS_ABI_INVALID_ARGUMENT;
  }
  std::lock_guard lock(call->mutex);
  call->message.assign(message == nullptr ? "" : message, size);
  return KBINDER_STATUS_SUCCESS;
}

kbinder_bytes serviceLastError(kbinder_call* call) {
  if (call == nullptr) return {nullptr, 0};
  std::lock_guard lock(call->mutex);
  return {reinterpret_cast<const uint8_t*>(call->last_error.data()), call->last_error.size()};
}

constexpr kbinder_host_services kServices = {
    .struct_size = sizeof(kbinder_host_services),
    .struct_version = KBINDER_ABI_VERSION,
    .log = &serviceLog,
    .log_level = &serviceLogLevel,
    .now_unix_nanos = &serviceNowUnixNanos,
    .monotonic_nanos = &serviceMonotonicNanos,
    .deadline_monotonic_nanos = &serviceDeadline,
    .cancelled = &serviceCancelled,
    .get_object = &serviceGet,
    .list_objects = &serviceList,
    .patch_object = &servicePatch,
    .allow_waiting_pod = &serviceAllow,
    .set_result = &serviceSetResult,
    .set_message = &serviceSetMessage,
    .last_error = &serviceLastError,
};

}  // namespace

const kbinder_host_services& hostServices() {
  return kServices;
}

}  // namespace kbinder::host
