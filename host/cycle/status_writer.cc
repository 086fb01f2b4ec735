// SPDX-License-Identifier: Apache-2.0
#include "host/cycle/status_writer.h"

#include <utility>

#include "host/base/logging.h"
#include "host/base/object_key.h"

namespace kbinder::host {
namespace {

using kbinder::v1::BindRequest;

bool terminalPhase(const std::string& phase) {
  return phase == "Succeeded" || phase == "Failed";
}

}  // namespace

StatusOr<BindRequest> RequestStatusWriter::readFresh(const std::string& key) {
  const size_t slash = key.find('/');
  kbinder::v1::GetRequest get;
  get.set_kind("BindRequest");
  get.set_namespace_(key.substr(0, slash));
  get.set_name(key.substr(slash + 1));
  get.set_fresh(true);
  auto stored = cluster_.get(get);
  if (!stored.ok()) return stored.status();
  return std::move(*stored->mutable_bind_request());
}

std::string RequestStatusWriter::write(const std::string& key, const BindRequest& read,
                                       const NextStatus& next) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    // First onto the version the cycle started from (a write guarded by its resourceVersion:
    // a conflict if anything changed since); after a conflict, onto a fresh read. Either is
    // handed to the write itself, not copied.
    kbinder::v1::BindRequest current;
    if (attempt == 0) {
      current = read;
    } else {
      auto fresh = readFresh(key);
      if (!fresh.ok()) {
        hostLogger().warn("BindRequest {}: cannot write status: {}", key, fresh.status().message());
        return {};
      }
      current = std::move(fresh).value();
    }
    if (terminalPhase(current.status().phase())) {
      return current.status().phase();  // someone else finished it
    }
    *current.mutable_status() = next(current.status());
    std::string phase = current.status().phase();
    auto written = cluster_.writeBindRequestStatus(std::move(current));
    if (written.ok()) return phase;
    if (written.status().code() != StatusCode::kAborted) {
      hostLogger().warn("BindRequest {}: cannot write status: {}", key, written.status().message());
      return {};
    }
  }
  hostLogger().warn("BindRequest {}: status write kept conflicting; giving up this attempt", key);
  return {};
}

void RequestStatusWriter::recordEvent(const BindRequest& request, const std::string& pod_uid,
                                      bool warning, const std::string& reason,
                                      const std::string& note) {
  kbinder::v1::Object object;
  auto& event = *object.mutable_event();
  event.set_api_version(std::string(kindApiVersion(Kind::kEvent)));
  event.set_kind("Event");
  auto& meta = *event.mutable_metadata();
  meta.set_namespace_(request.metadata().namespace_());
  meta.set_generate_name(request.spec().pod_name() + ".");
  event.set_event_time(timestampNow(/*microseconds=*/true));
  event.set_reporting_controller("kbinder");
  event.set_reporting_instance(reporting_instance_);
  event.set_action("Binding");
  event.set_reason(reason);
  event.set_type(warning ? "Warning" : "Normal");
  event.set_note(note.size() > 1024 ? note.substr(0, 1021) + "..." : note);
  auto& regarding = *event.mutable_regarding();
  regarding.set_api_version("v1");
  regarding.set_kind("Pod");
  regarding.set_namespace_(request.metadata().namespace_());
  regarding.set_name(request.spec().pod_name());
  regarding.set_uid(pod_uid);
  auto& related = *event.mutable_related();
  related.set_api_version(std::string(kindApiVersion(Kind::kBindRequest)));
  related.set_kind("BindRequest");
  related.set_namespace_(request.metadata().namespace_());
  related.set_name(request.metadata().name());
  related.set_uid(request.metadata().uid());
  if (Status s = cluster_.recordEvent(object); !s.ok()) {
    hostLogger().warn("recording event {} for {}: {}", reason,
                      objectKey(request.metadata().namespace_(), request.metadata().name()),
                      s.message());
  }
}

}  // namespace kbinder::host
