// SPDX-License-Identifier: Apache-2.0
#include "host/cycle/framework.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "host/base/logging.h"
#include "host/base/metrics.h"
#include "host/base/object_key.h"

namespace kbinder::host {
namespace {

using Clock = std::chrono::steady_clock;
using kbinder::v1::Pod;

std::string seconds(std::chrono::nanoseconds d) {
  char text[32];
  std::snprintf(text, sizeof text, "%gs", std::chrono::duration<double>(d).count());
  return text;
}

// How a plugin's failing status ends the attempt.
CycleOutcome outcomeFor(Code code) {
  return code == Code::kUnschedulableAndUnresolvable ? CycleOutcome::kFailed : CycleOutcome::kRetry;
}

kbinder_bytes bytesOf(const std::string& s) {
  return kbinder_bytes{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

std::string_view cycleOutcomeName(CycleOutcome outcome) {
  switch (outcome) {
    case CycleOutcome::kSucceeded: return "Succeeded";
    case CycleOutcome::kRetry: return "Retry";
    case CycleOutcome::kFailed: return "Failed";
  }
  return "Unknown";
}

// One cycle (an attempt runs one, or two when the first started from a stale copy of the pod):
// owns the per-cycle plugin state slots and releases them when it ends.
class Framework::Cycle {
 public:
  // fresh: read the pod from the server rather than from a watch-fed copy.
  Cycle(Framework& framework, const CycleInput& input, bool fresh)
      : fw_(framework),
        input_(input),
        fresh_(fresh),
        states_(framework.plugins_.cyclePlugins().size(), nullptr) {
    const auto& spec = input.request.spec();
    log_context_ =
        "request " +
        objectKey(input.request.metadata().namespace_(), input.request.metadata().name()) +
        " (pod " + spec.pod_name() + " -> " + spec.selected_node() + ")";
  }

  std::chrono::nanoseconds pluginTime() const { return plugin_time_; }
  // The cycle started from a copy of the pod that turned out stale: run it again, fresh.
  bool stale() const { return stale_; }

  ~Cycle() {
    for (size_t i = 0; i < states_.size(); ++i) {
      if (states_[i] != nullptr) fw_.plugins_.cyclePlugins()[i]->releaseCycleState(states_[i]);
    }
  }

  CycleResult run() {
    CycleResult result = load();
    if (result.outcome != CycleOutcome::kSucceeded || result.already_bound) return result;
    if (auto failed = validate()) return *failed;
    if (auto failed = mutate()) return *failed;

    if (Status s = fw_.cache_.assume(pod_, node_name_); !s.ok()) {
      revertMutation();
      return fail(
          s.code() == StatusCode::kInvalidArgument ? CycleOutcome::kFailed : CycleOutcome::kRetry,
          "assume: " + s.message());
    }
    if (auto failed = afterAssume()) {
      rollback();
      revertMutation();
      return *failed;
    }
    postBind();
    CycleResult ok;
    ok.pod_uid = pod_.metadata().uid();
    ok.reason = "bound to " + node_name_;
    return ok;
  }

 private:
  using Failure = std::optional<CycleResult>;

  CycleResult fail(CycleOutcome outcome, std::string reason) const {
    CycleResult r;
    r.outcome = outcome;
    r.reason = std::move(reason);
    r.pod_uid = pod_.metadata().uid();
    return r;
  }

  CycleResult load() {
    const auto& request = input_.request;
    node_name_ = request.spec().selected_node();
    if (request.spec().pod_name().empty())
      return fail(CycleOutcome::kFailed, "spec.podName is empty");
    if (node_name_.empty()) return fail(CycleOutcome::kFailed, "spec.selectedNode is empty");
    CycleResult decided = loadPod(fresh_);
    // A watch-fed copy may lag behind: whatever it shows but a pod to bind is confirmed afresh
    // (a pod created just before its request, bound by an earlier attempt, deleted or
    // recreated). A pod to bind goes ahead on the copy: Mutate's write carries its
    // resourceVersion and the Binding its UID, so a stale copy ends in a conflict, not a
    // wrong outcome.
    const auto final = [](const CycleResult& r) {
      return r.outcome != CycleOutcome::kSucceeded || r.already_bound;
    };
    if (!fresh_ && final(decided)) decided = loadPod(true);
    if (final(decided)) return decided;

    kbinder::v1::GetRequest get;
    get.set_kind("Node");
    get.set_name(node_name_);
    get.set_fresh(false);  // nothing is written to the node: a watch-fed copy will do
    // Only the plugins read the node: it is taken encoded, as the backend keeps it, and never
    // decoded here.
    auto node = fw_.cluster_.getEncoded(get);
    if (!node.ok()) {
      const bool gone = node.status().code() == StatusCode::kNotFound;
      return fail(CycleOutcome::kRetry, gone ? "node " + node_name_ + " not found"
                                             : "reading node: " + node.status().message());
    }
    node_bytes_.clear();
    if (!appendEncodedPayload(*node, node_bytes_)) {
      return fail(CycleOutcome::kRetry, "reading node: the backend's answer does not decode");
    }
    return CycleResult{};
  }

  // Reads the request's pod and decides from it: go ahead (an empty result), already bound
  // here, or fail.
  CycleResult loadPod(bool fresh) {
    const auto& request = input_.request;
    const std::string& ns = request.metadata().namespace_();
    const std::string& pod_name = request.spec().pod_name();
    kbinder::v1::GetRequest get;
    get.set_kind("Pod");
    get.set_namespace_(ns);
    get.set_name(pod_name);
    get.set_fresh(fresh);
    // Encoded, as the backend keeps it (or encodes it from its cache): decoded here once and
    // handed to the plugins as it came, not encoded again.
    auto pod = fw_.cluster_.getEncoded(get);
    if (!pod.ok()) {
      if (pod.status().code() == StatusCode::kNotFound) {
        return fail(CycleOutcome::kFailed, "pod " + ns + "/" + pod_name + " not found (deleted)");
      }
      return fail(CycleOutcome::kRetry, "reading pod: " + pod.status().message());
    }
    pod_bytes_.clear();
    if (!appendEncodedPayload(*pod, pod_bytes_) || !pod_.ParseFromString(pod_bytes_)) {
      return fail(CycleOutcome::kRetry, "reading pod: the backend's answer does not decode");
    }
    const std::string expected = expectedPodUid();
    if (!expected.empty() && expected != pod_.metadata().uid()) {
      return fail(CycleOutcome::kFailed, "pod " + ns + "/" + pod_name + " was recreated (uid " +
                                             pod_.metadata().uid() + ", the request is for uid " +
                                             expected + ")");
    }
    const std::string& bound_to = pod_.spec().node_name();
    if (bound_to == node_name_) {
      CycleResult r;
      r.pod_uid = pod_.metadata().uid();
      r.already_bound = true;
      r.reason = "pod already bound to " + node_name_;
      return r;
    }
    if (!bound_to.empty()) {
      return fail(CycleOutcome::kFailed,
                  "pod is bound to node " + bound_to + ", not the selected node " + node_name_);
    }
    if (!pod_.metadata().deletion_timestamp().empty()) {
      return fail(CycleOutcome::kFailed, "pod " + ns + "/" + pod_name + " is being deleted");
    }
    return CycleResult{};
  }

  // The uid of the pod the request is for: from the caller, else the request's owner reference.
  std::string expectedPodUid() const {
    if (!input_.expected_pod_uid.empty()) return input_.expected_pod_uid;
    for (const auto& owner : input_.request.metadata().owner_references()) {
      if (owner.kind() == "Pod" && owner.name() == input_.request.spec().pod_name()) {
        return owner.uid();
      }
    }
    return {};
  }

  // The cycle's objects as the plugins see them: the pod and the node as the backend handed
  // them over (the pod encoded again only when Mutate changed it), the request encoded once,
  // when the first hook is called (a profile without plugins encodes nothing).
  kbinder_cycle cycleView() {
    if (!encoded_) {
      request_bytes_ = input_.request.SerializeAsString();
      encoded_ = true;
    }
    kbinder_cycle c{};
    c.struct_size = sizeof(kbinder_cycle);
    c.struct_version = KBINDER_ABI_VERSION;
    c.cycle_id = cycle_id_;
    c.attempt = input_.attempt;
    c.bind_request = bytesOf(request_bytes_);
    c.pod = bytesOf(pod_bytes_);
    c.node = bytesOf(node_bytes_);
    return c;
  }

  HookOutcome call(CyclePlugin& plugin, ExtensionPoint point) {
    CallEnvironment env;
    env.timeout = plugin.hookTimeout();
    env.cancelled = input_.cancelled;
    env.objects = &fw_.cluster_;
    env.waiting_pods = &fw_.waiting_;
    env.log_context = log_context_;
    const kbinder_cycle view = cycleView();
    HookOutcome outcome = plugin.invoke(point, view, &states_[fw_.slot_.at(&plugin)], env);
    plugin_time_ += outcome.duration;
    if (fw_.metrics_ != nullptr) {
      fw_.metrics_->pluginCall(plugin.name(), std::string(extensionPointName(point)),
                               std::string(codeName(outcome.code)), outcome.duration);
    }
    hostLogger().debug("{}: {} {} -> {}{}{}", log_context_, plugin.name(),
                       extensionPointName(point), codeName(outcome.code),
                       outcome.message.empty() ? "" : ": ", outcome.message);
    return outcome;
  }

  std::string describe(const CyclePlugin& plugin, ExtensionPoint point,
                       const HookOutcome& outcome) const {
    // A host-made fault message already names the plugin and the point.
    if (outcome.message.rfind("plugin '", 0) == 0) return outcome.message;
    return std::string(extensionPointName(point)) + " " + plugin.name() + ": " +
           std::string(codeName(outcome.code)) +
           (outcome.message.empty() ? "" : ": " + outcome.message);
  }

  Failure validate() {
    std::vector<std::string> problems;
    bool fault = false;
    for (CyclePlugin* plugin : fw_.plugins_.runAt(ExtensionPoint::kValidate)) {
      HookOutcome outcome = call(*plugin, ExtensionPoint::kValidate);
      if (outcome.code == Code::kSuccess && outcome.validate().errors().empty()) continue;
      fault = fault || outcome.code == Code::kError;
      for (const auto& e : outcome.validate().errors())
        problems.push_back(plugin->name() + ": " + e);
      if (outcome.validate().errors().empty() || outcome.code == Code::kError) {
        problems.push_back(describe(*plugin, ExtensionPoint::kValidate, outcome));
      }
    }
    if (problems.empty()) return std::nullopt;
    std::string reason = "validate: ";
    for (size_t i = 0; i < problems.size(); ++i) reason += (i ? "; " : "") + problems[i];
    // An invalid pod stays invalid; a plugin fault may not recur.
    return fail(fault ? CycleOutcome::kRetry : CycleOutcome::kFailed, reason);
  }

  // A label or annotation Mutate changed: its value before and after (nullopt: absent).
  struct Change {
    bool label;
    std::string key;
    std::optional<std::string> before, after;
  };

  static std::optional<std::string> valueOf(
      const google::protobuf::Map<std::string, std::string>& map, const std::string& key) {
    const auto it = map.find(key);
    if (it == map.end()) return std::nullopt;
    return it->second;
  }

  // Puts back the labels and annotations Mutate wrote that still hold what it wrote.
  void revertMutation() {
    if (mutation_.empty()) return;
    for (int attempt = 0; attempt < 5; ++attempt) {
      kbinder::v1::GetRequest get;
      get.set_kind("Pod");
      get.set_namespace_(pod_.metadata().namespace_());
      get.set_name(pod_.metadata().name());
      get.set_fresh(true);
      auto current = fw_.cluster_.get(get);
      if (!current.ok() || current->pod().metadata().uid() != pod_.metadata().uid()) return;
      const auto& meta = current->pod().metadata();
      std::vector<MetadataEdit> edits;
      for (const Change& c : mutation_) {
        const auto& map = c.label ? meta.labels() : meta.annotations();
        if (valueOf(map, c.key) != c.after) continue;  // changed since: not ours to undo
        edits.push_back({c.label ? MetadataEdit::Map::kLabels : MetadataEdit::Map::kAnnotations,
                         c.key, c.before});
      }
      if (edits.empty()) return;
      auto written = fw_.cluster_.patchMetadata(Kind::kPod, meta.namespace_(), meta.name(),
                                                meta.resource_version(), edits);
      if (written.ok()) return;
      const StatusCode code = written.status().code();
      if (code != StatusCode::kAborted && code != StatusCode::kUnavailable) {
        hostLogger().warn("{}: reverting Mutate's changes: {}", log_context_,
                          written.status().message());
        return;
      }
      // A conflict: read again. The API server unreachable for a moment: try again.
    }
  }

  Failure mutate() {
    const auto& mutators = fw_.plugins_.runAt(ExtensionPoint::kMutate);
    if (mutators.empty()) return std::nullopt;
    // The pod's labels and annotations as the plugins leave them (the rest is not theirs).
    kbinder::v1::ObjectMeta meta;
    *meta.mutable_labels() = pod_.metadata().labels();
    *meta.mutable_annotations() = pod_.metadata().annotations();
    bool any = false;
    for (CyclePlugin* plugin : mutators) {
      HookOutcome outcome = call(*plugin, ExtensionPoint::kMutate);
      if (outcome.code != Code::kSuccess) {
        return fail(CycleOutcome::kRetry, describe(*plugin, ExtensionPoint::kMutate, outcome));
      }
      const auto& m = outcome.mutate();
      for (const auto& key : m.remove_labels()) any = meta.mutable_labels()->erase(key) || any;
      for (const auto& key : m.remove_annotations()) {
        any = meta.mutable_annotations()->erase(key) || any;
      }
      for (const auto& [k, v] : m.set_labels()) {
        auto& slot = (*meta.mutable_labels())[k];
        any = any || slot != v;
        slot = v;
      }
      for (const auto& [k, v] : m.set_annotations()) {
        auto& slot = (*meta.mutable_annotations())[k];
        any = any || slot != v;
        slot = v;
      }
    }
    if (!any) return std::nullopt;
    std::vector<Change> changes;
    for (bool label : {true, false}) {
      const auto& before = label ? pod_.metadata().labels() : pod_.metadata().annotations();
      const auto& after = label ? meta.labels() : meta.annotations();
      for (const auto& [k, v] : before) {
        if (valueOf(after, k) != v) changes.push_back({label, k, v, valueOf(after, k)});
      }
      for (const auto& [k, v] : after) {
        if (before.find(k) == before.end()) changes.push_back({label, k, std::nullopt, v});
      }
    }
    std::vector<MetadataEdit> edits;
    edits.reserve(changes.size());
    for (const Change& c : changes) {
      edits.push_back(
          {c.label ? MetadataEdit::Map::kLabels : MetadataEdit::Map::kAnnotations, c.key, c.after});
    }
    if (bindsWithAnnotations(edits)) {
      // Annotations only set go with the Binding, which the API server merges into the pod's as
      // it binds it, guarded by the resourceVersion read as this patch would have been: one
      // write instead of two, nothing to put back if the cycle fails, and the annotations
      // appear together with the node.
      for (const MetadataEdit& edit : edits) binding_annotations_[edit.key] = *edit.value;
      applyMetadataEdits(edits, *pod_.mutable_metadata());
      kbinder::v1::Pod fragment;
      applyMetadataEdits(edits, *fragment.mutable_metadata());
      fragment.AppendToString(&pod_bytes_);
      return std::nullopt;
    }
    auto written =
        fw_.cluster_.patchMetadata(Kind::kPod, pod_.metadata().namespace_(), pod_.metadata().name(),
                                   pod_.metadata().resource_version(), edits);
    if (!written.ok()) {
      // A conflict on a watch-fed copy: the copy was behind; the caller starts over, fresh.
      stale_ = !fresh_ && written.status().code() == StatusCode::kAborted;
      return fail(
          written.status().code() == StatusCode::kNotFound ? CycleOutcome::kFailed
                                                           : CycleOutcome::kRetry,
          "mutate: writing the pod's labels and annotations: " + written.status().message());
    }
    // The pod as written: the version read (the write was guarded by its resourceVersion) with
    // the edits. Edits that only set keys are appended to the bytes the plugins are handed
    // (a map entry parsed later replaces one with the same key); a removal encodes it again.
    applyMetadataEdits(edits, *pod_.mutable_metadata());
    pod_.mutable_metadata()->set_resource_version(*written);
    const bool sets_only = editsOnlySet(edits);
    if (sets_only) {
      kbinder::v1::Pod fragment;
      applyMetadataEdits(edits, *fragment.mutable_metadata());
      fragment.mutable_metadata()->set_resource_version(*written);
      fragment.AppendToString(&pod_bytes_);
    } else {
      pod_bytes_ = pod_.SerializeAsString();
    }
    mutation_ = std::move(changes);
    return std::nullopt;
  }

  // Whether Mutate's `edits` go with the Binding: the profile lets them, they only set
  // annotations (a Binding carries no labels and removes nothing), and the default binder binds
  // (no Bind plugin).
  bool bindsWithAnnotations(const std::vector<MetadataEdit>& edits) const {
    if (!fw_.plugins_.cycleSettings().annotations_with_binding) return false;
    if (!fw_.plugins_.runAt(ExtensionPoint::kBind).empty()) return false;
    return std::all_of(edits.begin(), edits.end(), [](const MetadataEdit& edit) {
      return edit.map == MetadataEdit::Map::kAnnotations && edit.value.has_value();
    });
  }

  // Reserve through Bind; a failure here is rolled back by the caller.
  Failure afterAssume() {
    for (CyclePlugin* plugin : fw_.plugins_.runAt(ExtensionPoint::kReserve)) {
      HookOutcome outcome = call(*plugin, ExtensionPoint::kReserve);
      if (outcome.code != Code::kSuccess) {
        return fail(outcomeFor(outcome.code), describe(*plugin, ExtensionPoint::kReserve, outcome));
      }
    }
    if (auto failed = permit()) return failed;
    for (CyclePlugin* plugin : fw_.plugins_.runAt(ExtensionPoint::kPreBind)) {
      HookOutcome outcome = call(*plugin, ExtensionPoint::kPreBind);
      if (outcome.code != Code::kSuccess) {
        return fail(outcomeFor(outcome.code), describe(*plugin, ExtensionPoint::kPreBind, outcome));
      }
    }
    return bind();
  }

  Failure permit() {
    std::map<std::string, Clock::time_point> waits;
    const auto max_wait = fw_.plugins_.cycleSettings().permit_max_wait;
    for (CyclePlugin* plugin : fw_.plugins_.runAt(ExtensionPoint::kPermit)) {
      HookOutcome outcome = call(*plugin, ExtensionPoint::kPermit);
      if (outcome.code == Code::kSuccess) continue;
      if (outcome.code == Code::kWait) {
        auto timeout = std::chrono::milliseconds(outcome.permit().timeout_millis());
        if (timeout <= std::chrono::milliseconds::zero() || timeout > max_wait) timeout = max_wait;
        waits[plugin->name()] = Clock::now() + timeout;
        continue;
      }
      return fail(outcomeFor(outcome.code), describe(*plugin, ExtensionPoint::kPermit, outcome));
    }
    if (waits.empty()) return std::nullopt;
    const auto started = Clock::now();
    bool cancelled = false;
    const std::string timed_out =
        fw_.waiting_.wait(pod_.metadata().uid(), waits, input_.cancelled, &cancelled);
    if (cancelled) return fail(CycleOutcome::kRetry, "permit: cancelled while waiting");
    if (!timed_out.empty()) {
      return fail(CycleOutcome::kRetry, "permit " + timed_out +
                                            ": Unschedulable: not allowed within " +
                                            seconds(Clock::now() - started) + " (timed out)");
    }
    return std::nullopt;
  }

  Failure bind() {
    for (CyclePlugin* plugin : fw_.plugins_.runAt(ExtensionPoint::kBind)) {
      HookOutcome outcome = call(*plugin, ExtensionPoint::kBind);
      if (outcome.code == Code::kSkip) continue;
      if (outcome.code == Code::kSuccess) return std::nullopt;
      return fail(outcomeFor(outcome.code), describe(*plugin, ExtensionPoint::kBind, outcome));
    }
    PodBinding binding{pod_.metadata().namespace_(),
                       pod_.metadata().name(),
                       pod_.metadata().uid(),
                       node_name_,
                       "",
                       {}};
    if (!binding_annotations_.empty()) {
      binding.resource_version = pod_.metadata().resource_version();
      binding.annotations = binding_annotations_;
    }
    const Status s = fw_.cluster_.bindPod(binding);
    if (s.ok()) return std::nullopt;
    if (s.code() == StatusCode::kNotFound)
      return fail(CycleOutcome::kFailed, "bind: " + s.message());
    if (s.code() != StatusCode::kAborted) return fail(CycleOutcome::kRetry, "bind: " + s.message());
    // A conflict: read the pod again and let what it shows decide.
    kbinder::v1::GetRequest get;
    get.set_kind("Pod");
    get.set_namespace_(pod_.metadata().namespace_());
    get.set_name(pod_.metadata().name());
    get.set_fresh(true);
    auto now = fw_.cluster_.get(get);
    if (!now.ok()) {
      return fail(now.status().code() == StatusCode::kNotFound ? CycleOutcome::kFailed
                                                               : CycleOutcome::kRetry,
                  "bind: " + s.message());
    }
    const auto& pod = now->pod();
    if (pod.metadata().uid() == pod_.metadata().uid() && pod.spec().node_name() == node_name_) {
      return std::nullopt;  // bound to this node after all (an earlier try got through)
    }
    const bool final = pod.metadata().uid() != pod_.metadata().uid() ||
                       !pod.spec().node_name().empty() ||
                       !pod.metadata().deletion_timestamp().empty();
    // Unbound and changed since it was read: with Mutate's annotations on the Binding, the
    // copy the cycle ran on was stale; it starts over from a fresh read, as after a conflict
    // on Mutate's patch.
    if (!final && !binding.resource_version.empty()) stale_ = !fresh_;
    return fail(final ? CycleOutcome::kFailed : CycleOutcome::kRetry, "bind: " + s.message());
  }

  void rollback() {
    for (CyclePlugin* plugin : fw_.plugins_.runAt(ExtensionPoint::kUnreserve)) {
      HookOutcome outcome = call(*plugin, ExtensionPoint::kUnreserve);
      if (outcome.code != Code::kSuccess) {
        hostLogger().warn("{}: {}", log_context_,
                          describe(*plugin, ExtensionPoint::kUnreserve, outcome));
      }
    }
    fw_.cache_.forget(pod_.metadata().uid());
  }

  void postBind() {
    for (CyclePlugin* plugin : fw_.plugins_.runAt(ExtensionPoint::kPostBind)) {
      HookOutcome outcome = call(*plugin, ExtensionPoint::kPostBind);
      if (outcome.code != Code::kSuccess) {
        hostLogger().warn("{}: {} (post_bind failures do not fail the request)", log_context_,
                          describe(*plugin, ExtensionPoint::kPostBind, outcome));
      }
    }
  }

  Framework& fw_;
  const CycleInput& input_;
  const bool fresh_;
  bool stale_ = false;
  const uint64_t cycle_id_ = fw_.next_cycle_id_.fetch_add(1);
  std::vector<void*> states_;
  std::string log_context_;
  std::string node_name_;
  Pod pod_;
  bool encoded_ = false;
  std::string request_bytes_, pod_bytes_, node_bytes_;
  std::chrono::nanoseconds plugin_time_{0};
  std::vector<Change> mutation_;  // what Mutate wrote, to put back if the cycle fails
  std::map<std::string, std::string> binding_annotations_;  // Mutate's, for the Binding
};

CycleResult Framework::run(const CycleInput& input) {
  const auto started = std::chrono::steady_clock::now();
  CycleResult result;
  std::chrono::nanoseconds plugin_time{0};
  // From the watch-fed copy of the pod first (no request to the API server); once more from a
  // fresh read if that copy was stale. Each cycle's plugin state is released inside the timing.
  for (const bool fresh : {false, true}) {
    Cycle cycle(*this, input, fresh);
    result = cycle.run();
    plugin_time += cycle.pluginTime();
    if (!cycle.stale()) break;
  }
  result.plugin_time = plugin_time;
  result.duration = std::chrono::steady_clock::now() - started;
  return result;
}

}  // namespace kbinder::host
