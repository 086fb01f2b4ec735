// SPDX-License-Identifier: Apache-2.0
// Header-only C++ helpers for a plugin's entry file (the one file that touches abi.h).
//
// Optional: a plugin needs only abi.h and the schema. These helpers keep a C++ plugin's entry
// small: turning exceptions into statuses at the boundary, decoding what the host hands over,
// creating and destroying instances, and calling host services with C++ types.
//
// Thread-safety: a Call is used by one hook invocation.
#pragma once

#include <kbinder/abi.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "kbinder/sdk/args.h"
#include "kbinder/sdk/cluster.h"
#include "kbinder/v1/plugin.pb.h"

#define KBINDER_SDK_STR2(x) #x
#define KBINDER_SDK_STR(x) KBINDER_SDK_STR2(x)
#define KBINDER_SDK_ABI_TEXT \
  KBINDER_SDK_STR(KBINDER_ABI_VERSION_MAJOR) "." KBINDER_SDK_STR(KBINDER_ABI_VERSION_MINOR)

namespace kbinder::sdk {

// One host->plugin call, seen from C++.
class Call {
 public:
  Call(const kbinder_host_services* host, kbinder_call* call) : host_(host), call_(call) {}

  bool logs(kbinder_log_level_t level) const { return level >= host_->log_level(call_); }
  void log(kbinder_log_level_t level, std::string_view message) const {
    if (logs(level)) host_->log(call_, level, message.data(), message.size());
  }
  void setMessage(std::string_view message) const {
    host_->set_message(call_, message.data(), message.size());
  }
  // Serializes `result` and hands it to the host (which copies it).
  void setResult(const google::protobuf::MessageLite& result) const {
    const std::string bytes = result.SerializeAsString();
    host_->set_result(call_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  bool cancelled() const { return host_->cancelled(call_) != 0; }
  int64_t deadlineMonotonicNanos() const { return host_->deadline_monotonic_nanos(call_); }

  const kbinder_host_services* host() const { return host_; }
  kbinder_call* raw() const { return call_; }

 private:
  const kbinder_host_services* host_;
  kbinder_call* call_;
};

// Decodes a message handed over by the host; throws std::runtime_error if it does not decode.
template <class Message>
Message decode(kbinder_bytes bytes, const char* what) {
  Message message;
  if (bytes.size > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      !message.ParseFromArray(bytes.data, static_cast<int>(bytes.size))) {
    throw std::runtime_error(std::string("cannot decode ") + what + " handed over by the host");
  }
  return message;
}

// A message the host hands over, decoded once for the cycle: kept in the plugin's cycle state,
// it is decoded again only when the bytes differ from those decoded last (the pod after a
// Mutate that changed it). Comparing the bytes costs a small fraction of decoding them.
template <class Message>
class CycleDecoded {
 public:
  // Throws std::runtime_error, as decode() does, when the bytes do not decode.
  const Message& get(kbinder_bytes bytes, const char* what) {
    const std::string_view now(reinterpret_cast<const char*>(bytes.data), bytes.size);
    if (!decoded_ || now != bytes_) {
      decoded_ = false;
      message_ = decode<Message>(bytes, what);
      bytes_.assign(now);
      decoded_ = true;
    }
    return message_;
  }

 private:
  bool decoded_ = false;
  std::string bytes_;
  Message message_;
};

// The cycle's objects, each decoded when a hook first asks for it and kept for the hooks after
// (see CycleDecoded). For a plugin whose hooks read them in more than one hook: its cycle state
// holds one (or derives from it), released by releaseCycleState.
class CycleObjects {
 public:
  const kbinder::v1::Pod& pod(const kbinder_cycle& cycle) { return pod_.get(cycle.pod, "pod"); }
  const kbinder::v1::Node& node(const kbinder_cycle& cycle) {
    return node_.get(cycle.node, "node");
  }
  const kbinder::v1::BindRequest& request(const kbinder_cycle& cycle) {
    return request_.get(cycle.bind_request, "bind request");
  }

 private:
  CycleDecoded<kbinder::v1::Pod> pod_;
  CycleDecoded<kbinder::v1::Node> node_;
  CycleDecoded<kbinder::v1::BindRequest> request_;
};

// Runs `body` (returning kbinder_status_t) and turns any exception into ERROR with the
// exception's text as the message: nothing is thrown across the boundary.
template <class Body>
kbinder_status_t guarded(const Call& call, Body&& body) noexcept {
  try {
    return std::forward<Body>(body)();
  } catch (const ConfigError& e) {
    call.setMessage(e.what());
    return KBINDER_STATUS_ABI_INVALID_ARGUMENT;
  } catch (const std::exception& e) {
    call.setMessage(e.what());
    return KBINDER_STATUS_ERROR;
  } catch (...) {
    call.setMessage("unknown exception");
    return KBINDER_STATUS_ERROR;
  }
}

// The service table the entry symbol received; set once by the entry, read by the hooks.
inline const kbinder_host_services*& hostServices() {
  static const kbinder_host_services* host = nullptr;
  return host;
}

// create/destroy for an Instance type constructed from kbinder::v1::PluginConfig. The
// constructor reports bad arguments by throwing ConfigError.
template <class Instance>
kbinder_status_t createInstance(kbinder_call* call, kbinder_bytes config, void** instance_out) {
  const Call c(hostServices(), call);
  return guarded(c, [&] {
    const auto parsed = decode<kbinder::v1::PluginConfig>(config, "kbinder.v1.PluginConfig");
    *instance_out = new Instance(parsed);
    return KBINDER_STATUS_SUCCESS;
  });
}

template <class Instance>
void destroyInstance(void* instance) {
  delete static_cast<Instance*>(instance);
}

// The plugin's per-cycle state in the hook's `cycle_state` slot, made on first use. Free it in
// release_cycle_state (the host calls it once per cycle with a non-NULL slot).
template <class State>
State& cycleState(void** slot) {
  if (*slot == nullptr) *slot = new State();
  return *static_cast<State*>(*slot);
}

// release_cycle_state for a State made by cycleState<State>.
template <class State>
void releaseCycleState(void* /*instance*/, void* state) {
  delete static_cast<State*>(state);
}

// The ABI status for a logic Verdict; sets its message on the call.
inline kbinder_status_t report(const Call& call, const Verdict& verdict) {
  if (!verdict.message.empty()) call.setMessage(verdict.message);
  switch (verdict.code) {
    case Verdict::Code::kSuccess: return KBINDER_STATUS_SUCCESS;
    case Verdict::Code::kError: return KBINDER_STATUS_ERROR;
    case Verdict::Code::kUnschedulable: return KBINDER_STATUS_UNSCHEDULABLE;
    case Verdict::Code::kUnresolvable: return KBINDER_STATUS_UNSCHEDULABLE_AND_UNRESOLVABLE;
  }
  return KBINDER_STATUS_ERROR;
}

// sdk::Cluster over the host's object services, for one hook call.
class HostCluster final : public Cluster {
 public:
  explicit HostCluster(const Call& call) : call_(call) {}

  Result get(std::string_view kind, std::string_view namespace_, std::string_view name, bool fresh,
             kbinder::v1::Object* out) override {
    kbinder::v1::GetRequest request;
    request.set_kind(std::string(kind));
    request.set_namespace_(std::string(namespace_));
    request.set_name(std::string(name));
    request.set_fresh(fresh);
    return exchange(call_.host()->get_object, request, out);
  }
  Result list(const kbinder::v1::ListRequest& request, kbinder::v1::ObjectList* out) override {
    return exchange(call_.host()->list_objects, request, out);
  }
  Result patch(const kbinder::v1::Object& object, std::string_view subresource,
               kbinder::v1::Object* out) override {
    kbinder::v1::PatchRequest request;
    *request.mutable_object() = object;
    request.set_subresource(std::string(subresource));
    return exchange(call_.host()->patch_object, request, out);
  }
  bool cancelled() override { return call_.cancelled(); }
  std::chrono::milliseconds remaining() override {
    const int64_t left = call_.deadlineMonotonicNanos() - call_.host()->monotonic_nanos();
    return std::chrono::milliseconds(left > 0 ? left / 1000000 : 0);
  }
  void sleep(std::chrono::milliseconds duration) override {
    std::this_thread::sleep_for(std::min(duration, remaining()));
  }
  void info(std::string_view message) override { call_.log(KBINDER_LOG_INFO, message); }

 private:
  using Service = kbinder_status_t (*)(kbinder_call*, kbinder_bytes, kbinder_bytes*);

  template <class Request, class Response>
  Result exchange(Service service, const Request& request, Response* out) {
    const std::string bytes = request.SerializeAsString();
    kbinder_bytes response{nullptr, 0};
    const kbinder_status_t status = service(
        call_.raw(), kbinder_bytes{reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()},
        &response);
    Result result;
    if (status != KBINDER_STATUS_SUCCESS) {
      const kbinder_bytes error = call_.host()->last_error(call_.raw());
      if (error.data != nullptr) {
        result.message.assign(reinterpret_cast<const char*>(error.data), error.size);
      }
      result.code = status == KBINDER_STATUS_ABI_NOT_FOUND  ? Result::Code::kNotFound
                    : status == KBINDER_STATUS_ABI_CONFLICT ? Result::Code::kConflict
                                                            : Result::Code::kFailed;
      return result;
    }
    if (out != nullptr) *out = decode<Response>(response, "a host service response");
    return result;
  }

  const Call& call_;
};

// The body of a C++ plugin's entry symbol: refuses a host whose service table is older than the
// one this plugin was compiled against, keeps the table for the hooks, returns `descriptor`.
//   extern "C" KBINDER_EXPORT const kbinder_plugin_descriptor* kbinder_plugin_v1(
//       const kbinder_host_services* host, const char** error_out) {
//     return kbinder::sdk::enter(host, error_out, kDescriptor);
//   }
inline const kbinder_plugin_descriptor* enter(const kbinder_host_services* host,
                                              const char** error_out,
                                              const kbinder_plugin_descriptor& descriptor) {
  if (host == nullptr || host->struct_size < sizeof(kbinder_host_services)) {
    if (error_out != nullptr) {
      *error_out = "the plugin needs a kbinder host providing at least ABI " KBINDER_SDK_ABI_TEXT
                   " services; upgrade kbinder";
    }
    return nullptr;
  }
  hostServices() = host;
  return &descriptor;
}

}  // namespace kbinder::sdk
