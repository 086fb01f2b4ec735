// SPDX-License-Identifier: Apache-2.0
// The PersistentVolume controller the embedded store plays, so volume binding can be rehearsed
// offline: it completes binds the binder started and provisions volumes, as kube-controller-
// manager and an external provisioner would, through the cluster backend interface only.
//
// For every claim not yet bound:
// - a volume is named by the claim (spec.volumeName) or names the claim (spec.claimRef):
//   the volume gets claimRef (with the claim's uid) and phase Bound; the claim gets
//   volumeName, the pv.kubernetes.io/bind-completed annotation and phase Bound;
// - no such volume, and the claim's class has a provisioner (not kubernetes.io/no-provisioner):
//   for WaitForFirstConsumer once the claim carries volume.kubernetes.io/selected-node, at once
//   for Immediate, a volume "pvc-<claim uid>" is created with the claim's size, access modes
//   and volume mode, pinned to the selected node, then bound as above.
//
// Running, it keeps the claims and volumes from two informers and looks at a claim when it or
// a volume naming it (or named by it) changes, and at every unfinished claim each second; a
// change costs work for the claims it concerns, not a pass over the cluster.
//
// Thread-safety: start/stop/syncOnce from one owner thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>

#include "host/cluster/cluster.h"
#include "host/cluster/informer.h"

namespace kbinder::host {

inline constexpr char kBindCompletedAnnotation[] = "pv.kubernetes.io/bind-completed";
inline constexpr char kBoundByControllerAnnotation[] = "pv.kubernetes.io/bound-by-controller";
inline constexpr char kSelectedNodeAnnotation[] = "volume.kubernetes.io/selected-node";
inline constexpr char kProvisionedByAnnotation[] = "pv.kubernetes.io/provisioned-by";

class VolumeController {
 public:
  explicit VolumeController(ClusterBackend& cluster) : cluster_(cluster) {}
  ~VolumeController() { stop(); }
  VolumeController(const VolumeController&) = delete;
  VolumeController& operator=(const VolumeController&) = delete;

  // Acts on changes to claims and volumes on its own thread until stopped.
  void start();
  void stop();
  // One pass over every claim, from fresh lists; returns how many writes it made.
  int syncOnce();

 private:
  // Volumes by name and by the claim their claimRef names ("namespace/name").
  struct VolumeIndex {
    std::unordered_map<std::string, const kbinder::v1::PersistentVolume*> by_name;
    std::unordered_multimap<std::string, const kbinder::v1::PersistentVolume*> by_claim;
    void add(const kbinder::v1::PersistentVolume& pv);
    // The volume `pvc` binds to: the one it names (if free or naming it), else one naming it.
    const kbinder::v1::PersistentVolume* find(const kbinder::v1::PersistentVolumeClaim& pvc) const;
  };

  void run();
  // Takes the claim one step towards bound; returns how many writes it made.
  int syncClaim(const kbinder::v1::PersistentVolumeClaim& pvc, const VolumeIndex& volumes);
  void forgetClaimRefLocked(const kbinder::v1::PersistentVolume& pv);

  ClusterBackend& cluster_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::unique_ptr<Informer> claim_informer_, volume_informer_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, kbinder::v1::PersistentVolumeClaim> claims_;  // by "namespace/name"
  std::map<std::string, kbinder::v1::PersistentVolume> volumes_;      // by name
  std::multimap<std::string, std::string> claim_refs_;           // claim key -> volumes naming it
  std::unordered_map<std::string, std::string> named_by_claim_;  // volume -> claim naming it
  std::set<std::string> dirty_;                                  // claims to look at
};

}  // namespace kbinder::host
