// SPDX-License-Identifier: Apache-2.0
// Loading a profile's plugins: search path, checks, names, arguments, and the resolved plan.
#include "host/plugin/loaded_profile.h"

#include <gtest/gtest.h>

#include "host/base/sha256.h"
#include "test_support.h"

namespace kbinder::host {
namespace {

namespace fs = std::filesystem;
using kbinder::testing::TempDir;
using kbinder::testing::testPlugin;
using kbinder::testing::writeFile;

StatusOr<std::unique_ptr<LoadedProfile>> loadText(const fs::path& path, const std::string& text) {
  writeFile(path, text);
  auto profile = parseProfile(path);
  if (!profile.ok()) return profile.status();
  ProfileLoadOptions options;
  options.builtin_plugin_dir = KBINDER_BUILTIN_PLUGIN_DIR;
  return LoadedProfile::load(std::move(profile).value(), options);
}

std::vector<std::string> names(const std::vector<PluginInstance*>& plugins) {
  std::vector<std::string> out;
  for (auto* p : plugins) out.push_back(p->name());
  return out;
}

TEST(LoadedProfileTest, ShippedDefaultProfileLoadsTheBuiltins) {
  auto profile = parseProfile(fs::path(KBINDER_SOURCE_DIR) / "config/profiles/default.toml");
  ASSERT_TRUE(profile.ok());
  ProfileLoadOptions options;
  options.builtin_plugin_dir = KBINDER_BUILTIN_PLUGIN_DIR;
  auto loaded = LoadedProfile::load(std::move(profile).value(), options);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  std::vector<std::string> loaded_names;
  for (const auto& p : (*loaded)->plugins()) loaded_names.push_back(p->name());
  EXPECT_EQ(loaded_names, (std::vector<std::string>{"gpuvalidator", "volumebinding", "dra"}));
}

TEST(LoadedProfileTest, PlanFollowsProfileOrderAndReversesUnreserve) {
  TempDir dir;
  auto loaded = loadText(dir.path() / "p.toml", R"(
name = "order"
plugin_dirs = [")" + std::string(KBINDER_TEST_PLUGIN_DIR) +
                                                    R"("]
[[plugins]]
name = "cplugin"
[[plugins]]
name = "schema-a"
library = "schema_a.so"
[[plugins]]
name = "cplugin-concurrent"
library = "cplugin_concurrent.so"
[[plugins]]
name = "gpuvalidator"
enabled = false
)");
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  const LoadedProfile& p = **loaded;
  EXPECT_EQ(p.plugins().size(), 3u) << "disabled plugins are not loaded";
  EXPECT_EQ(names(p.pluginsFor(ExtensionPoint::kValidate)),
            (std::vector<std::string>{"cplugin", "schema-a", "cplugin-concurrent"}));
  EXPECT_EQ(names(p.pluginsFor(ExtensionPoint::kReserve)),
            (std::vector<std::string>{"cplugin", "cplugin-concurrent"}));
  EXPECT_EQ(names(p.pluginsFor(ExtensionPoint::kUnreserve)),
            (std::vector<std::string>{"cplugin-concurrent", "cplugin"}));
  const std::string plan = p.describe();
  EXPECT_NE(plan.find("validate:  cplugin > schema-a > cplugin-concurrent"), std::string::npos)
      << plan;
  EXPECT_NE(plan.find("unreserve: cplugin-concurrent > cplugin   (reverse order)"),
            std::string::npos)
      << plan;
  EXPECT_NE(plan.find("bind:      cplugin > cplugin-concurrent > default binder (if all skip)"),
            std::string::npos)
      << plan;
  EXPECT_NE(plan.find("gpuvalidator (disabled)"), std::string::npos) << plan;
}

TEST(LoadedProfileTest, ErrorsNameTheProfilePositionAndPlugin) {
  TempDir dir;
  const fs::path path = dir.path() / "p.toml";
  const std::string where = "profile " + path.string();

  auto missing = loadText(path, "name = \"x\"\n[[plugins]]\nname = \"nope\"\n");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(),
            where + ":2:1: plugin 'nope': library 'nope.so' not found in [" + dir.path().string() +
                ", " + KBINDER_BUILTIN_PLUGIN_DIR + "]");

  auto mismatch = loadText(path, "name = \"x\"\n[[plugins]]\nname = \"dra\"\nlibrary = \"" +
                                     testPlugin("cplugin.so").string() + "\"\n");
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.status().message().find(where + ":2:1: plugin 'dra': library " +
                                             testPlugin("cplugin.so").string() +
                                             " is the plugin 'cplugin'; write name = \"cplugin\""),
            std::string::npos)
      << mismatch.status().message();

  auto bad_args = loadText(path,
                           "name = \"x\"\n[[plugins]]\nname = \"volumebinding\"\n"
                           "[plugins.args]\nbind_timeout_seconds = \"ten\"\n");
  ASSERT_FALSE(bad_args.ok());
  EXPECT_EQ(bad_args.status().message(),
            where +
                ":2:1: plugin 'volumebinding' refused its configuration: argument "
                "'bind_timeout_seconds' must be a number of seconds");

  auto faulty = loadText(path, "name = \"x\"\n[[plugins]]\nname = \"faulty\"\nlibrary = \"" +
                                   testPlugin("fault_newer_minor.so").string() + "\"\n");
  ASSERT_FALSE(faulty.ok());
  EXPECT_NE(faulty.status().message().find(where + ":2:1: plugin 'faulty': plugin library "),
            std::string::npos);
  EXPECT_NE(faulty.status().message().find("needs kbinder ABI 1.99"), std::string::npos);
}

TEST(LoadedProfileTest, InsecurePluginDirectoryIsRefusedUnlessTheProfileOptsOut) {
  TempDir dir;
  const fs::path plugins = dir.path() / "plugins";
  fs::create_directory(plugins);
  fs::copy_file(testPlugin("cplugin.so"), plugins / "cplugin.so");
  fs::permissions(plugins, fs::perms::owner_all | fs::perms::others_all);
  const std::string body =
      "name = \"x\"\nplugin_dirs = [\"plugins\"]\n[[plugins]]\nname = \"cplugin\"\n";
  auto refused = loadText(dir.path() / "p.toml", body);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(refused.status().message().find("directory " + plugins.string() +
                                            " is writable by every user"),
            std::string::npos)
      << refused.status().message();
  auto allowed = loadText(dir.path() / "p.toml", "allow_insecure_permissions = true\n" + body);
  EXPECT_TRUE(allowed.ok()) << allowed.status().message();
}

TEST(LoadedProfileTest, Sha256PinIsEnforced) {
  TempDir dir;
  const auto digest = sha256File(testPlugin("cplugin.so"));
  ASSERT_TRUE(digest.ok());
  const std::string head = "name = \"x\"\nplugin_dirs = [\"" +
                           std::string(KBINDER_TEST_PLUGIN_DIR) +
                           "\"]\n[[plugins]]\nname = \"cplugin\"\n";
  EXPECT_TRUE(loadText(dir.path() / "p.toml", head + "sha256 = \"" + *digest + "\"\n").ok());
  auto wrong =
      loadText(dir.path() / "p.toml", head + "sha256 = \"" + std::string(64, 'a') + "\"\n");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("but the profile pins " + std::string(64, 'a')),
            std::string::npos)
      << wrong.status().message();
}

}  // namespace
}  // namespace kbinder::host
