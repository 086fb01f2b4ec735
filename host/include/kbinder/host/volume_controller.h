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
// Thread-safety: start/stop/syncOnce from one owner thread.
#pragma once

#include <atomic>
#include <thread>

#include "kbinder/host/cluster.h"

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

  // Runs syncOnce whenever claims or volumes change (and every 200ms) on its own thread.
  void start();
  void stop();
  // One pass over every claim; returns how many writes it made.
  int syncOnce();

 private:
  void run();

  ClusterBackend& cluster_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace kbinder::host
