// SPDX-License-Identifier: Apache-2.0
// The host's side of one host->plugin call (`kbinder_call` in abi.h): what the call's services
// act on, and what the plugin handed back (result bytes, message, service responses).
//
// Thread-safety: the services a plugin calls may come from several of its threads during the
// call; every member they touch is guarded by the context's mutex. The host reads the outcome
// only after the plugin function returned.
#pragma once

#include <kbinder/abi.h>

#include <atomic>
#include <chrono>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "host/cluster/object_services.h"

struct kbinder_call {
  using Clock = std::chrono::steady_clock;

  // Who is called, for messages and log attribution: plugin name and operation ("create", ...).
  // Views of strings the caller keeps for the length of the call: a hook call copies nothing.
  std::string_view plugin_name;
  std::string_view operation;
  std::string_view log_context;  // e.g. "request ns/name" for hooks; empty for create

  std::optional<Clock::time_point> deadline;
  const std::atomic<bool>* cancelled = nullptr;  // owned by the cycle; may be null

  kbinder::host::ObjectServices* objects = nullptr;  // null: object services unavailable
  kbinder::host::WaitingPods* waiting_pods = nullptr;

  // Written by services during the call.
  std::mutex mutex;
  std::optional<std::string> result;
  std::string message;
  std::string last_error;
  std::list<std::string> responses;  // a list: stable addresses for the bytes handed out, and
                                     // nothing allocated for a call that asks for none
};

namespace kbinder::host {

using CallContext = ::kbinder_call;

// The one service table the host hands to every plugin.
const kbinder_host_services& hostServices();

}  // namespace kbinder::host
