// SPDX-License-Identifier: Apache-2.0
// Calling into plugins: results, per-cycle state, services, concurrency, and every misbehaviour
// turned into an Error that names the plugin and the extension point.
#include "host/plugin/plugin_instance.h"

#include <gtest/gtest.h>

#include <thread>

#include "kbinder/v1/objects.pb.h"
#include "test_support.h"

namespace kbinder::host {
namespace {

using kbinder::testing::builtinPlugin;
using kbinder::testing::testPlugin;

// A cycle's objects, serialized once, as the framework will hand them over.
struct CycleBytes {
  CycleBytes() {
    kbinder::v1::Pod pod;
    pod.mutable_metadata()->set_name("train-0");
    pod.mutable_metadata()->set_namespace_("ml");
    pod.mutable_metadata()->set_uid("uid-1");
    pod.mutable_spec()->set_node_name("gpu-node-1");
    pod_bytes = pod.SerializeAsString();
    cycle.struct_size = sizeof(kbinder_cycle);
    cycle.struct_version = KBINDER_ABI_VERSION;
    cycle.cycle_id = 7;
    cycle.attempt = 1;
    cycle.pod = {reinterpret_cast<const uint8_t*>(pod_bytes.data()), pod_bytes.size()};
  }
  std::string pod_bytes;
  kbinder_cycle cycle{};
};

std::unique_ptr<PluginInstance> instantiate(const std::string& file,
                                            const kbinder::v1::PluginConfig& config = {}) {
  auto library = PluginLibrary::open(file);
  EXPECT_TRUE(library.ok()) << library.status().message();
  if (!library.ok()) return nullptr;
  auto instance = PluginInstance::create(*library, config, std::chrono::seconds(5));
  EXPECT_TRUE(instance.ok()) << instance.status().message();
  return instance.ok() ? std::move(instance).value() : nullptr;
}

// An in-memory ObjectServices with one node.
class FakeObjects : public ObjectServices {
 public:
  StatusOr<kbinder::v1::Object> get(const kbinder::v1::GetRequest& request) override {
    if (request.kind() != "Node" || request.name() != "gpu-node-1") {
      return notFound(request.kind() + " " + request.name() + " not found");
    }
    kbinder::v1::Object object;
    auto* node = object.mutable_node();
    node->mutable_metadata()->set_name("gpu-node-1");
    (*node->mutable_status()->mutable_allocatable())["nvidia.com/gpu"] = "8";
    return object;
  }
  StatusOr<kbinder::v1::ObjectList> list(const kbinder::v1::ListRequest&) override {
    return kbinder::v1::ObjectList();
  }
  StatusOr<kbinder::v1::Object> patch(const kbinder::v1::PatchRequest&) override {
    return Status(StatusCode::kAborted, "stale");
  }
};

TEST(PluginInstanceTest, RunsEveryHookOfThePlainCPluginWithItsState) {
  auto plugin = instantiate(testPlugin("cplugin.so"));
  ASSERT_NE(plugin, nullptr);
  CycleBytes bytes;
  void* state = nullptr;
  CallEnvironment env;

  auto validate = plugin->invoke(ExtensionPoint::kValidate, bytes.cycle, &state, env);
  EXPECT_EQ(validate.code, Code::kSuccess) << validate.message;
  ASSERT_NE(state, nullptr) << "the plugin keeps per-cycle state";

  auto mutate = plugin->invoke(ExtensionPoint::kMutate, bytes.cycle, &state, env);
  EXPECT_EQ(mutate.code, Code::kSuccess);
  EXPECT_EQ(mutate.mutate().set_labels().at("cplugin"), "seen");

  EXPECT_EQ(plugin->invoke(ExtensionPoint::kReserve, bytes.cycle, &state, env).code,
            Code::kSuccess);
  auto permit = plugin->invoke(ExtensionPoint::kPermit, bytes.cycle, &state, env);
  EXPECT_EQ(permit.code, Code::kWait);
  EXPECT_EQ(permit.permit().timeout_millis(), 250);
  EXPECT_EQ(plugin->invoke(ExtensionPoint::kPreBind, bytes.cycle, &state, env).code,
            Code::kSuccess);
  EXPECT_EQ(plugin->invoke(ExtensionPoint::kBind, bytes.cycle, &state, env).code, Code::kSkip);
  auto post = plugin->invoke(ExtensionPoint::kPostBind, bytes.cycle, &state, env);
  EXPECT_EQ(post.code, Code::kSuccess);
  EXPECT_EQ(post.message.substr(0, post.message.find('|')),
            "validate,mutate,reserve,permit,pre_bind,bind,post_bind");
  plugin->releaseCycleState(state);  // freed by the plugin; ASan reports it otherwise
}

TEST(PluginInstanceTest, ValidationFailureCarriesEveryProblem) {
  auto plugin = instantiate(testPlugin("cplugin.so"));
  ASSERT_NE(plugin, nullptr);
  CycleBytes bytes;
  bytes.cycle.pod = {nullptr, 0};
  void* state = nullptr;
  auto outcome = plugin->invoke(ExtensionPoint::kValidate, bytes.cycle, &state, {});
  EXPECT_EQ(outcome.code, Code::kUnschedulableAndUnresolvable);
  EXPECT_EQ(outcome.message, "the cycle has no pod");
  ASSERT_EQ(outcome.validate().errors_size(), 1);
  EXPECT_EQ(outcome.validate().errors(0), "the cycle has no pod");
  plugin->releaseCycleState(state);
}

TEST(PluginInstanceTest, SerializedPluginNeverRunsTwoCallsAtOnce) {
  for (const auto& [file, serialized] :
       {std::pair{"cplugin.so", true}, std::pair{"cplugin_concurrent.so", false}}) {
    auto plugin = instantiate(testPlugin(file));
    ASSERT_NE(plugin, nullptr);
    CycleBytes bytes;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 10; ++i) {
          void* state = nullptr;
          EXPECT_EQ(plugin->invoke(ExtensionPoint::kReserve, bytes.cycle, &state, {}).code,
                    Code::kSuccess);
          plugin->releaseCycleState(state);
        }
      });
    }
    for (auto& t : threads) t.join();
    void* state = nullptr;
    const auto post = plugin->invoke(ExtensionPoint::kPostBind, bytes.cycle, &state, {});
    plugin->releaseCycleState(state);
    const std::string max = post.message.substr(post.message.find("max_inside=") + 11);
    if (serialized) {
      EXPECT_EQ(max, "1") << file << ": calls overlapped in a serialized plugin";
    } else {
      EXPECT_GT(std::stoi(max), 1) << file << ": a concurrent plugin was serialized anyway";
    }
  }
}

