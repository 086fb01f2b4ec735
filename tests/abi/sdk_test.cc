// The optional C++ SDK: entry helper, exception guard, argument reading.
#include "kbinder/sdk/plugin.h"

#include "kbinder/sdk/node_affinity.h"

#include <gtest/gtest.h>

namespace kbinder::sdk {
namespace {

const kbinder_plugin_descriptor kDescriptor = {};

TEST(SdkEnterTest, RefusesAHostWithAnOlderServiceTable) {
  kbinder_host_services old{};
  old.struct_size = offsetof(kbinder_host_services, last_error);  // a table without last_error
  const char* error = nullptr;
  EXPECT_EQ(enter(&old, &error, kDescriptor), nullptr);
  ASSERT_NE(error, nullptr);
  EXPECT_STREQ(error,
               "the plugin needs a kbinder host providing at least ABI 1.3 services; upgrade "
               "kbinder");
}

TEST(SdkEnterTest, KeepsTheServiceTableAndReturnsTheDescriptor) {
  kbinder_host_services current{};
  current.struct_size = sizeof(kbinder_host_services);
  const char* error = nullptr;
  EXPECT_EQ(enter(&current, &error, kDescriptor), &kDescriptor);
  EXPECT_EQ(hostServices(), &current);
  EXPECT_EQ(error, nullptr);
}

TEST(SdkNodeAffinityTest, RequirementsHoldAsKubernetesEvaluatesThem) {
  const std::vector<std::string> ab{"a", "b"}, five{"5"}, none;
  EXPECT_TRUE(requirementMatches("In", true, "a", ab));
  EXPECT_FALSE(requirementMatches("In", false, "", ab));
  EXPECT_TRUE(requirementMatches("NotIn", false, "", ab));
  EXPECT_FALSE(requirementMatches("NotIn", true, "b", ab));
  EXPECT_TRUE(requirementMatches("Exists", true, "", none));
  EXPECT_TRUE(requirementMatches("DoesNotExist", false, "", none));
  EXPECT_TRUE(requirementMatches("Gt", true, "6", five));
  EXPECT_FALSE(requirementMatches("Gt", true, "5", five));
  EXPECT_TRUE(requirementMatches("Lt", true, "-1", five));
  // Gt and Lt need an integer on both sides and one value; an absent label fails them.
  for (const std::string value : {"", "6x", "six"}) {
    EXPECT_FALSE(requirementMatches("Gt", true, value, five)) << value;
    EXPECT_FALSE(requirementMatches("Lt", true, value, five)) << value;
  }
  EXPECT_FALSE(requirementMatches("Gt", false, "", five));
  EXPECT_FALSE(requirementMatches("Gt", true, "6", ab));
  EXPECT_FALSE(requirementMatches("Lt", true, "1", std::vector<std::string>{""}));
  EXPECT_FALSE(requirementMatches("in", true, "a", ab));  // operators are case-sensitive
}

TEST(SdkNodeAffinityTest, AVolumeWithoutRequiredTermsAdmitsEveryNode) {
  kbinder::v1::PersistentVolume volume;
  kbinder::v1::Node node;
  node.mutable_metadata()->set_name("n1");
  EXPECT_TRUE(nodeAffinityAdmits(volume, node));
  volume.mutable_spec()->mutable_node_affinity()->mutable_required();
  EXPECT_TRUE(nodeAffinityAdmits(volume, node));
  // A term without requirements matches no node.
  volume.mutable_spec()->mutable_node_affinity()->mutable_required()->add_node_selector_terms();
  EXPECT_FALSE(nodeAffinityAdmits(volume, node));
  auto* field = volume.mutable_spec()->mutable_node_affinity()->mutable_required()
                    ->mutable_node_selector_terms(0)->add_match_fields();
  field->set_key("metadata.name");
  field->set_operator_("NotIn");
  field->add_values("n2");
  EXPECT_TRUE(nodeAffinityAdmits(volume, node));
  field->set_key("metadata.uid");  // the only field a term may match on is the name
  EXPECT_FALSE(nodeAffinityAdmits(volume, node));
}

TEST(SdkArgsTest, IntegerRangeAndTypeErrorsNameTheArgument) {
  kbinder::v1::PluginConfig config;
  (*config.mutable_args()->mutable_fields())["n"].set_int_value(9007199254740993LL);
  Args args(config);
  EXPECT_EQ(args.integer("n", 0, 0, INT64_MAX), 9007199254740993LL);
  Args narrow(config);
  try {
    narrow.integer("n", 0, 1, 10);
    ADD_FAILURE() << "out of range accepted";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "argument 'n' must be between 1 and 10, got 9007199254740993");
  }
}

}  // namespace
}  // namespace kbinder::sdk
