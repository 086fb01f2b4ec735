// SPDX-License-Identifier: Apache-2.0
// What a plugin's logic sees of the cluster during one hook call: reading and patching objects,
// the call's deadline and cancellation, and logging. Free of ABI types, so a plugin's logic can be
// tested against a fake; plugin.h provides the implementation over the host's services.
//
// Thread-safety: a Cluster is used by the hook call it was made for.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "kbinder/v1/plugin.pb.h"

namespace kbinder::sdk {

// How an object service call ended.
struct Result {
  enum class Code { kOk, kNotFound, kConflict, kFailed };
  Code code = Code::kOk;
  std::string message;  // the host's or the cluster's explanation, for failures

  bool ok() const { return code == Code::kOk; }
  bool notFound() const { return code == Code::kNotFound; }
  bool conflict() const { return code == Code::kConflict; }
};

// What a hook decided, in the framework's terms; the entry file maps it to the ABI's codes.
struct Verdict {
  enum class Code { kSuccess, kError, kUnschedulable, kUnresolvable };
  Code code = Code::kSuccess;
  std::string message;

  bool ok() const { return code == Code::kSuccess; }
  static Verdict success() { return {}; }
  static Verdict error(std::string m) { return {Code::kError, std::move(m)}; }
  static Verdict unschedulable(std::string m) { return {Code::kUnschedulable, std::move(m)}; }
  static Verdict unresolvable(std::string m) { return {Code::kUnresolvable, std::move(m)}; }
};

class Cluster {
 public:
  virtual ~Cluster() = default;

  // `fresh`: read the cluster itself, not a cache (before writing what was read).
  virtual Result get(std::string_view kind, std::string_view namespace_, std::string_view name,
                     bool fresh, kbinder::v1::Object* out) = 0;
  // `request.label_selector` and `request.field_selector` (ABI 1.2: any scalar field of the
  // schema, "spec.storageClassName=fast,status.phase!=Bound") are applied by the host on its
  // cached objects: ask for only what you need rather than filtering a whole list yourself.
  // So is `request.admits_node` (ABI 1.3: volumes whose node affinity admits that node).
  virtual Result list(const kbinder::v1::ListRequest& request, kbinder::v1::ObjectList* out) = 0;
  // Writes `object`'s difference from the stored object, guarded by its
  // metadata.resourceVersion (conflict when it changed). `subresource`: "" or "status".
  virtual Result patch(const kbinder::v1::Object& object, std::string_view subresource,
                       kbinder::v1::Object* out) = 0;

  // The call's deadline passed or the host cancelled the cycle: stop waiting.
  virtual bool cancelled() = 0;
  // Time left until the call's deadline.
  virtual std::chrono::milliseconds remaining() = 0;
  // Sleeps up to `duration`, less if the deadline comes first.
  virtual void sleep(std::chrono::milliseconds duration) = 0;

  virtual void info(std::string_view message) = 0;
};

}  // namespace kbinder::sdk