struct FaultCase {
  std::string file;
  ExtensionPoint point;
  std::string expected;
};

void PrintTo(const FaultCase& c, std::ostream* out) {
  *out << c.file << " at " << extensionPointName(c.point);
}

class HookFaultTest : public ::testing::TestWithParam<FaultCase> {};

TEST_P(HookFaultTest, BecomesAnErrorNamingPluginAndExtensionPoint) {
  const FaultCase& c = GetParam();
  auto plugin = instantiate(testPlugin(c.file));
  ASSERT_NE(plugin, nullptr);
  CycleBytes bytes;
  void* state = nullptr;
  CallEnvironment env;
  env.timeout = std::chrono::milliseconds(100);
  auto outcome = plugin->invoke(c.point, bytes.cycle, &state, env);
  EXPECT_EQ(outcome.code, Code::kError);
  const std::string prefix =
      "plugin 'faulty' at " + std::string(extensionPointName(c.point)) + ": ";
  EXPECT_EQ(outcome.message.substr(0, prefix.size()), prefix) << outcome.message;
  EXPECT_NE(outcome.message.find(c.expected), std::string::npos)
      << "expected \"" << c.expected << "\" in: " << outcome.message;
}

INSTANTIATE_TEST_SUITE_P(
    EveryMisbehaviour, HookFaultTest,
    ::testing::Values(
        FaultCase{"fault_throws.so", ExtensionPoint::kReserve, "threw an exception (boom)"},
        FaultCase{"fault_garbage.so", ExtensionPoint::kValidate,
                  "result bytes that do not decode as kbinder.v1.ValidateResult"},
        FaultCase{"fault_garbage.so", ExtensionPoint::kPermit,
                  "result bytes that do not decode as kbinder.v1.PermitResult"},
        FaultCase{"fault_unknown_code.so", ExtensionPoint::kPreBind, "unknown status code 42"},
        FaultCase{"fault_slow.so", ExtensionPoint::kPreBind, "overran its deadline of 0.1s"},
        FaultCase{"fault_abi_fault.so", ExtensionPoint::kBind,
                  "ABI fault ABI_INTERNAL: lost track of things"},
        FaultCase{"fault_wrong_status.so", ExtensionPoint::kReserve,
                  "returned Wait, which reserve does not allow"},
        FaultCase{"fault_state_no_release.so", ExtensionPoint::kReserve,
                  "stored per-cycle state but has no release_cycle_state"}),
    [](const auto& info) {
      return info.param.file.substr(6, info.param.file.size() - 9) + "_" +
             std::string(extensionPointName(info.param.point));
    });

