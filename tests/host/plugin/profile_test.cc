// SPDX-License-Identifier: Apache-2.0
// Profile parsing: defaults, every setting, arguments kept exact, and errors with positions.
#include "host/plugin/profile.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace kbinder::host {
namespace {

using kbinder::testing::TempDir;
using kbinder::testing::writeFile;

TEST(ProfileTest, ReadsEverySetting) {
  auto profile = parseProfileText(R"(
name = "gpu-cluster"
description = "for the GPU fleet"
plugin_dirs = ["vendor", "/opt/plugins"]
allow_insecure_permissions = true

[cycle]
workers = 8
backoff_base_seconds = 0.25
backoff_cap_seconds = 30
backoff_jitter = 0.5
default_backoff_limit = 7
hook_timeout_seconds = 12
permit_max_wait_seconds = 45
annotations_with_binding = false

[[plugins]]
name = "gpuvalidator"

[[plugins]]
name = "acme.quota"
library = "vendor/libacme-quota.so"
enabled = false
sha256 = "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"
[plugins.args]
big = 9007199254740993
ratio = 0.125
mode = "strict"
on = true
since = 2026-01-02T03:04:05.123456789+01:30
day = 2026-03-04
zones = ["a", "b"]
limits = { cpu = 4 }
)",
                                  "/etc/kbinder/gpu.toml");
  ASSERT_TRUE(profile.ok()) << profile.status().message();
  const Profile& p = *profile;
  EXPECT_EQ(p.name, "gpu-cluster");
  EXPECT_EQ(p.description, "for the GPU fleet");
  EXPECT_EQ(p.path, "/etc/kbinder/gpu.toml");
  ASSERT_EQ(p.plugin_dirs.size(), 2u);
  EXPECT_EQ(p.plugin_dirs[0], "/etc/kbinder/vendor");
  EXPECT_EQ(p.plugin_dirs[1], "/opt/plugins");
  EXPECT_TRUE(p.allow_insecure_permissions);
  EXPECT_EQ(p.cycle.workers, 8);
  EXPECT_EQ(p.cycle.backoff_base, std::chrono::milliseconds(250));
  EXPECT_EQ(p.cycle.backoff_cap, std::chrono::seconds(30));
  EXPECT_DOUBLE_EQ(p.cycle.backoff_jitter, 0.5);
  EXPECT_EQ(p.cycle.default_backoff_limit, 7);
  EXPECT_EQ(p.cycle.hook_timeout, std::chrono::seconds(12));
  EXPECT_EQ(p.cycle.permit_max_wait, std::chrono::seconds(45));
  EXPECT_FALSE(p.cycle.annotations_with_binding);

