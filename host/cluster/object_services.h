// SPDX-License-Identifier: Apache-2.0
// What the host's object services (get/list/patch, allow a waiting pod) reach: interfaces a
// cluster backend and the cycle implement. Calls arrive from plugin hooks on worker threads.
//
// Thread-safety: implementations must be safe to call from many threads at once.
#pragma once

#include <string>
#include <string_view>

#include "host/base/status.h"
#include "kbinder/v1/plugin.pb.h"

namespace kbinder::host {

class ObjectServices {
 public:
  virtual ~ObjectServices() = default;
  // NOT_FOUND when the object does not exist.
  virtual StatusOr<kbinder::v1::Object> get(const kbinder::v1::GetRequest& request) = 0;
  // get(), encoded (a kbinder.v1.Object's wire form): what a plugin's get is answered with, and
  // where the cycle takes the pod and node it hands the plugins from. This one encodes what
  // get() returns; a backend that keeps objects encoded hands them over as they are.
  virtual StatusOr<std::string> getEncoded(const kbinder::v1::GetRequest& request) {
    auto object = get(request);
    if (!object.ok()) return object.status();
    return object->SerializeAsString();
  }
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