TEST(PluginInstanceTest, AnInstanceKeepsItsLibraryLoaded) {
  auto library = PluginLibrary::open(testPlugin("cplugin_concurrent.so"));
  ASSERT_TRUE(library.ok());
  auto instance = PluginInstance::create(*library, {}, std::chrono::seconds(1));
  ASSERT_TRUE(instance.ok());
  library = Status(StatusCode::kInternal, "handle dropped");  // only the instance holds it now
  CycleBytes bytes;
  void* state = nullptr;
  const auto outcome = (*instance)->invoke(ExtensionPoint::kReserve, bytes.cycle, &state, {});
  EXPECT_EQ(outcome.code, Code::kSuccess) << "the plugin's code is still mapped";
  (*instance)->releaseCycleState(state);
}

TEST(PluginInstanceTest, CreateFailureCarriesThePluginsReason) {
  auto library = PluginLibrary::open(testPlugin("fault_bad_config.so"));
  ASSERT_TRUE(library.ok());
  kbinder::v1::PluginConfig config;
  config.set_plugin_name("faulty");
  auto instance = PluginInstance::create(*library, config, std::chrono::seconds(1));
  ASSERT_FALSE(instance.ok());
  EXPECT_EQ(instance.status().message(),
            "plugin 'faulty' refused its configuration: argument 'size' must be positive");
}

TEST(PluginInstanceTest, PluginsEmbeddingTheSameSchemaRunTogetherInOneProcess) {
  // Two test plugins and the three built-ins each carry the generated schema; loaded together
  // they must neither abort at load nor mix up their message types.
  std::vector<std::unique_ptr<PluginInstance>> keep;
  for (const std::string name : {"volumebinding", "dra", "gpuvalidator"}) {
    keep.push_back(instantiate(builtinPlugin(name + ".so")));
  }
  kbinder::v1::PluginConfig config;
  (*config.mutable_args()->mutable_fields())["greeting"].set_string_value("hi");
  auto a = instantiate(testPlugin("schema_a.so"), config);
  auto b = instantiate(testPlugin("schema_b.so"));
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  CycleBytes bytes;
  FakeObjects objects;
  CallEnvironment env;
  env.objects = &objects;
  void* state = nullptr;
  auto from_a = a->invoke(ExtensionPoint::kValidate, bytes.cycle, &state, env);
  auto from_b = b->invoke(ExtensionPoint::kValidate, bytes.cycle, &state, env);
  EXPECT_EQ(from_a.code, Code::kSuccess) << from_a.message;
  EXPECT_EQ(from_a.message, "hi schema-a pod=train-0 node=gpu-node-1 gpus=8");
  EXPECT_EQ(from_b.message, "hello schema-b pod=train-0 node=gpu-node-1 gpus=8");
}

TEST(PluginInstanceTest, ObjectServicesReportNotFoundAndUnavailableWithAReason) {
  auto plugin = instantiate(testPlugin("schema_a.so"));
  ASSERT_NE(plugin, nullptr);
  CycleBytes bytes;
  void* state = nullptr;
  auto without = plugin->invoke(ExtensionPoint::kValidate, bytes.cycle, &state, {});
  EXPECT_NE(
      without.message.find("get_object=-7 (object services are not available during validate)"),
      std::string::npos)
      << without.message;

  kbinder::v1::Pod pod;
  pod.mutable_metadata()->set_name("p");
  pod.mutable_spec()->set_node_name("gone");
  bytes.pod_bytes = pod.SerializeAsString();
  bytes.cycle.pod = {reinterpret_cast<const uint8_t*>(bytes.pod_bytes.data()),
                     bytes.pod_bytes.size()};
  FakeObjects objects;
  CallEnvironment env;
  env.objects = &objects;
  auto missing = plugin->invoke(ExtensionPoint::kValidate, bytes.cycle, &state, env);
  EXPECT_NE(missing.message.find("get_object=-3 (Node gone not found)"), std::string::npos)
      << missing.message;
}

TEST(PluginInstanceTest, SdkArgumentErrorsRefuseCreate) {
  auto library = PluginLibrary::open(testPlugin("schema_a.so"));
  ASSERT_TRUE(library.ok());
  kbinder::v1::PluginConfig config;
  config.set_plugin_name("schema-a");
  (*config.mutable_args()->mutable_fields())["greting"].set_string_value("typo");
  auto instance = PluginInstance::create(*library, config, std::chrono::seconds(1));
  ASSERT_FALSE(instance.ok());
  EXPECT_EQ(instance.status().message(),
            "plugin 'schema-a' refused its configuration: unknown argument(s) 'greting'; it "
            "accepts: greeting");
}

}  // namespace
}  // namespace kbinder::host
