// SPDX-License-Identifier: Apache-2.0
// Field indexes: every change moves an object to the value it now holds, and a list finds the
// same objects through an index as by looking at every object.
#include "host/cluster/field_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

namespace kbinder::testing {
namespace {

using host::FieldSelector;
using host::Kind;
using Indexes = host::KindIndexes<std::string>;

kbinder::v1::Object volume(const std::string& name, const std::string& class_name,
                           const std::string& claim = "") {
  kbinder::v1::Object o;
  auto& pv = *o.mutable_persistent_volume();
  pv.mutable_metadata()->set_name(name);
  pv.mutable_spec()->set_storage_class_name(class_name);
  if (!claim.empty()) pv.mutable_spec()->mutable_claim_ref()->set_name(claim);
  return o;
}

FieldSelector selector(const std::string& text) {
  auto parsed = FieldSelector::parse(text, Kind::kPersistentVolume);
  EXPECT_TRUE(parsed.ok()) << parsed.status().message();
  return parsed.ok() ? std::move(parsed).value() : FieldSelector();
}

std::set<std::string> lookUp(const Indexes& indexes, const std::string& text) {
  const auto* keys = indexes.candidates(selector(text));
  EXPECT_NE(keys, nullptr) << text << " should be answered by an index";
  return keys ? *keys : std::set<std::string>{"<scan>"};
}

TEST(FieldIndexTest, EveryIndexedFieldIsAFieldOfItsKind) {
  for (const auto& field : host::kIndexedFields) {
    const auto path = host::FieldPath::parse(field.path, field.kind);
    EXPECT_TRUE(path.ok()) << host::kindName(field.kind) << " " << field.path << ": "
                           << path.status().message();
  }
}

// Each index reads its field straight from the message; that must be what its path names.
TEST(FieldIndexTest, EveryIndexedFieldReadsWhatItsPathNames) {
  kbinder::v1::Object pv, pvc;
  pv.mutable_persistent_volume()->mutable_spec()->set_storage_class_name("local");
  pv.mutable_persistent_volume()->mutable_spec()->mutable_claim_ref()->set_name("data");
  pvc.mutable_persistent_volume_claim()->mutable_spec()->set_storage_class_name("fast");
  pvc.mutable_persistent_volume_claim()->mutable_spec()->set_volume_name("pv-1");
  for (const auto& field : host::kIndexedFields) {
    const auto path = host::FieldPath::parse(field.path, field.kind);
    ASSERT_TRUE(path.ok());
    for (const auto* object : {&pv, &pvc}) {
      if (host::kindOf(*object) != field.kind) continue;
      std::string scratch;
      EXPECT_EQ(field.read(*object), path->read(*object, scratch)) << field.path;
      EXPECT_FALSE(field.read(*object).empty()) << field.path << ": set in this test";
    }
  }
}

TEST(FieldIndexTest, ChangesMoveAnObjectToItsNewValue) {
  Indexes indexes(Kind::kPersistentVolume);
  const auto a = volume("a", "fast");
  const auto b = volume("b", "fast");
  indexes.update("a", nullptr, &a);
  indexes.update("b", nullptr, &b);
  EXPECT_EQ(lookUp(indexes, "spec.storageClassName=fast"), (std::set<std::string>{"a", "b"}));
  // Unset values are indexed too: "no claim" is a value a list may ask for.
  EXPECT_EQ(lookUp(indexes, "spec.claimRef.name="), (std::set<std::string>{"a", "b"}));

  const auto a_claimed = volume("a", "slow", "data");
  indexes.update("a", &a, &a_claimed);
  EXPECT_EQ(lookUp(indexes, "spec.storageClassName=fast"), (std::set<std::string>{"b"}));
  EXPECT_EQ(lookUp(indexes, "spec.storageClassName=slow"), (std::set<std::string>{"a"}));
  EXPECT_EQ(lookUp(indexes, "spec.claimRef.name=data"), (std::set<std::string>{"a"}));
  EXPECT_EQ(lookUp(indexes, "spec.claimRef.name="), (std::set<std::string>{"b"}));

  indexes.update("a", &a_claimed, nullptr);  // deleted
  EXPECT_TRUE(lookUp(indexes, "spec.storageClassName=slow").empty());
  EXPECT_TRUE(lookUp(indexes, "spec.claimRef.name=data").empty());
  EXPECT_EQ(lookUp(indexes, "spec.storageClassName=fast"), (std::set<std::string>{"b"}));
}

TEST(FieldIndexTest, TheFewestCandidatesAnswerAndOnlyEqualitiesOnIndexedFieldsUseAnIndex) {
  Indexes indexes(Kind::kPersistentVolume);
  for (int i = 0; i < 5; ++i) {
    const auto v = volume("v" + std::to_string(i), "fast", i == 3 ? "data" : "");
    indexes.update("v" + std::to_string(i), nullptr, &v);
  }
  // The claim narrows to one; the class would give five.
  EXPECT_EQ(lookUp(indexes, "spec.storageClassName=fast,spec.claimRef.name=data"),
            (std::set<std::string>{"v3"}));
  EXPECT_EQ(lookUp(indexes, "spec.claimRef.name=data,status.phase!=Bound"),
            (std::set<std::string>{"v3"}));
  // A value nobody holds: nothing to look at, whatever else the selector says.
  EXPECT_TRUE(lookUp(indexes, "spec.storageClassName=fast,spec.claimRef.name=other").empty());
  // No equality on an indexed field: every object must be looked at.
  EXPECT_EQ(indexes.candidates(selector("spec.storageClassName!=fast")), nullptr);
  EXPECT_EQ(indexes.candidates(selector("status.phase=Bound")), nullptr);
  EXPECT_EQ(indexes.candidates(selector("")), nullptr);
  // A kind without indexed fields never narrows.
  host::KindIndexes<std::string> nodes(Kind::kNode);
  auto by_name = FieldSelector::parse("metadata.name=n1", Kind::kNode);
  ASSERT_TRUE(by_name.ok());
  EXPECT_EQ(nodes.candidates(*by_name), nullptr);
}

// Volumes a node must admit are looked for under its name, its hostname label and among the
// volumes no single node is named for; the index never leaves out one the node admits.
TEST(FieldIndexTest, VolumesForANodeAreLookedForWhereTheirAffinityNamesIt) {
  const auto pinned = [](const std::string& name, const std::string& key, const std::string& op,
                         std::vector<std::string> values, bool by_field = false) {
    auto o = volume(name, "local");
    auto* term = o.mutable_persistent_volume()
                     ->mutable_spec()
                     ->mutable_node_affinity()
                     ->mutable_required()
                     ->add_node_selector_terms();
    auto* r = by_field ? term->add_match_fields() : term->add_match_expressions();
    r->set_key(key);
    r->set_operator_(op);
    for (const auto& v : values) r->add_values(v);
    return o;
  };
  std::vector<kbinder::v1::Object> volumes{
      pinned("by-hostname", "kubernetes.io/hostname", "In", {"host-1"}),
      pinned("by-name", "metadata.name", "In", {"n1", "n2"}, true),
      pinned("elsewhere", "kubernetes.io/hostname", "In", {"host-9"}),
      pinned("by-zone", "zone", "In", {"a"}),
      pinned("not-on-n3", "kubernetes.io/hostname", "NotIn", {"host-3"}),
      volume("no-affinity", "local"),
  };
  // Two terms: the volume may go where either names.
  auto either = pinned("either", "kubernetes.io/hostname", "In", {"host-1"});
  auto* second = either.mutable_persistent_volume()
                     ->mutable_spec()
                     ->mutable_node_affinity()
                     ->mutable_required()
                     ->add_node_selector_terms()
                     ->add_match_fields();
  second->set_key("metadata.name");
  second->set_operator_("In");
  second->add_values("n2");
  volumes.push_back(either);

  Indexes indexes(Kind::kPersistentVolume);
  for (const auto& v : volumes)
    indexes.update(v.persistent_volume().metadata().name(), nullptr, &v);
  const auto look = [&](const std::string& node_name, const std::string& hostname) {
    kbinder::v1::ListRequest request;
    request.set_kind("PersistentVolume");
    request.set_admits_node(node_name);
    auto filter = host::ListFilter::parse(request);
    EXPECT_TRUE(filter.ok());
    auto node = std::make_shared<kbinder::v1::Node>();
    node->mutable_metadata()->set_name(node_name);
    if (!hostname.empty())
      (*node->mutable_metadata()->mutable_labels())["kubernetes.io/hostname"] = hostname;
    filter->node = node;
    std::vector<std::string> keys;
    EXPECT_TRUE(
        indexes.forEachCandidate(*filter, [&](const std::string& k) { keys.push_back(k); }));
    // Whatever the node admits is among them.
    for (const auto& v : volumes) {
      const auto& name = v.persistent_volume().metadata().name();
      if (kbinder::sdk::nodeAffinityAdmits(v.persistent_volume(), *node)) {
        EXPECT_NE(std::find(keys.begin(), keys.end(), name), keys.end())
            << name << " for " << node_name;
      }
    }
    return keys;
  };
  // In key order, each once.
  EXPECT_EQ(look("n1", "host-1"), (std::vector<std::string>{"by-hostname", "by-name", "by-zone",
                                                            "either", "no-affinity", "not-on-n3"}));
  EXPECT_EQ(look("n2", ""),
            (std::vector<std::string>{"by-name", "by-zone", "either", "no-affinity", "not-on-n3"}));
  EXPECT_EQ(look("n3", "host-3"),
            (std::vector<std::string>{"by-zone", "no-affinity", "not-on-n3"}));

  // A volume whose affinity changes moves; one deleted is gone.
  auto moved = pinned("elsewhere", "kubernetes.io/hostname", "In", {"host-3"});
  indexes.update("elsewhere", &volumes[2], &moved);
  indexes.update("by-zone", &volumes[3], nullptr);
  EXPECT_EQ(look("n3", "host-3"),
            (std::vector<std::string>{"elsewhere", "no-affinity", "not-on-n3"}));

  // A narrower field index wins: the claim names one volume.
  auto claimed = pinned("claimed", "kubernetes.io/hostname", "In", {"host-1"});
  claimed.mutable_persistent_volume()->mutable_spec()->mutable_claim_ref()->set_name("data");
  indexes.update("claimed", nullptr, &claimed);
  kbinder::v1::ListRequest request;
  request.set_kind("PersistentVolume");
  request.set_field_selector("spec.claimRef.name=data");
  request.set_admits_node("n1");
  auto filter = host::ListFilter::parse(request);
  ASSERT_TRUE(filter.ok());
  auto node = std::make_shared<kbinder::v1::Node>();
  node->mutable_metadata()->set_name("n1");
  filter->node = node;
  std::vector<std::string> keys;
  EXPECT_TRUE(indexes.forEachCandidate(*filter, [&](const std::string& k) { keys.push_back(k); }));
  EXPECT_EQ(keys, (std::vector<std::string>{"claimed"}));
}

// A pod's node is not indexed (every binding would update the index): a list by node looks at
// every pod.
TEST(FieldIndexTest, ListsOfPodsByNodeLookAtEveryPod) {
  host::KindIndexes<std::string> pods(Kind::kPod);
  kbinder::v1::Object pod;
  pod.mutable_pod()->mutable_metadata()->set_name("a");
  pod.mutable_pod()->mutable_spec()->set_node_name("n1");
  pods.update("a", nullptr, &pod);
  auto by_node = FieldSelector::parse("spec.nodeName=n1", Kind::kPod);
  ASSERT_TRUE(by_node.ok());
  EXPECT_EQ(pods.candidates(*by_node), nullptr);
}

}  // namespace
}  // namespace kbinder::testing
