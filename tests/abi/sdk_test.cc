// SPDX-License-Identifier: Apache-2.0
// The optional C++ SDK: entry helper, exception guard, argument reading.
#include <gtest/gtest.h>

#include "kbinder/sdk/node_affinity.h"
#include "kbinder/sdk/plugin.h"
#include "kbinder/sdk/wire.h"

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
  auto* field = volume.mutable_spec()
                    ->mutable_node_affinity()
                    ->mutable_required()
                    ->mutable_node_selector_terms(0)
                    ->add_match_fields();
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

// wire::present answers what decoding would: the field path holds in some element.
TEST(SdkWireTest, PresentAgreesWithDecoding) {
  using kbinder::v1::Pod, kbinder::v1::PodSpec, kbinder::v1::Volume, kbinder::v1::ObjectMeta;
  const std::initializer_list<int> claim = {Pod::kSpecFieldNumber, PodSpec::kVolumesFieldNumber,
                                            Volume::kPersistentVolumeClaimFieldNumber};
  const auto encoded = [](const Pod& pod) { return pod.SerializeAsString(); };
  const auto has = [](const std::string& bytes, std::initializer_list<int> path) {
    return wire::present(bytes.data(), bytes.size(), path);
  };

  Pod pod;
  pod.mutable_metadata()->set_name("p");
  pod.mutable_metadata()->mutable_labels()->insert({"app", "web"});
  pod.mutable_spec()->set_node_name("n1");
  EXPECT_FALSE(has(encoded(pod), claim)) << "no volumes";
  EXPECT_TRUE(has(encoded(pod), {Pod::kSpecFieldNumber, PodSpec::kNodeNameFieldNumber}));
  EXPECT_TRUE(has(encoded(pod), {Pod::kMetadataFieldNumber, ObjectMeta::kLabelsFieldNumber}));
  EXPECT_FALSE(has(encoded(pod), {Pod::kMetadataFieldNumber, ObjectMeta::kUidFieldNumber}));
  EXPECT_TRUE(has(encoded(pod), {Pod::kSpecFieldNumber}));
  EXPECT_TRUE(has(encoded(pod), {}));

  pod.mutable_spec()->add_volumes()->set_name("token");  // no claim source
  pod.mutable_spec()->add_volumes()->set_name("cache");
  EXPECT_FALSE(has(encoded(pod), claim)) << "volumes without a claim";
  // A claim source in a later element, even an empty one, is found.
  pod.mutable_spec()->mutable_volumes(1)->mutable_persistent_volume_claim();
  EXPECT_TRUE(has(encoded(pod), claim));
  pod.mutable_spec()->mutable_volumes(1)->mutable_persistent_volume_claim()->set_claim_name("data");
  EXPECT_TRUE(has(encoded(pod), claim));
  EXPECT_FALSE(has(encoded(pod), {Pod::kSpecFieldNumber, PodSpec::kVolumesFieldNumber,
                                  Volume::kEphemeralFieldNumber}));

  // A message split over two records (as concatenated encodings are) is looked into whole.
  Pod first, second;
  first.mutable_spec()->set_node_name("n1");
  second.mutable_spec()->add_volumes()->mutable_ephemeral();
  const std::string concatenated = encoded(first) + encoded(second);
  EXPECT_TRUE(has(concatenated, {Pod::kSpecFieldNumber, PodSpec::kVolumesFieldNumber,
                                 Volume::kEphemeralFieldNumber}));
  EXPECT_TRUE(has(concatenated, {Pod::kSpecFieldNumber, PodSpec::kNodeNameFieldNumber}));

  EXPECT_FALSE(wire::present(nullptr, 0, claim)) << "an empty message holds nothing";
}

// A hook's objects decoded for the cycle: the same bytes give what was decoded; other bytes, if
// only of the same length (a label changed by Mutate), are decoded again.
TEST(SdkCycleObjectsTest, DecodesAgainOnlyWhatChanged) {
  const auto bytesOf = [](const std::string& s) {
    return kbinder_bytes{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
  };
  kbinder::v1::Pod pod;
  pod.mutable_metadata()->set_name("p");
  (*pod.mutable_metadata()->mutable_labels())["tier"] = "a";
  const std::string first = pod.SerializeAsString();
  (*pod.mutable_metadata()->mutable_labels())["tier"] = "b";
  const std::string second = pod.SerializeAsString();
  ASSERT_EQ(first.size(), second.size());
  kbinder::v1::BindRequest request;
  request.mutable_spec()->set_pod_name("p");
  const std::string request_bytes = request.SerializeAsString();

  CycleObjects objects;
  kbinder_cycle cycle{};
  cycle.pod = bytesOf(first);
  cycle.bind_request = bytesOf(request_bytes);
  const kbinder::v1::Pod* decoded = &objects.pod(cycle);
  EXPECT_EQ(decoded->metadata().labels().at("tier"), "a");
  const std::string copy = first;  // the same bytes elsewhere
  cycle.pod = bytesOf(copy);
  EXPECT_EQ(&objects.pod(cycle), decoded);
  EXPECT_EQ(objects.pod(cycle).metadata().labels().at("tier"), "a");
  cycle.pod = bytesOf(second);
  EXPECT_EQ(objects.pod(cycle).metadata().labels().at("tier"), "b");
  EXPECT_EQ(objects.request(cycle).spec().pod_name(), "p");

  // Bytes that do not decode throw, and are not taken for the ones decoded before.
  const std::string broken =
      "\x0a\x05"
      "ab";  // a 5-byte field with 2 bytes
  cycle.pod = bytesOf(broken);
  EXPECT_THROW(objects.pod(cycle), std::runtime_error);
  EXPECT_THROW(objects.pod(cycle), std::runtime_error);
  cycle.pod = bytesOf(second);
  EXPECT_EQ(objects.pod(cycle).metadata().labels().at("tier"), "b");
  cycle.node = kbinder_bytes{nullptr, 0};
  EXPECT_EQ(objects.node(cycle).metadata().name(), "") << "empty bytes: the empty message";
}

// Bytes that do not parse answer "present": the caller decodes them and reports the fault.
TEST(SdkWireTest, MalformedBytesAnswerPresent) {
  const std::initializer_list<int> path = {4, 5, 2};
  const std::string cases[] = {
      std::string("\x22\x10\x2a", 3),      // spec's length runs past the end
      std::string("\x22\x02\x2a\x7f", 4),  // a volume's length runs past its spec
      std::string("\x80", 1),              // a tag cut short
      std::string("\x23", 1),              // a group (wire type 3): not used by the schema
      std::string("\x00\x00", 2),          // field number 0
  };
  for (const std::string& bytes : cases) {
    EXPECT_TRUE(wire::present(bytes.data(), bytes.size(), path)) << testing::PrintToString(bytes);
  }
  for (const std::string& bytes : cases) {
    kbinder::v1::Pod pod;
    EXPECT_FALSE(pod.ParseFromString(bytes))
        << "a decode refuses " << testing::PrintToString(bytes);
  }  // A message field encoded as a varint: a decode keeps it as an unknown field; the walk cannot
  // look into it and answers "present", which costs the caller a decode and nothing else.
  const std::string varint_spec("\x20\x01", 2);
  EXPECT_TRUE(wire::present(varint_spec.data(), varint_spec.size(), path));
}

}  // namespace
}  // namespace kbinder::sdk
