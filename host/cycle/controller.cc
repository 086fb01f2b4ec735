// SPDX-License-Identifier: Apache-2.0
#include "host/cycle/controller.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "host/base/logging.h"
#include "host/base/metrics.h"

namespace kbinder::host {
namespace {

using kbinder::v1::BindRequest;

std::string keyOf(const kbinder::v1::ObjectMeta& meta) {
  return meta.namespace_() + "/" + meta.name();
}

bool terminalPhase(const std::string& phase) { return phase == "Succeeded" || phase == "Failed"; }

}  // namespace

Controller::Controller(const LoadedProfile& profile, ClusterBackend& cluster,
                       ControllerOptions options)
    : Controller(std::shared_ptr<const LoadedProfile>(&profile, [](const LoadedProfile*) {}),
                 cluster, std::move(options)) {}

Controller::Controller(std::shared_ptr<const LoadedProfile> profile, ClusterBackend& cluster,
                       ControllerOptions options)
    : cluster_(cluster), options_(std::move(options)) {
  replaceProfile(std::move(profile));
}

void Controller::replaceProfile(std::shared_ptr<const LoadedProfile> profile) {
  auto next = std::make_shared<Generation>();
  next->framework = std::make_unique<Framework>(*profile, cluster_, cache_, options_.metrics);
  next->profile = std::move(profile);
  std::lock_guard lock(mutex_);
  generation_ = std::move(next);
}

std::shared_ptr<Controller::Generation> Controller::current() const {
  std::lock_guard lock(mutex_);
  return generation_;
}

size_t Controller::queueDepth() const {
  std::lock_guard lock(mutex_);
  return ready_.size();
}

int Controller::cyclesInFlight() const {
  std::lock_guard lock(mutex_);
  return in_flight_;
}

Controller::~Controller() { stop(); }

std::chrono::milliseconds Controller::backoffDelay(const CycleSettings& settings,
                                                   int failed_attempts, double random_unit) {
  const double base = static_cast<double>(settings.backoff_base.count());
  const double cap = static_cast<double>(settings.backoff_cap.count());
  const double exponent = std::min(std::max(failed_attempts - 1, 0), 62);
  double delay = std::min(cap, base * std::pow(2.0, exponent));
  delay *= 1.0 + settings.backoff_jitter * (2.0 * random_unit - 1.0);
  return std::chrono::milliseconds(std::llround(std::max(delay, 0.0)));
}

Status Controller::start() {
  pods_ = std::make_unique<Informer>(cluster_, Kind::kPod, "", [this](const WatchEvent& e) {
    if (e.type == WatchEvent::Type::kDeleted) {
      cache_.removePod(e.object.pod());
    } else {
      cache_.upsertPod(e.object.pod());
    }
  });
  // Most changes to a pod the cache settles from its uid, node and phase (a Mutate's write, the
  // Binding it assumed): read from the bytes, the pod is decoded only when its requests count.
  pods_->handleEncoded([this](WatchEvent::Type type, std::string_view encoded) {
    const bool deleted = type == WatchEvent::Type::kDeleted;
    PodFacts facts;
    if (podFactsFromEncoded(encoded, facts) && cache_.notePod(facts, deleted)) return;
    kbinder::v1::Object object;
    if (!object.ParseFromArray(encoded.data(), static_cast<int>(encoded.size())) ||
        !object.has_pod()) {
      hostLogger().error("the pod watch handed over an object that is not a pod; skipped");
      return;
    }
    if (deleted) {
      cache_.removePod(object.pod());
    } else {
      cache_.upsertPod(object.pod());
    }
  });
  nodes_ = std::make_unique<Informer>(cluster_, Kind::kNode, "", [this](const WatchEvent& e) {
    if (e.type == WatchEvent::Type::kDeleted) {
      cache_.removeNode(e.object.node().metadata().name());
    } else {
      cache_.upsertNode(e.object.node());
    }
  });
  requests_ = std::make_unique<Informer>(cluster_, Kind::kBindRequest, options_.namespace_,
                                         [this](const WatchEvent& e) { onRequestEvent(e); });
  pods_->start();
  nodes_->start();
  for (Informer* informer : {pods_.get(), nodes_.get()}) {
    if (Status s = informer->waitForSync(); !s.ok()) return s.withContext("reading the cluster");
  }
  requests_->start();
  if (Status s = requests_->waitForSync(); !s.ok()) return s.withContext("reading BindRequests");
  const int workers = std::max(1, current()->profile->profile().cycle.workers);
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { worker(); });
  return okStatus();
}

