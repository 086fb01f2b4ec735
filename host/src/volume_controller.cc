#include "kbinder/host/volume_controller.h"

#include "kbinder/host/logging.h"

namespace kbinder::host {
namespace {

using kbinder::v1::PersistentVolume;
using kbinder::v1::PersistentVolumeClaim;

constexpr char kNoProvisioner[] = "kubernetes.io/no-provisioner";

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

}  // namespace

void VolumeController::start() {
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void VolumeController::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void VolumeController::run() {
  auto claims = cluster_.watch(Kind::kPersistentVolumeClaim, "");
  auto volumes = cluster_.watch(Kind::kPersistentVolume, "");
  while (!stopping_) {
    syncOnce();
    // Wait for a change to claims or volumes, or the periodic resync.
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
    bool changed = false;
    while (!changed && !stopping_ && std::chrono::steady_clock::now() < until) {
      for (auto* w : {&claims, &volumes}) {
        if (!w->ok()) continue;
        auto event = (**w)->next(std::chrono::milliseconds(10));
        if (!event.ok()) {
          *w = cluster_.watch(w == &claims ? Kind::kPersistentVolumeClaim : Kind::kPersistentVolume, "");
          changed = true;
        } else if (event->has_value()) {
          changed = true;
        }
      }
    }
  }
}

int VolumeController::syncOnce() {
  auto claims = cluster_.list(listRequest("PersistentVolumeClaim"));
  auto volumes = cluster_.list(listRequest("PersistentVolume"));
  if (!claims.ok() || !volumes.ok()) return 0;
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

  for (const auto& item : claims->items()) {
    const PersistentVolumeClaim& pvc = item.persistent_volume_claim();
    const auto& annotations = pvc.metadata().annotations();
    if (!pvc.metadata().deletion_timestamp().empty()) continue;
    if (annotations.count(kBindCompletedAnnotation) != 0 && pvc.status().phase() == "Bound") continue;

    const PersistentVolume* volume = nullptr;
    for (const auto& v : volumes->items()) {
      const PersistentVolume& pv = v.persistent_volume();
      if (!pvc.spec().volume_name().empty()) {
        if (pv.metadata().name() == pvc.spec().volume_name() &&
            (!pv.spec().has_claim_ref() || pv.spec().claim_ref().name().empty() ||
             claimRefNames(pv, pvc))) {
          volume = &pv;
        }
      } else if (pv.spec().has_claim_ref() && claimRefNames(pv, pvc)) {
        volume = &pv;
      }
      if (volume != nullptr) break;
    }

    if (volume == nullptr) {
      if (!pvc.spec().volume_name().empty()) continue;  // waits for its named volume
      // Provisioning.
      kbinder::v1::GetRequest get;
      get.set_kind("StorageClass");
      get.set_name(pvc.spec().storage_class_name());
      auto cls = cluster_.get(get);
      if (!cls.ok()) continue;
      const auto& sc = cls->storage_class();
      if (sc.provisioner().empty() || sc.provisioner() == kNoProvisioner) continue;
      const auto selected = annotations.find(kSelectedNodeAnnotation);
      const bool wait_for_consumer = sc.volume_binding_mode() == "WaitForFirstConsumer";
      if (wait_for_consumer && (selected == annotations.end() || selected->second.empty())) continue;
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
        auto& term = *pv.mutable_spec()->mutable_node_affinity()->mutable_required()
                          ->add_node_selector_terms();
        auto& req = *term.add_match_expressions();
        req.set_key("kubernetes.io/hostname");
        req.set_operator_("In");
        req.add_values(selected->second);
      }
      pv.mutable_status()->set_phase("Pending");
      if (auto created = cluster_.create(object); created.ok()) {
        ++writes;
      } else if (created.status().code() != StatusCode::kAlreadyExists) {
        hostLogger().warn("volume controller: provisioning for claim {}/{}: {}",
                          pvc.metadata().namespace_(), pvc.metadata().name(),
                          created.status().message());
      }
      continue;  // bound on the next pass, once the volume exists
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
      continue;  // status next pass, from the volume as written
    }
    if (pv.status().phase() != "Bound") {
      pv.mutable_status()->set_phase("Bound");
      if (!patch(pv_object, "status")) continue;
    }
    kbinder::v1::Object pvc_object;
    PersistentVolumeClaim& claim = *pvc_object.mutable_persistent_volume_claim();
    claim = pvc;
    auto& claim_annotations = *claim.mutable_metadata()->mutable_annotations();
    if (claim.spec().volume_name().empty() || claim_annotations.count(kBindCompletedAnnotation) == 0) {
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
      if (!written.ok()) continue;
      ++writes;
      claim = written->persistent_volume_claim();
    }
    claim.mutable_status()->set_phase("Bound");
    *claim.mutable_status()->mutable_access_modes() = volume->spec().access_modes();
    *claim.mutable_status()->mutable_capacity() = volume->spec().capacity();
    patch(pvc_object, "status");
  }
  return writes;
}

}  // namespace kbinder::host
