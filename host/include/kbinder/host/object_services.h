// What the host's object services (get/list/patch, allow a waiting pod) reach: interfaces a
// cluster backend and the cycle implement. Calls arrive from plugin hooks on worker threads.
//
// Thread-safety: implementations must be safe to call from many threads at once.
#pragma once

#include <string_view>

#include "kbinder/host/status.h"
#include "kbinder/v1/plugin.pb.h"

namespace kbinder::host {

class ObjectServices {
 public:
  virtual ~ObjectServices() = default;
  // NOT_FOUND when the object does not exist.
  virtual StatusOr<kbinder::v1::Object> get(const kbinder::v1::GetRequest& request) = 0;
  virtual StatusOr<kbinder::v1::ObjectList> list(const kbinder::v1::ListRequest& request) = 0;
  // ABORTED when the object's resourceVersion is no longer the stored one.
  virtual StatusOr<kbinder::v1::Object> patch(const kbinder::v1::PatchRequest& request) = 0;
};

class WaitingPods {
 public:
  virtual ~WaitingPods() = default;
  // NOT_FOUND when no pod with that UID waits at Permit.
  virtual Status allow(std::string_view pod_uid, std::string_view plugin_name) = 0;
};

}  // namespace kbinder::host
