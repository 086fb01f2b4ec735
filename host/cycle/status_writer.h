// SPDX-License-Identifier: Apache-2.0
// What the controller writes about a BindRequest: its status, guarded by resourceVersion and
// rebased on a fresh read after a conflict, and the Events that tell a person what happened.
//
// Thread-safety: every method may be called from many threads at once.
#pragma once

#include <functional>
#include <string>
#include <utility>

#include "host/cluster/cluster.h"

namespace kbinder::host {

class RequestStatusWriter {
 public:
  // `reporting_instance`: the Events' reportingInstance.
  RequestStatusWriter(ClusterBackend& cluster, std::string reporting_instance)
      : cluster_(cluster), reporting_instance_(std::move(reporting_instance)) {}

  // Writes the status `next` makes of the request's current one: onto `read` (the version
  // the cycle started from), after a conflict onto a fresh read (so counts such as
  // failedAttempts build on what is stored), up to ten times. Returns the phase written, or
  // the terminal phase someone else wrote, or "" when nothing could be written (logged).
  // `key` is the request's "namespace/name".
  // The request `key` ("namespace/name") as the cluster holds it now, not as a cache has it.
  StatusOr<kbinder::v1::BindRequest> readFresh(const std::string& key);
  using NextStatus =
      std::function<kbinder::v1::BindRequestStatus(const kbinder::v1::BindRequestStatus& current)>;
  std::string write(const std::string& key, const kbinder::v1::BindRequest& read,
                    const NextStatus& next);
  // Records an Event about the request's pod (reporting controller "kbinder", action
  // "Binding"), related to the request; `note` is cut to the API's 1024 characters. A failure
  // is logged, not returned: Events are told, not relied on.
  void recordEvent(const kbinder::v1::BindRequest& request, const std::string& pod_uid,
                   bool warning, const std::string& reason, const std::string& note);

 private:
  ClusterBackend& cluster_;
  std::string reporting_instance_;
};

}  // namespace kbinder::host
