// SPDX-License-Identifier: Apache-2.0
#include "host/store/volume_controller.h"

#include <vector>

#include "host/base/logging.h"

namespace kbinder::host {
namespace {

using kbinder::v1::PersistentVolume;
using kbinder::v1::PersistentVolumeClaim;

constexpr char kNoProvisioner[] = "kubernetes.io/no-provisioner";
constexpr auto kResyncInterval = std::chrono::seconds(1);

kbinder::v1::ListRequest listRequest(const char* kind) {
  kbinder::v1::ListRequest r;
  r.set_kind(kind);
  return r;
}

bool claimRefNames(const PersistentVolume& pv, const PersistentVolumeClaim& pvc) {
  const auto& ref = pv.spec().claim_ref();
  return ref.namespace_() == pvc.metadata().namespace_() && ref.name() == pvc.metadata().name() &&
         (ref.uid().empty() || ref.uid() == pvc.metadata().uid());
}

std::string claimKey(const std::string& namespace_, const std::string& name) {
  return namespace_ + "/" + name;
}
std::string claimKey(const PersistentVolumeClaim& pvc) {
  return claimKey(pvc.metadata().namespace_(), pvc.metadata().name());
}

// Nothing left to do for the claim: being deleted, or bound and marked so.
bool complete(const PersistentVolumeClaim& pvc) {
  return !pvc.metadata().deletion_timestamp().empty() ||
         (pvc.metadata().annotations().count(kBindCompletedAnnotation) != 0 &&
          pvc.status().phase() == "Bound");
}

}  // namespace

const PersistentVolume* VolumeController::VolumeIndex::find(
    const PersistentVolumeClaim& pvc) const {
  if (!pvc.spec().volume_name().empty()) {
    const auto it = by_name.find(pvc.spec().volume_name());
    if (it == by_name.end()) return nullptr;
    const PersistentVolume& pv = *it->second;
    const bool free_or_ours = !pv.spec().has_claim_ref() || pv.spec().claim_ref().name().empty() ||
                              claimRefNames(pv, pvc);
    return free_or_ours ? &pv : nullptr;
  }
  const auto range = by_claim.equal_range(claimKey(pvc));
  for (auto it = range.first; it != range.second; ++it) {
    if (claimRefNames(*it->second, pvc)) return it->second;
  }
  return nullptr;
}

void VolumeController::VolumeIndex::add(const PersistentVolume& pv) {
  by_name[pv.metadata().name()] = &pv;
  if (pv.spec().has_claim_ref() && !pv.spec().claim_ref().name().empty()) {
    by_claim.emplace(claimKey(pv.spec().claim_ref().namespace_(), pv.spec().claim_ref().name()),
                     &pv);
  }
}

void VolumeController::start() {
  stop();
  stopping_ = false;
  claims_.clear();
  volumes_.clear();
  claim_refs_.clear();
  named_by_claim_.clear();
  dirty_.clear();
  // The informers hand changes over on their own threads; the controller's thread acts on them.
  claim_informer_ = std::make_unique<Informer>(
      cluster_, Kind::kPersistentVolumeClaim, "", [this](const WatchEvent& event) {
        const auto& pvc = event.object.persistent_volume_claim();
        const std::string key = claimKey(pvc);
        std::lock_guard lock(mutex_);
        if (event.type == WatchEvent::Type::kDeleted) {
          claims_.erase(key);
        } else {
          claims_[key] = pvc;
          dirty_.insert(key);
          if (!pvc.spec().volume_name().empty()) named_by_claim_[pvc.spec().volume_name()] = key;
        }
        changed_.notify_one();
      });
  volume_informer_ = std::make_unique<Informer>(
      cluster_, Kind::kPersistentVolume, "", [this](const WatchEvent& event) {
        const auto& pv = event.object.persistent_volume();
        const std::string& name = pv.metadata().name();
        std::lock_guard lock(mutex_);
        const auto old = volumes_.find(name);
        if (old != volumes_.end()) forgetClaimRefLocked(old->second);
        if (event.type == WatchEvent::Type::kDeleted) {
          if (old != volumes_.end()) volumes_.erase(old);
        } else {
          volumes_[name] = pv;
          if (pv.spec().has_claim_ref() && !pv.spec().claim_ref().name().empty()) {
            const std::string key =
                claimKey(pv.spec().claim_ref().namespace_(), pv.spec().claim_ref().name());
            claim_refs_.emplace(key, name);
            dirty_.insert(key);  // the claim it names may have something to do now
          }
        }
        const auto named = named_by_claim_.find(name);
        if (named != named_by_claim_.end()) dirty_.insert(named->second);
        changed_.notify_one();
      });
  claim_informer_->start();
  volume_informer_->start();
  thread_ = std::thread([this] { run(); });
}

void VolumeController::forgetClaimRefLocked(const PersistentVolume& pv) {
  if (!pv.spec().has_claim_ref()) return;
  const auto range = claim_refs_.equal_range(
      claimKey(pv.spec().claim_ref().namespace_(), pv.spec().claim_ref().name()));
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second == pv.metadata().name()) {
      claim_refs_.erase(it);
      return;
    }
  }
}

