// SPDX-License-Identifier: Apache-2.0
#include "gpuvalidator.h"

#include <algorithm>
#include <map>

#include "plugins/plugin_test_support.h"

namespace kbinder::plugins::gpuvalidator {
namespace {

using namespace kbinder::plugins::testing;

TEST(GpuValidatorConfigTest, DefaultsToNvidiaGpus) {
  EXPECT_EQ(parseConfig({}).gpu_resource_name, "nvidia.com/gpu");
}

TEST(GpuValidatorConfigTest, TakesAnotherExtendedResource) {
  EXPECT_EQ(
      parseConfig(configWith("gpu_resource_name", textValue("amd.com/gpu"))).gpu_resource_name,
      "amd.com/gpu");
}

TEST(GpuValidatorConfigTest, RejectsBadArguments) {
  const std::vector<std::pair<kbinder::v1::PluginConfig, std::string>> cases = {
      {configWith("gpu_resource_name", textValue("gpu")),
       "argument 'gpu_resource_name' must be an extended resource name such as "
       "\"nvidia.com/gpu\", got \"gpu\""},
      {configWith("gpu_resource_name", intValue(1)),
       "argument 'gpu_resource_name' must be a string"},
      {configWith("gpus", textValue("x")),
       "unknown argument(s) 'gpus'; it accepts: gpu_resource_name"},
  };
  for (const auto& [config, message] : cases) {
    expectConfigError([&] { parseConfig(config); }, message);
  }
}

// Table rows leave trailing fields at their defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

// ---- the rules ------------------------------------------------------------------------------

struct PodSpec {
  std::map<std::string, std::string> annotations;
  std::vector<std::string> limits;       // nvidia.com/gpu limit per app container
  std::vector<std::string> init_limits;  // per init container
};

struct Grant {
  std::string type = "Regular";
  int count = 0;
  std::string portion;
  int groups = 0;
};

kbinder::v1::Pod makePod(const PodSpec& spec) {
  kbinder::v1::Pod pod;
  pod.mutable_metadata()->set_name("p");
  for (const auto& [k, v] : spec.annotations)
    (*pod.mutable_metadata()->mutable_annotations())[k] = v;
  auto add = [](auto* containers, const std::vector<std::string>& limits,
                const std::string& prefix) {
    for (size_t i = 0; i < limits.size(); ++i) {
      auto* c = containers->Add();
      c->set_name(prefix + std::to_string(i));
      (*c->mutable_resources()->mutable_limits())["nvidia.com/gpu"] = limits[i];
    }
  };
  add(pod.mutable_spec()->mutable_containers(), spec.limits, "c");
  add(pod.mutable_spec()->mutable_init_containers(), spec.init_limits, "i");
  if (spec.limits.empty()) pod.mutable_spec()->add_containers()->set_name("main");
  return pod;
}

kbinder::v1::BindRequest makeRequest(const Grant& grant) {
  kbinder::v1::BindRequest request;
  request.mutable_spec()->set_received_resource_type(grant.type);
  request.mutable_spec()->mutable_received_gpu()->set_count(grant.count);
  request.mutable_spec()->mutable_received_gpu()->set_portion(grant.portion);
  for (int i = 0; i < grant.groups; ++i) {
    request.mutable_spec()->add_selected_gpu_groups("g" + std::to_string(i));
  }
  return request;
}

struct RuleCase {
  const char* name;
  PodSpec pod;
  Grant grant;
  std::vector<std::string> problems;  // exactly these, in order
};

void PrintTo(const RuleCase& c, std::ostream* out) {
  *out << c.name;
}

class Rules : public ::testing::TestWithParam<RuleCase> {};

TEST_P(Rules, Apply) {
  const GpuValidator validator(Config{});
  EXPECT_EQ(validator.validate(makePod(GetParam().pod), makeRequest(GetParam().grant)),
            GetParam().problems);
}

const Grant kHalf{"Fraction", 1, "0.50", 1};

INSTANTIATE_TEST_SUITE_P(
    GpuValidator, Rules,
    ::testing::Values(
        RuleCase{"no_gpus", {}, {}, {}},
        RuleCase{"whole_gpus", {{}, {"2", "1"}}, {"Regular", 3, "1.00"}, {}},
        RuleCase{"init_container_peak", {{}, {"1"}, {"4"}}, {"Regular", 4}, {}},
        RuleCase{"fraction", {{{"gpu-fraction", "0.5"}}}, kHalf, {}},
        RuleCase{"fraction_exponent", {{{"gpu-fraction", "5e-1"}}}, kHalf, {}},
        RuleCase{"memory", {{{"gpu-memory", "4096"}}}, {"Fraction", 1, "0.25", 1}, {}},
        RuleCase{"mps_with_fraction", {{{"gpu-fraction", "0.5"}, {"mps", "true"}}}, kHalf, {}},
        RuleCase{"multi_fraction",
                 {{{"gpu-fraction", "0.25"}, {"gpu-fraction-num-devices", "3"}}},
                 {"Fraction", 3, "0.25", 3},
                 {}},
        RuleCase{"mps_without_fraction",
                 {{{"mps", "true"}}},
                 {},
                 {"annotation mps: \"true\" needs a fractional GPU request (gpu-fraction or "
                  "gpu-memory)"}},
        RuleCase{"fraction_with_whole_limit",
                 {{{"gpu-fraction", "0.5"}}, {"1"}},
                 kHalf,
                 {"annotation gpu-fraction cannot be combined with a nvidia.com/gpu limit "
                  "(container \"c0\")"}},
        RuleCase{"memory_with_fraction",
                 {{{"gpu-fraction", "0.5"}, {"gpu-memory", "100"}}},
                 kHalf,
                 {"annotation gpu-memory cannot be combined with gpu-fraction; ask for one"}},
        RuleCase{"memory_with_whole_limit",
                 {{{"gpu-memory", "100"}}, {}, {"1"}},
                 {"Fraction", 1, "0.10", 1},
                 {"annotation gpu-memory cannot be combined with a nvidia.com/gpu limit "
                  "(container \"i0\")"}},
        RuleCase{"devices_without_fraction",
                 {{{"gpu-fraction-num-devices", "2"}}},
                 {},
                 {"annotation gpu-fraction-num-devices needs gpu-fraction or gpu-memory"}},
        RuleCase{
            "memory_not_positive_integer",
            {{{"gpu-memory", "4Gi"}}},
            {"Fraction", 1, "0.10", 1},
            {"annotation gpu-memory must be a positive integer (MiB of GPU memory); got \"4Gi\""}},
        RuleCase{
            "memory_zero",
            {{{"gpu-memory", "0"}}},
            {"Fraction", 1, "0.10", 1},
            {"annotation gpu-memory must be a positive integer (MiB of GPU memory); got \"0\""}},
        RuleCase{"fraction_one",
                 {{{"gpu-fraction", "1.0"}}},
                 kHalf,
                 {"annotation gpu-fraction must be a decimal number strictly between 0 and 1, such "
                  "as \"0.5\"; got \"1.0\""}},
        RuleCase{"fraction_with_suffix",
                 {{{"gpu-fraction", "500m"}}},
                 kHalf,
                 {"annotation gpu-fraction must be a decimal number strictly between 0 and 1, such "
                  "as \"0.5\"; got \"500m\""}},
        RuleCase{"fraction_not_a_number",
                 {{{"gpu-fraction", "half"}}},
                 kHalf,
                 {"annotation gpu-fraction must be a decimal number strictly between 0 and 1, such "
                  "as \"0.5\"; got \"half\""}},
        RuleCase{"devices_not_positive",
                 {{{"gpu-fraction", "0.5"}, {"gpu-fraction-num-devices", "-2"}}},
                 kHalf,
                 {"annotation gpu-fraction-num-devices must be a positive integer; got \"-2\""}},
        RuleCase{"whole_limit_not_whole",
                 {{}, {"1500m"}},
                 {"Regular", 0},
                 {"container \"c0\": limit nvidia.com/gpu must be a whole number of GPUs; got "
                  "\"1500m\""}},
        RuleCase{"regular_grant_for_fraction",
                 {{{"gpu-fraction", "0.5"}}},
                 {"Regular", 1, "0.50", 1},
                 {"BindRequest receivedResourceType is \"Regular\" but the pod asks for a GPU "
                  "fraction; the scheduler must grant a Fraction"}},
        RuleCase{"fraction_grant_for_whole",
                 {{}, {"1"}},
                 {"Fraction", 1, "0.50", 1},
                 {"BindRequest receivedResourceType is \"Fraction\" but the pod asks for no GPU "
                  "fraction (no gpu-fraction or gpu-memory annotation)"}},
        RuleCase{"portion_mismatch",
                 {{{"gpu-fraction", "0.5"}}},
                 {"Fraction", 1, "0.30", 1},
                 {"BindRequest receivedGPU.portion \"0.30\" does not match the pod's gpu-fraction "
                  "\"0.5\""}},
        RuleCase{
            "portion_two_decimals", {{{"gpu-fraction", "0.333"}}}, {"Fraction", 1, "0.33", 1}, {}},
        RuleCase{"fraction_count_mismatch",
                 {{{"gpu-fraction", "0.5"}, {"gpu-fraction-num-devices", "2"}}},
                 {"Fraction", 1, "0.50", 2},
                 {"BindRequest receivedGPU.count 1 does not match the 2 fractional device(s) the "
                  "pod asks for (gpu-fraction-num-devices)"}},
        RuleCase{"fraction_groups_mismatch",
                 {{{"gpu-fraction", "0.5"}}},
                 {"Fraction", 1, "0.50", 0},
                 {"BindRequest selectedGPUGroups has 0 group(s) for the 1 fractional device(s) "
                  "the pod asks for"}},
        RuleCase{
            "whole_count_mismatch",
            {{}, {"2"}},
            {"Regular", 1, "1.00"},
            {"BindRequest receivedGPU.count 1 does not match the pod's nvidia.com/gpu limits (2)"}},
        RuleCase{"unknown_type",
                 {},
                 {"Partial", 0},
                 {"BindRequest receivedResourceType must be \"Regular\" or \"Fraction\"; got "
                  "\"Partial\""}}),
    [](const ::testing::TestParamInfo<RuleCase>& info) { return std::string(info.param.name); });

TEST(GpuValidatorMutateTest, WritesTheTypeAndOneGroupLabel) {
  const GpuValidator validator(Config{});
  auto pod = makePod({{{"gpu-fraction", "0.5"}}});
  const auto result = validator.mutate(pod, makeRequest(kHalf));
  EXPECT_EQ(result.set_annotations().at("received-resource-type"), "Fraction");
  ASSERT_EQ(result.set_labels().size(), 1u);
  EXPECT_EQ(result.set_labels().at("runai-gpu-group"), "g0");
}

TEST(GpuValidatorMutateTest, WritesOneLabelPerGroupAndDropsStaleOnes) {
  const GpuValidator validator(Config{});
  auto pod = makePod({{{"gpu-fraction", "0.5"}, {"gpu-fraction-num-devices", "2"}}});
  (*pod.mutable_metadata()->mutable_labels())["runai-gpu-group"] = "old";
  (*pod.mutable_metadata()->mutable_labels())["runai-gpu-group/old"] = "old";
  (*pod.mutable_metadata()->mutable_labels())["app"] = "x";
  const auto result = validator.mutate(pod, makeRequest({"Fraction", 2, "0.50", 2}));
  EXPECT_EQ(result.set_labels().at("runai-gpu-group/g0"), "g0");
  EXPECT_EQ(result.set_labels().at("runai-gpu-group/g1"), "g1");
  std::vector<std::string> removed(result.remove_labels().begin(), result.remove_labels().end());
  std::sort(removed.begin(), removed.end());
  EXPECT_EQ(removed, (std::vector<std::string>{"runai-gpu-group", "runai-gpu-group/old"}));
}

TEST(GpuValidatorMutateTest, RegularGrantGetsOnlyTheType) {
  const GpuValidator validator(Config{});
  const auto result = validator.mutate(makePod({{}, {"1"}}), makeRequest({"Regular", 1}));
  EXPECT_EQ(result.set_annotations().at("received-resource-type"), "Regular");
  EXPECT_TRUE(result.set_labels().empty());
}

TEST(GpuValidatorNodeTest, RefusesANodeThatCannotHoldTheGrant) {
  const GpuValidator validator(Config{});
  kbinder::v1::Node node;
  node.mutable_metadata()->set_name("gpu-1");
  (*node.mutable_status()->mutable_allocatable())["nvidia.com/gpu"] = "2";
  EXPECT_EQ(validator.checkNode(makeRequest({"Regular", 2}), node), std::nullopt);
  EXPECT_EQ(validator.checkNode(makeRequest({"Regular", 4}), node),
            "node gpu-1 has 2 nvidia.com/gpu allocatable, fewer than the 4 granted");
  kbinder::v1::Node cpu;
  cpu.mutable_metadata()->set_name("cpu-1");
  EXPECT_EQ(validator.checkNode(makeRequest({"Fraction", 1, "0.50", 1}), cpu),
            "node cpu-1 has 0 nvidia.com/gpu allocatable, fewer than the 1 granted");
  EXPECT_EQ(validator.checkNode(makeRequest({}), cpu), std::nullopt);
}

}  // namespace
}  // namespace kbinder::plugins::gpuvalidator