  ASSERT_EQ(p.plugins.size(), 2u);
  EXPECT_EQ(p.plugins[0].name, "gpuvalidator");
  EXPECT_EQ(p.plugins[0].library, "gpuvalidator.so") << "library defaults to <name>.so";
  EXPECT_TRUE(p.plugins[0].enabled);
  EXPECT_EQ(p.plugins[0].position.line, 17u);
  const PluginSpec& acme = p.plugins[1];
  EXPECT_EQ(acme.library, "vendor/libacme-quota.so");
  EXPECT_FALSE(acme.enabled);
  EXPECT_EQ(acme.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

  const auto& args = acme.args.fields();
  EXPECT_EQ(args.at("big").int_value(), 9007199254740993LL) << "64-bit integers stay exact";
  EXPECT_DOUBLE_EQ(args.at("ratio").float_value(), 0.125);
  EXPECT_EQ(args.at("mode").string_value(), "strict");
  EXPECT_TRUE(args.at("on").bool_value());
  const auto& since = args.at("since").datetime_value();
  EXPECT_TRUE(since.has_date() && since.has_time() && since.has_offset());
  EXPECT_EQ(since.year(), 2026);
  EXPECT_EQ(since.second(), 5);
  EXPECT_EQ(since.nanosecond(), 123456789) << "datetimes keep their nanoseconds";
  EXPECT_EQ(since.offset_minutes(), 90);
  EXPECT_EQ(since.text(), "2026-01-02T03:04:05.123456789+01:30");
  const auto& day = args.at("day").datetime_value();
  EXPECT_TRUE(day.has_date());
  EXPECT_FALSE(day.has_time());
  EXPECT_EQ(day.text(), "2026-03-04");
  ASSERT_EQ(args.at("zones").list_value().values_size(), 2);
  EXPECT_EQ(args.at("zones").list_value().values(1).string_value(), "b");
  EXPECT_EQ(args.at("limits").map_value().fields().at("cpu").int_value(), 4);
}

TEST(ProfileTest, DefaultsApplyAndAnEmptyPluginListIsTheHostAlone) {
  auto profile = parseProfileText("name = \"bare\"\n", "bare.toml");
  ASSERT_TRUE(profile.ok()) << profile.status().message();
  EXPECT_TRUE(profile->plugins.empty());
  EXPECT_EQ(profile->cycle.workers, 16);
  EXPECT_EQ(profile->cycle.default_backoff_limit, 5);
  EXPECT_FALSE(profile->allow_insecure_permissions);
}

struct BadProfile {
  std::string label;
  std::string text;
  std::string expected;  // the whole message after "profile /p/bad.toml"
};

void PrintTo(const BadProfile& c, std::ostream* out) {
  *out << c.label;
}

class BadProfileTest : public ::testing::TestWithParam<BadProfile> {};

TEST_P(BadProfileTest, ErrorCarriesFileLineColumnAndTheFix) {
  auto profile = parseProfileText(GetParam().text, "/p/bad.toml");
  ASSERT_FALSE(profile.ok());
  EXPECT_EQ(profile.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(profile.status().message(), "profile /p/bad.toml" + GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Errors, BadProfileTest,
    ::testing::Values(
        BadProfile{
            "invalid_toml", "name = \"x\"\nworkers = = 3\n",
            ":2:11: invalid TOML: Error while parsing value: could not determine value type"},
        BadProfile{"missing_name", "[cycle]\nworkers = 2\n", ":1:1: missing key 'name'"},
        BadProfile{"unknown_top_level_key", "name = \"x\"\nworkerz = 3\n",
                   ":2:11: unknown key 'workerz' in the profile; known keys: name, description, "
                   "plugin_dirs, allow_insecure_permissions, cycle, api, plugins"},
        BadProfile{"unknown_api_key", "name = \"x\"\n[api]\nqpz = 3\n",
                   ":3:7: unknown key 'qpz' in [api]; known keys: qps, burst, max_in_flight, "
                   "request_timeout_seconds"},
        BadProfile{"api_burst_out_of_range", "name = \"x\"\n[api]\nburst = 0\n",
                   ":3:9: 'burst' must be between 1 and 100000, got 0"},
        BadProfile{"workers_out_of_range", "name = \"x\"\n[cycle]\nworkers = 0\n",
                   ":3:11: 'workers' must be between 1 and 1024, got 0"},
        BadProfile{"workers_wrong_type", "name = \"x\"\n[cycle]\nworkers = \"many\"\n",
                   ":3:11: 'workers' must be an integer"},
        BadProfile{"annotations_with_binding_not_bool",
                   "name = \"x\"\n[cycle]\nannotations_with_binding = \"yes\"\n",
                   ":3:28: 'annotations_with_binding' must be true or false"},
        BadProfile{"negative_timeout", "name = \"x\"\n[cycle]\nhook_timeout_seconds = -1\n",
                   ":3:24: 'hook_timeout_seconds' must be more than 0 and at most 3600"},
        BadProfile{"cap_below_base",
                   "name = \"x\"\n[cycle]\nbackoff_base_seconds = 10\nbackoff_cap_seconds = 5\n",
                   ":4:23: 'backoff_cap_seconds' must not be less than 'backoff_base_seconds'"},
        BadProfile{"plugins_not_array_of_tables", "name = \"x\"\nplugins = [\"dra\"]\n",
                   ":2:11: 'plugins' must be an array of tables: write each plugin as a "
                   "[[plugins]] entry"},
        BadProfile{"plugin_without_name", "name = \"x\"\n[[plugins]]\nlibrary = \"a.so\"\n",
                   ":2:1: missing key 'name'"},
        BadProfile{"bad_plugin_name", "name = \"x\"\n[[plugins]]\nname = \"My Plugin\"\n",
                   ":3:8: plugin name \"My Plugin\" is not of the form [a-z0-9][a-z0-9_.-]* (at "
                   "most 63 characters)"},
        BadProfile{"unknown_plugin_key", "name = \"x\"\n[[plugins]]\nname = \"dra\"\nargz = 1\n",
                   ":4:8: unknown key 'argz' in a [[plugins]] entry; known keys: name, library, "
                   "enabled, sha256, hook_timeout_seconds, args"},
        BadProfile{"bad_plugin_hook_timeout",
                   "name = \"x\"\n[[plugins]]\nname = \"dra\"\nhook_timeout_seconds = -1\n",
                   ":4:24: 'hook_timeout_seconds' must be more than 0 and at most 86400"},
        BadProfile{"bad_sha256", "name = \"x\"\n[[plugins]]\nname = \"dra\"\nsha256 = \"abc\"\n",
                   ":4:10: 'sha256' must be 64 hexadecimal digits (as printed by sha256sum)"},
        BadProfile{"args_not_a_table", "name = \"x\"\n[[plugins]]\nname = \"dra\"\nargs = 3\n",
                   ":4:8: 'args' must be a table ([plugins.args] after the entry)"},
        BadProfile{"duplicate_plugin",
                   "name = \"x\"\n[[plugins]]\nname = \"dra\"\n\n[[plugins]]\nname = \"dra\"\n",
                   ":5:1: plugin 'dra' is listed twice (first at line 2); give each plugin one "
                   "entry"}),
    [](const auto& info) { return info.param.label; });

TEST(ProfileTest, UnreadableFileIsReported) {
  auto profile = parseProfile("/nonexistent/kbinder.toml");
  ASSERT_FALSE(profile.ok());
  EXPECT_EQ(profile.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(profile.status().message(),
            "profile /nonexistent/kbinder.toml: cannot read it: No such file or directory");
}

TEST(ProfileTest, ShippedProfilesParse) {
  for (const char* name : {"default.toml", "storage-only.toml"}) {
    auto profile =
        parseProfile(std::filesystem::path(KBINDER_SOURCE_DIR) / "config" / "profiles" / name);
    EXPECT_TRUE(profile.ok()) << name << ": " << profile.status().message();
  }
}

}  // namespace
}  // namespace kbinder::host