void VolumeController::stop() {
  {
    std::lock_guard lock(mutex_);  // so the thread cannot miss the flag between check and wait
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
  claim_informer_.reset();
  volume_informer_.reset();
}

void VolumeController::run() {
  auto next_resync = std::chrono::steady_clock::now() + kResyncInterval;
  while (!stopping_) {
    // Take the claims to look at, with copies of what they need, then act without the lock.
    std::vector<PersistentVolumeClaim> work;
    std::map<std::string, PersistentVolume> volumes;
    {
      std::unique_lock lock(mutex_);
      changed_.wait_until(lock, next_resync, [&] { return stopping_ || !dirty_.empty(); });
      if (stopping_) return;
      if (std::chrono::steady_clock::now() >= next_resync) {
        // Resync: every claim not yet done, in case a write failed without a later change.
        for (const auto& [key, pvc] : claims_) {
          if (!complete(pvc)) dirty_.insert(key);
        }
        next_resync = std::chrono::steady_clock::now() + kResyncInterval;
      }
      for (const std::string& key : dirty_) {
        const auto it = claims_.find(key);
        if (it == claims_.end() || complete(it->second)) continue;
        const auto& pvc = it->second;
        work.push_back(pvc);
        // The volumes it may bind to: the one it names, those naming it.
        const auto v = volumes_.find(pvc.spec().volume_name());
        if (v != volumes_.end()) volumes.emplace(v->first, v->second);
        const auto refs = claim_refs_.equal_range(key);
        for (auto r = refs.first; r != refs.second; ++r)
          volumes.emplace(r->second, volumes_.at(r->second));
      }
      dirty_.clear();
      if (work.empty()) continue;
    }
    VolumeIndex index;
    for (const auto& [name, pv] : volumes) index.add(pv);
    for (const auto& pvc : work) syncClaim(pvc, index);
  }
}

int VolumeController::syncOnce() {
  auto claims = cluster_.list(listRequest("PersistentVolumeClaim"));
  auto volumes = cluster_.list(listRequest("PersistentVolume"));
  if (!claims.ok() || !volumes.ok()) return 0;
  VolumeIndex index;
  for (const auto& v : volumes->items()) index.add(v.persistent_volume());
  int writes = 0;
  for (const auto& item : claims->items())
    writes += syncClaim(item.persistent_volume_claim(), index);
  return writes;
}

int VolumeController::syncClaim(const PersistentVolumeClaim& pvc, const VolumeIndex& volumes) {
  int writes = 0;
  auto patch = [&](kbinder::v1::Object object, const char* subresource) -> bool {
    kbinder::v1::PatchRequest request;
    *request.mutable_object() = std::move(object);
    request.set_subresource(subresource);
    auto written = cluster_.patch(request);
    if (!written.ok()) {
      hostLogger().debug("volume controller: {}", written.status().message());
      return false;
    }
    ++writes;
    return true;
  };
  if (complete(pvc)) return writes;
  const auto& annotations = pvc.metadata().annotations();
  const PersistentVolume* volume = volumes.find(pvc);
  kbinder::v1::Object provisioned;  // the volume made for the claim in this pass, as written

  if (volume == nullptr) {
    if (!pvc.spec().volume_name().empty()) return writes;  // waits for its named volume
    // Provisioning.
    kbinder::v1::GetRequest get;
    get.set_kind("StorageClass");
    get.set_name(pvc.spec().storage_class_name());
    auto cls = cluster_.get(get);
    if (!cls.ok()) return writes;
    const auto& sc = cls->storage_class();
    if (sc.provisioner().empty() || sc.provisioner() == kNoProvisioner) return writes;
    const auto selected = annotations.find(kSelectedNodeAnnotation);
    const bool wait_for_consumer = sc.volume_binding_mode() == "WaitForFirstConsumer";
    if (wait_for_consumer && (selected == annotations.end() || selected->second.empty()))
      return writes;
    kbinder::v1::Object object;
    PersistentVolume& pv = *object.mutable_persistent_volume();
    pv.set_api_version("v1");
    pv.set_kind("PersistentVolume");
    pv.mutable_metadata()->set_name("pvc-" + pvc.metadata().uid());
    (*pv.mutable_metadata()->mutable_annotations())[kProvisionedByAnnotation] = sc.provisioner();
    const auto size = pvc.spec().resources().requests().find("storage");
    if (size != pvc.spec().resources().requests().end()) {
      (*pv.mutable_spec()->mutable_capacity())["storage"] = size->second;
    }
    *pv.mutable_spec()->mutable_access_modes() = pvc.spec().access_modes();
    if (pvc.spec().has_volume_mode()) pv.mutable_spec()->set_volume_mode(pvc.spec().volume_mode());
    pv.mutable_spec()->set_storage_class_name(sc.metadata().name());
    pv.mutable_spec()->set_persistent_volume_reclaim_policy(
        sc.reclaim_policy().empty() ? "Delete" : sc.reclaim_policy());
    auto& ref = *pv.mutable_spec()->mutable_claim_ref();
    ref.set_kind("PersistentVolumeClaim");
    ref.set_api_version("v1");
    ref.set_namespace_(pvc.metadata().namespace_());
    ref.set_name(pvc.metadata().name());
    ref.set_uid(pvc.metadata().uid());
    if (selected != annotations.end() && !selected->second.empty()) {
      auto& term = *pv.mutable_spec()
                        ->mutable_node_affinity()
                        ->mutable_required()
                        ->add_node_selector_terms();
      auto& req = *term.add_match_expressions();
      req.set_key("kubernetes.io/hostname");
      req.set_operator_("In");
      req.add_values(selected->second);
    }
    pv.mutable_status()->set_phase("Pending");
    auto created = cluster_.create(object);
    if (!created.ok()) {
      if (created.status().code() != StatusCode::kAlreadyExists) {
        hostLogger().warn("volume controller: provisioning for claim {}/{}: {}",
                          pvc.metadata().namespace_(), pvc.metadata().name(),
                          created.status().message());
      }
      return writes;  // made already (bound once it is seen), or tried again on a later pass
    }
    ++writes;
    // Bound in the same pass, from the volume as written (it names the claim already): waiting
    // for the volume's own change to come back through the watch would hold the binding
    // cycle's PreBind, which waits for the claim, a wake-up or two longer.
    provisioned = std::move(created).value();
    volume = &provisioned.persistent_volume();
  }

  // Bind the volume to the claim, then the claim to the volume.
  kbinder::v1::Object pv_object;
  PersistentVolume& pv = *pv_object.mutable_persistent_volume();
  pv = *volume;
  auto& ref = *pv.mutable_spec()->mutable_claim_ref();
  if (ref.uid() != pvc.metadata().uid() || ref.name() != pvc.metadata().name()) {
    ref.set_kind("PersistentVolumeClaim");
    ref.set_api_version("v1");
    ref.set_namespace_(pvc.metadata().namespace_());
    ref.set_name(pvc.metadata().name());
    ref.set_uid(pvc.metadata().uid());
    patch(pv_object, "");
    return writes;  // status next pass, from the volume as written
  }
  if (pv.status().phase() != "Bound") {
    pv.mutable_status()->set_phase("Bound");
    if (!patch(pv_object, "status")) return writes;
  }
  kbinder::v1::Object pvc_object;
  PersistentVolumeClaim& claim = *pvc_object.mutable_persistent_volume_claim();
  claim = pvc;
  auto& claim_annotations = *claim.mutable_metadata()->mutable_annotations();
  if (claim.spec().volume_name().empty() ||
      claim_annotations.count(kBindCompletedAnnotation) == 0) {
    if (claim.spec().volume_name().empty()) {
      claim.mutable_spec()->set_volume_name(volume->metadata().name());
      claim_annotations[kBoundByControllerAnnotation] = "yes";
    }
    claim_annotations[kBindCompletedAnnotation] = "yes";
    auto written = cluster_.patch([&] {
      kbinder::v1::PatchRequest r;
      *r.mutable_object() = pvc_object;
      return r;
    }());
    if (!written.ok()) return writes;
    ++writes;
    claim = written->persistent_volume_claim();
  }
  claim.mutable_status()->set_phase("Bound");
  *claim.mutable_status()->mutable_access_modes() = volume->spec().access_modes();
  *claim.mutable_status()->mutable_capacity() = volume->spec().capacity();
  patch(pvc_object, "status");
  return writes;
}

}  // namespace kbinder::host
