// The optional C++ SDK: entry helper, exception guard, argument reading.
#include "kbinder/sdk/plugin.h"

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
               "the plugin needs a kbinder host providing at least ABI 1.2 services; upgrade "
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
