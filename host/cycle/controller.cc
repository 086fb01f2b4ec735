// SPDX-License-Identifier: Apache-2.0
#include "host/cycle/controller.h"

#include <algorithm>
#include <tuple>

#include "host/base/backoff.h"
#include "host/base/logging.h"
#include "host/base/metrics.h"
#include "host/base/object_key.h"

namespace kbinder::host {
namespace {

using kbinder::v1::BindRequest;

bool terminalPhase(const std::string& phase) {
  return phase == "Succeeded" || phase == "Failed";
}

}  // namespace

Controller::Controller(const LoadedProfile& profile, ClusterBackend& cluster,
                       ControllerOptions options)
    : Controller(std::shared_ptr<const LoadedProfile>(&profile, [](const LoadedProfile*) {}),
                 cluster, std::move(options)) {}

Controller::Controller(std::shared_ptr<const LoadedProfile> profile, ClusterBackend& cluster,
                       ControllerOptions options)
    : cluster_(cluster),
      options_(std::move(options)),
      status_writer_(cluster, options_.reporting_instance) {
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
  return queue_.depth();
}

int Controller::cyclesInFlight() const {
  return queue_.processing();
}

size_t Controller::assumedPods() const {
  return cache_.assumedPods();
}

Controller::~Controller() {
  stop();
}

std::chrono::milliseconds Controller::backoffDelay(const CycleSettings& settings,
                                                   int failed_attempts, double random_unit) {
  return host::backoffDelay(settings.backoff_base, settings.backoff_cap, settings.backoff_jitter,
                            failed_attempts, random_unit);
}

Status Controller::start() {
  // Most changes to a pod the cache settles from its uid, node and phase (a Mutate's write, the
  // Binding it assumed): read from the bytes where the backend hands them over encoded, the pod
  // is decoded only when its requests count.
  auto pods = cluster_.subscribe(
      Kind::kPod, "",
      [this](const WatchEvent& e) {
        if (e.type == WatchEvent::Type::kDeleted) {
          cache_.removePod(e.object.pod());
        } else {
          cache_.upsertPod(e.object.pod());
        }
      },
      [this](WatchEvent::Type type, std::string_view encoded) {
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
  if (!pods.ok()) return pods.status().withContext("following pods");
  pods_ = std::move(pods).value();
  auto nodes = cluster_.subscribe(Kind::kNode, "", [this](const WatchEvent& e) {
    if (e.type == WatchEvent::Type::kDeleted) {
      cache_.removeNode(e.object.node().metadata().name());
    } else {
      cache_.upsertNode(e.object.node());
    }
  });
  if (!nodes.ok()) return nodes.status().withContext("following nodes");
  nodes_ = std::move(nodes).value();
  for (Subscription* subscription : {pods_.get(), nodes_.get()}) {
    if (Status s = subscription->waitForSync(); !s.ok())
      return s.withContext("reading the cluster");
  }
  auto requests = cluster_.subscribe(Kind::kBindRequest, options_.namespace_,
                                     [this](const WatchEvent& e) { onRequestEvent(e); });
  if (!requests.ok()) return requests.status().withContext("following BindRequests");
  requests_ = std::move(requests).value();
  if (Status s = requests_->waitForSync(); !s.ok()) return s.withContext("reading BindRequests");
  const int workers = std::max(1, current()->profile->profile().cycle.workers);
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { worker(); });
  return okStatus();
}

void Controller::drain(std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(mutex_);  // waitUntilSettled reads it under the lock
    stopping_ = true;
  }
  queue_.shutDown();
  settled_.notify_all();
  queue_.waitIdle(grace);
  cancelled_ = true;
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
  for (Subscription* subscription : {requests_.get(), pods_.get(), nodes_.get()}) {
    if (subscription != nullptr) subscription->stop();
  }
}

void Controller::onRequestEvent(const WatchEvent& event) {
  const BindRequest& request = event.object.bind_request();
  const std::string key = objectKey(request.metadata().namespace_(), request.metadata().name());
  std::lock_guard lock(mutex_);
  if (event.type == WatchEvent::Type::kDeleted) {
    forgetSettledLocked(key);
    tracked_.erase(key);
    queue_.forget(key);  // a worker holding it finishes without effect
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
    if (const auto it = tracked_.find(key); it != tracked_.end()) it->second.latest.reset();
    return;
  }
  Tracked& tracked = tracked_[key];
  // Settled here already: this is an older version delivered late, or the request was set
  // going again; only a fresh read tells which.
  if (!tracked.terminal) tracked.latest = std::make_shared<const BindRequest>(request);
  queue_.add(key);
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

void Controller::worker() {
  while (const auto key = queue_.get()) {
    process(*key);
    bool terminal = false;
    {
      std::lock_guard lock(mutex_);
      if (const auto it = tracked_.find(*key); it != tracked_.end()) terminal = it->second.terminal;
    }
    // A request settled here is looked at again only for a change that comes after.
    queue_.done(*key, terminal ? WorkQueue::After::kSettled : WorkQueue::After::kAgainIfChanged);
  }
}

void Controller::process(const std::string& key) {
  std::shared_ptr<const BindRequest> latest;
  {
    std::lock_guard lock(mutex_);
    if (const auto it = tracked_.find(key); it != tracked_.end()) latest = it->second.latest;
  }
  if (latest == nullptr) {  // none kept: the request was settled here and came back (see above)
    auto stored = status_writer_.readFresh(key);
    if (!stored.ok()) {
      if (stored.status().code() != StatusCode::kNotFound) {
        hostLogger().warn("reading BindRequest {}: {}; retrying", key, stored.status().message());
        queue_.holdUntil(key, Clock::now() + std::chrono::seconds(1));
      }
      return;
    }
    latest = std::make_shared<const BindRequest>(std::move(stored).value());
  }
  const BindRequest& request = *latest;
  if (terminalPhase(request.status().phase())) {
    std::lock_guard lock(mutex_);
    tracked_[key].terminal = true;
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
    options_.metrics->attempt(std::string(cycleOutcomeName(result.outcome)),
                              Clock::now() - started);
  }
  const CycleSettings& settings = generation->profile->profile().cycle;
  {
    std::lock_guard lock(mutex_);
    if (!result.pod_uid.empty()) pod_uids_.emplace(request.metadata().uid(), result.pod_uid);
  }

  kbinder::v1::BindRequestStatus status;  // the status last made for writing
  std::string phase;
  if (result.outcome == CycleOutcome::kSucceeded) {
    phase = status_writer_.write(key, request, [&](const kbinder::v1::BindRequestStatus& current) {
      status = current;
      status.set_phase("Succeeded");
      status.set_reason(result.already_bound ? result.reason : "");
      return status;
    });
    if (phase == "Succeeded") {
      status_writer_.recordEvent(request, result.pod_uid, false, "Bound",
                                 result.already_bound
                                     ? "Pod " + request.spec().pod_name() +
                                           " was already bound to " + request.spec().selected_node()
                                     : "Bound pod " + request.spec().pod_name() + " to node " +
                                           request.spec().selected_node());
    }
  } else {
    const int limit = request.spec().has_backoff_limit() ? request.spec().backoff_limit()
                                                         : settings.default_backoff_limit;
    phase = status_writer_.write(key, request, [&](const kbinder::v1::BindRequestStatus& current) {
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
      status_writer_.recordEvent(request, result.pod_uid, true, "BindAttemptFailed",
                                 "Attempt " + std::to_string(failed) + " failed: " + result.reason);
      if (phase == "Failed") {
        const std::string why = result.outcome == CycleOutcome::kFailed
                                    ? "retrying cannot help"
                                    : "backoffLimit " + std::to_string(limit) + " reached";
        status_writer_.recordEvent(request, result.pod_uid, true, "BindFailed",
                                   "Gave up binding pod " + request.spec().pod_name() + " (" + why +
                                       "): " + result.reason);
      }
    }
  }

  std::lock_guard lock(mutex_);
  Tracked& tracked = tracked_[key];
  RequestRecord& record = records_[key];
  if (!phase.empty()) {
    record.phase = phase;
    record.reason = status.reason();
  }
  if (terminalPhase(phase)) {
    tracked.terminal = true;
    tracked.latest.reset();
    if (options_.metrics != nullptr) options_.metrics->requestFinished(phase);
  } else if (phase == "Pending") {
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    // Looked at again once the backoff passed.
    queue_.holdUntil(
        key, Clock::now() + backoffDelay(settings, status.failed_attempts(), unit(random_)));
  } else if (phase.empty()) {
    // The status was not written (the API server unreachable, conflicts without end): nothing
    // else would bring the request back, so look again after the base backoff. A pod this
    // cycle bound makes that attempt succeed at once; a request deleted meanwhile is dropped.
    queue_.holdUntil(key, Clock::now() + settings.backoff_base);
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
