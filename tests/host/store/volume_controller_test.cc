// SPDX-License-Identifier: Apache-2.0
// The PersistentVolume controller the embedded store plays: it completes a bind the binder
// started and provisions on the selected node, as Kubernetes' own controller would.
#include "host/store/volume_controller.h"

#include <gtest/gtest.h>

#include "cluster_support.h"

namespace kbinder::testing {
namespace {

const Cluster kVolumes =
    Cluster::fromYaml(storageClassesYaml()) +
    MakeVolume("pv1").storageClass("local").capacity("10Gi").csi("local.csi", "v-1") +
    MakeClaim("data").storageClass("local").storage("5Gi") +
    MakeClaim("scratch").storageClass("fast").storage("20Gi");

TEST(VolumeControllerTest, CompletesABindTheBinderStarted) {
  auto store = storeFrom(kVolumes);
  host::VolumeController controller(*store);
  EXPECT_EQ(controller.syncOnce(), 0);  // nothing asked for yet
  auto pv = getObject(*store, "PersistentVolume", "pv1", "");
  auto claim = getObject(*store, "PersistentVolumeClaim", "data");
  auto& ref = *pv.mutable_persistent_volume()->mutable_spec()->mutable_claim_ref();
  ref.set_namespace_("default");
  ref.set_name("data");
  ref.set_uid(claim.persistent_volume_claim().metadata().uid());
  ASSERT_TRUE(patchObject(*store, pv).ok());
  for (int i = 0; i < 3; ++i) controller.syncOnce();
  claim = getObject(*store, "PersistentVolumeClaim", "data");
  const auto& pvc = claim.persistent_volume_claim();
  EXPECT_EQ(pvc.spec().volume_name(), "pv1");
  EXPECT_EQ(pvc.metadata().annotations().at(host::kBindCompletedAnnotation), "yes");
  EXPECT_EQ(pvc.status().phase(), "Bound");
  EXPECT_EQ(pvc.status().capacity().at("storage"), "10Gi");
  EXPECT_EQ(getObject(*store, "PersistentVolume", "pv1", "").persistent_volume().status().phase(),
            "Bound");
  EXPECT_EQ(controller.syncOnce(), 0);  // settled
  // The volume's unmodeled source survived.
  EXPECT_EQ(
      (*RawStore(*store).getRaw("PersistentVolume", "", "pv1"))["spec"]["csi"]["volumeHandle"],
      "v-1");
}

TEST(VolumeControllerTest, ProvisionsOnTheSelectedNode) {
  auto store = storeFrom(kVolumes);
  host::VolumeController controller(*store);
  EXPECT_EQ(controller.syncOnce(), 0);  // WaitForFirstConsumer: waits for a selected node
  auto claim = getObject(*store, "PersistentVolumeClaim", "scratch");
  (*claim.mutable_persistent_volume_claim()
        ->mutable_metadata()
        ->mutable_annotations())[host::kSelectedNodeAnnotation] = "n1";
  ASSERT_TRUE(patchObject(*store, claim).ok());
  // One pass makes the volume and binds both: the volume, its status, the claim, its status.
  EXPECT_EQ(controller.syncOnce(), 4);
  EXPECT_EQ(controller.syncOnce(), 0);  // settled
  const auto pvc = getObject(*store, "PersistentVolumeClaim", "scratch").persistent_volume_claim();
  const std::string pv_name = "pvc-" + pvc.metadata().uid();
  EXPECT_EQ(pvc.spec().volume_name(), pv_name);
  EXPECT_EQ(pvc.status().phase(), "Bound");
  const auto pv = getObject(*store, "PersistentVolume", pv_name, "").persistent_volume();
  EXPECT_EQ(pv.spec().capacity().at("storage"), "20Gi");
  EXPECT_EQ(pv.spec().storage_class_name(), "fast");
  EXPECT_EQ(
      pv.spec().node_affinity().required().node_selector_terms(0).match_expressions(0).values(0),
      "n1");
  EXPECT_EQ(pv.metadata().annotations().at(host::kProvisionedByAnnotation), "csi.example.com");
  EXPECT_EQ(pv.status().phase(), "Bound");
  EXPECT_EQ(pv.spec().claim_ref().uid(), pvc.metadata().uid());
  EXPECT_EQ(pvc.metadata().annotations().at(host::kBindCompletedAnnotation), "yes");
}

TEST(VolumeControllerTest, RunsOnItsOwnThreadUntilStopped) {
  auto store = storeFrom(kVolumes);
  host::VolumeController controller(*store);
  controller.start();
  auto claim = getObject(*store, "PersistentVolumeClaim", "scratch");
  (*claim.mutable_persistent_volume_claim()
        ->mutable_metadata()
        ->mutable_annotations())[host::kSelectedNodeAnnotation] = "n1";
  ASSERT_TRUE(patchObject(*store, claim).ok());
  bool bound = false;
  for (int i = 0; i < 500 && !bound; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    bound = getObject(*store, "PersistentVolumeClaim", "scratch")
                .persistent_volume_claim()
                .status()
                .phase() == "Bound";
  }
  controller.stop();
  EXPECT_TRUE(bound);
}

}  // namespace
}  // namespace kbinder::testing