void Controller::drain(std::chrono::milliseconds grace) {
  stopping_ = true;
  work_.notify_all();
  settled_.notify_all();
  {
    std::unique_lock lock(mutex_);
    work_.wait_for(lock, grace, [&] { return in_flight_ == 0; });
  }
  cancelled_ = true;
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
  for (auto* informer : {requests_.get(), pods_.get(), nodes_.get()}) {
    if (informer != nullptr) informer->stop();
  }
}

void Controller::onRequestEvent(const WatchEvent& event) {
  const BindRequest& request = event.object.bind_request();
  const std::string key = keyOf(request.metadata());
  std::lock_guard lock(mutex_);
  if (event.type == WatchEvent::Type::kDeleted) {
    forgetSettledLocked(key);
    items_.erase(key);  // a worker holding it finds it gone
    return;
  }
  const std::string& phase = request.status().phase();
  noteSettledLocked(key, terminalPhase(phase));
  RequestRecord& record = records_[key];
  record.namespace_ = request.metadata().namespace_();
  record.name = request.metadata().name();
  record.pod = request.spec().pod_name();
  record.node = request.spec().selected_node();
  record.phase = phase.empty() ? "Pending" : phase;
  record.reason = request.status().reason();
  if (terminalPhase(phase)) {
    if (const auto it = items_.find(key); it != items_.end()) it->second.latest.reset();
    return;
  }
  Item& item = items_[key];
  // Settled here already: this is an older version delivered late, or the request was set
  // going again; only a fresh read tells which.
  if (!item.terminal) item.latest = std::make_shared<const BindRequest>(request);
  enqueueLocked(key, Clock::now());
}

void Controller::noteSettledLocked(const std::string& key, bool terminal) {
  auto [it, inserted] = settled_keys_.try_emplace(key, terminal);
  if (!inserted) {
    if (it->second == terminal) return;
    it->second = terminal;
    if (!terminal) --settled_count_;
  }
  if (terminal) ++settled_count_;
  if (settled_count_ == settled_keys_.size()) settled_.notify_all();
}

void Controller::forgetSettledLocked(const std::string& key) {
  const auto it = settled_keys_.find(key);
  if (it == settled_keys_.end()) return;
  if (it->second) --settled_count_;
  settled_keys_.erase(it);
  if (settled_count_ == settled_keys_.size()) settled_.notify_all();
}

void Controller::enqueueLocked(const std::string& key, Clock::time_point not_before) {
  Item& item = items_[key];
  not_before = std::max(not_before, item.retry_at);
  if (item.processing) {
    item.dirty = true;
    return;
  }
  if (item.queued) {
    if (not_before <= item.not_before) return;
    ready_.erase({item.not_before, key});
  }
  item.queued = true;
  item.not_before = not_before;
  ready_.insert({not_before, key});
  work_.notify_one();
}

void Controller::worker() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (ready_.empty()) {
      work_.wait(lock);
      continue;
    }
    const auto [when, key] = *ready_.begin();
    if (when > Clock::now()) {
      work_.wait_until(lock, when);
      continue;
    }
    ready_.erase(ready_.begin());
    Item& item = items_[key];
    item.queued = false;
    item.processing = true;
    ++in_flight_;
    lock.unlock();
    process(key);
    lock.lock();
    --in_flight_;
    work_.notify_all();
    const auto it = items_.find(key);
    if (it == items_.end()) continue;
    it->second.processing = false;
    if (it->second.dirty && !it->second.terminal) {
      it->second.dirty = false;
      enqueueLocked(key, Clock::now());
    }
  }
}

