// SPDX-License-Identifier: Apache-2.0
// Field selectors: parsed against the kind's schema, evaluated on the schema's form.
#include "host/model/field_selector.h"

#include <gtest/gtest.h>

namespace kbinder::testing {
namespace {

using host::FieldSelector;
using host::Kind;

kbinder::v1::Object volume(const std::string& name, const std::string& phase,
                           const std::string& claim_ns = "", const std::string& claim = "") {
  kbinder::v1::Object o;
  auto& pv = *o.mutable_persistent_volume();
  pv.mutable_metadata()->set_name(name);
  pv.mutable_spec()->set_storage_class_name("fast");
  if (!claim.empty()) {
    pv.mutable_spec()->mutable_claim_ref()->set_namespace_(claim_ns);
    pv.mutable_spec()->mutable_claim_ref()->set_name(claim);
  }
  if (!phase.empty()) pv.mutable_status()->set_phase(phase);
  return o;
}

bool selects(const std::string& text, const kbinder::v1::Object& object) {
  auto selector = FieldSelector::parse(text, Kind::kPersistentVolume);
  EXPECT_TRUE(selector.ok()) << selector.status().message();
  return selector.ok() && selector->matches(object);
}

TEST(FieldSelectorTest, EveryRequirementMustHold) {
  const auto free = volume("a", "Available");
  const auto bound = volume("b", "Bound", "ml", "data");
  EXPECT_TRUE(selects("", bound));
  EXPECT_TRUE(selects("status.phase!=Bound", free));
  EXPECT_FALSE(selects("status.phase!=Bound", bound));
  EXPECT_TRUE(selects("status.phase==Bound", bound));
  EXPECT_TRUE(selects(" spec.claimRef.namespace = ml , spec.claimRef.name=data", bound));
  EXPECT_FALSE(selects("spec.claimRef.namespace=ml,spec.claimRef.name=other", bound));
  EXPECT_TRUE(selects("metadata.name=a,spec.storageClassName=fast", free));
}

TEST(FieldSelectorTest, UnsetFieldsCompareAsEmpty) {
  const auto free = volume("a", "");  // no status, no claimRef
  EXPECT_TRUE(selects("status.phase=", free));
  EXPECT_TRUE(selects("status.phase!=Bound", free));
  EXPECT_TRUE(selects("spec.claimRef.name=", free));
  EXPECT_FALSE(selects("spec.claimRef.name=data", free));
}

TEST(FieldSelectorTest, BadSelectorsNameTheRequirementAndTheFix) {
  struct Case {
    std::string text;
    std::string expected;
  };
  for (const Case& c : std::vector<Case>{
           {"status.phase", "has no operator; write field=value"},
           {"status.phase=Bound,,metadata.name=a", "is empty"},
           {"status.phase=Bound,", "is empty"},
           {"=Bound", "names no field"},
           {"spec.storage_class_name=fast", "has no single field for"},
           {"spec.nodeName=n1", "kbinder's schema of PersistentVolume has no single field"},
           {"spec.claimRef=x", "is an object, not a value"},
           {"status.phase.x=y", "selects into phase, which is a value"},
           {"spec.accessModes=ReadWriteOnce", "has no single field for"},
       }) {
    auto selector = FieldSelector::parse(c.text, Kind::kPersistentVolume);
    ASSERT_FALSE(selector.ok()) << c.text;
    EXPECT_NE(selector.status().message().find(c.expected), std::string::npos)
        << c.text << ": " << selector.status().message();
    EXPECT_NE(selector.status().message().find("field selector \"" + c.text + "\""),
              std::string::npos)
        << selector.status().message();
  }
}

TEST(FieldSelectorTest, PathsResolveAgainstTheKindsOwnSchema) {
  EXPECT_TRUE(FieldSelector::parse("spec.nodeName=n1", Kind::kPod).ok());
  EXPECT_TRUE(FieldSelector::parse("metadata.namespace=ml", Kind::kBindRequest).ok());
  EXPECT_FALSE(FieldSelector::parse("spec.nodeName=n1", Kind::kNode).ok());
}

}  // namespace
}  // namespace kbinder::testing