void Controller::process(const std::string& key) {
  std::shared_ptr<const BindRequest> latest;
  {
    std::lock_guard lock(mutex_);
    if (const auto it = items_.find(key); it != items_.end()) latest = it->second.latest;
  }
  if (latest == nullptr) {  // none kept: the request was settled here and came back (see above)
    const size_t slash = key.find('/');
    kbinder::v1::GetRequest get;
    get.set_kind("BindRequest");
    get.set_namespace_(key.substr(0, slash));
    get.set_name(key.substr(slash + 1));
    get.set_fresh(true);
    auto stored = cluster_.get(get);
    if (!stored.ok()) {
      if (stored.status().code() != StatusCode::kNotFound) {
        hostLogger().warn("reading BindRequest {}: {}; retrying", key, stored.status().message());
        std::lock_guard lock(mutex_);
        items_[key].retry_at = Clock::now() + std::chrono::seconds(1);
        enqueueLocked(key, Clock::now());
      }
      return;
    }
    latest = std::make_shared<const BindRequest>(std::move(*stored->mutable_bind_request()));
  }
  const BindRequest& request = *latest;
  if (terminalPhase(request.status().phase())) {
    std::lock_guard lock(mutex_);
    items_[key].terminal = true;
    return;
  }

  CycleInput input;
  input.request = request;
  input.attempt = static_cast<uint32_t>(std::max(0, request.status().failed_attempts())) + 1;
  input.cancelled = &cancelled_;
  {
    std::lock_guard lock(mutex_);
    const auto uid = pod_uids_.find(request.metadata().uid());
    if (uid != pod_uids_.end()) input.expected_pod_uid = uid->second;
    records_[key].attempts++;
  }
  const auto generation = current();  // the profile this cycle runs on, kept while it runs
  const auto started = Clock::now();
  const CycleResult result = generation->framework->run(input);
  if (cancelled_ && result.outcome == CycleOutcome::kRetry) return;  // shutting down: no verdict
  if (options_.metrics != nullptr) {
    options_.metrics->attempt(std::string(cycleOutcomeName(result.outcome)), Clock::now() - started);
  }
  const CycleSettings& settings = generation->profile->profile().cycle;
  {
    std::lock_guard lock(mutex_);
    if (!result.pod_uid.empty()) pod_uids_.emplace(request.metadata().uid(), result.pod_uid);
  }

  kbinder::v1::BindRequestStatus status;  // the status last made for writing
  std::string phase;
  if (result.outcome == CycleOutcome::kSucceeded) {
    phase = writeStatus(key, request, [&](const kbinder::v1::BindRequestStatus& current) {
      status = current;
      status.set_phase("Succeeded");
      status.set_reason(result.already_bound ? result.reason : "");
      return status;
    });
    if (phase == "Succeeded") {
      recordEvent(request, result.pod_uid, false, "Bound",
                  result.already_bound ? "Pod " + request.spec().pod_name() + " was already bound to " +
                                             request.spec().selected_node()
                                       : "Bound pod " + request.spec().pod_name() + " to node " +
                                             request.spec().selected_node());
    }
  } else {
    const int limit = request.spec().has_backoff_limit()
                          ? request.spec().backoff_limit()
                          : settings.default_backoff_limit;
    phase = writeStatus(key, request, [&](const kbinder::v1::BindRequestStatus& current) {
      status = current;
      const int failed = current.failed_attempts() + 1;
      status.set_failed_attempts(failed);
      status.set_reason(result.reason);
      status.set_phase(result.outcome == CycleOutcome::kFailed || failed >= limit ? "Failed"
                                                                                  : "Pending");
      return status;
    });
    if (!phase.empty() && phase == status.phase()) {
      const int failed = status.failed_attempts();
      recordEvent(request, result.pod_uid, true, "BindAttemptFailed",
                  "Attempt " + std::to_string(failed) + " failed: " + result.reason);
      if (phase == "Failed") {
        const std::string why = result.outcome == CycleOutcome::kFailed
                                    ? "retrying cannot help"
                                    : "backoffLimit " + std::to_string(limit) + " reached";
        recordEvent(request, result.pod_uid, true, "BindFailed",
                    "Gave up binding pod " + request.spec().pod_name() + " (" + why +
                        "): " + result.reason);
      }
    }
  }

  std::lock_guard lock(mutex_);
  Item& item = items_[key];
  RequestRecord& record = records_[key];
  if (!phase.empty()) {
    record.phase = phase;
    record.reason = status.reason();
  }
  if (terminalPhase(phase)) {
    item.terminal = true;
    item.dirty = false;
    item.latest.reset();
    if (options_.metrics != nullptr) options_.metrics->requestFinished(phase);
  } else if (phase == "Pending") {
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    item.retry_at = Clock::now() + backoffDelay(settings,
                                                status.failed_attempts(), unit(random_));
    item.dirty = true;  // look again once the backoff passed
  } else if (phase.empty()) {
    // The status was not written (the API server unreachable, conflicts without end): nothing
    // else would bring the request back, so look again after the base backoff. A pod this
    // cycle bound makes that attempt succeed at once; a request deleted meanwhile is dropped.
    item.retry_at = Clock::now() + settings.backoff_base;
    item.dirty = true;
  }
}

std::string Controller::writeStatus(const std::string& key, const BindRequest& read,
                                    const NextStatus& next) {
  const size_t slash = key.find('/');
  for (int attempt = 0; attempt < 10; ++attempt) {
    // First onto the version the cycle started from (a write guarded by its resourceVersion:
    // a conflict if anything changed since); after a conflict, onto a fresh read. Either is
    // handed to the write itself, not copied.
    kbinder::v1::BindRequest current;
    if (attempt == 0) {
      current = read;
    } else {
      kbinder::v1::GetRequest get;
      get.set_kind("BindRequest");
      get.set_namespace_(key.substr(0, slash));
      get.set_name(key.substr(slash + 1));
      get.set_fresh(true);
      auto fresh = cluster_.get(get);
      if (!fresh.ok()) {
        hostLogger().warn("BindRequest {}: cannot write status: {}", key, fresh.status().message());
        return {};
      }
      current = std::move(*fresh->mutable_bind_request());
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

void Controller::recordEvent(const BindRequest& request, const std::string& pod_uid, bool warning,
                             const std::string& reason, const std::string& note) {
  kbinder::v1::Object object;
  auto& event = *object.mutable_event();
  event.set_api_version(std::string(kindApiVersion(Kind::kEvent)));
  event.set_kind("Event");
  auto& meta = *event.mutable_metadata();
  meta.set_namespace_(request.metadata().namespace_());
  meta.set_generate_name(request.spec().pod_name() + ".");
  event.set_event_time(timestampNow(/*microseconds=*/true));
  event.set_reporting_controller("kbinder");
  event.set_reporting_instance(options_.reporting_instance);
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
    hostLogger().warn("recording event {} for {}: {}", reason, keyOf(request.metadata()),
                      s.message());
  }
}

void Controller::waitUntilSettled(const std::function<void(size_t, size_t)>& progress,
                                  std::chrono::milliseconds interval) {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (progress) progress(settled_count_, settled_keys_.size());
    if (settled_count_ == settled_keys_.size()) return;
    settled_.wait_for(lock, interval);
  }
}

std::vector<RequestRecord> Controller::records() const {
  std::lock_guard lock(mutex_);
  std::vector<RequestRecord> out;
  out.reserve(records_.size());
  for (const auto& [key, record] : records_) out.push_back(record);
  std::sort(out.begin(), out.end(), [](const RequestRecord& a, const RequestRecord& b) {
    return std::tie(a.namespace_, a.name) < std::tie(b.namespace_, b.name);
  });
  return out;
}

}  // namespace kbinder::host
