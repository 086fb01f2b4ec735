// SPDX-License-Identifier: Apache-2.0
// The loader: every way a library can fail to be a usable plugin has its own message.
#include "host/plugin/plugin_library.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace kbinder::host {
namespace {

using kbinder::testing::builtinPlugin;
using kbinder::testing::TempDir;
using kbinder::testing::testPlugin;
using kbinder::testing::writeFile;

struct LoadFailure {
  std::string file;
  StatusCode code;
  std::vector<std::string> message_parts;
};

void PrintTo(const LoadFailure& c, std::ostream* out) {
  *out << c.file;
}

class LoadFailureTest : public ::testing::TestWithParam<LoadFailure> {};

TEST_P(LoadFailureTest, SaysExactlyWhatIsWrong) {
  const LoadFailure& c = GetParam();
  const auto path = testPlugin(c.file);
  auto loaded = PluginLibrary::open(path);
  ASSERT_FALSE(loaded.ok()) << c.file << " loaded, but must not";
  EXPECT_EQ(loaded.status().code(), c.code) << loaded.status().message();
  EXPECT_NE(loaded.status().message().find(path.string()), std::string::npos)
      << "the message names the file: " << loaded.status().message();
  for (const auto& part : c.message_parts) {
    EXPECT_NE(loaded.status().message().find(part), std::string::npos)
        << "expected \"" << part << "\" in: " << loaded.status().message();
  }
}

INSTANTIATE_TEST_SUITE_P(
    EveryLoaderError, LoadFailureTest,
    ::testing::Values(
        LoadFailure{"fault_undefined_symbol.so",
                    StatusCode::kFailedPrecondition,
                    {"cannot be loaded", "undefined symbol: kbinder_test_symbol_nobody_defines"}},
        LoadFailure{"fault_no_entry.so",
                    StatusCode::kFailedPrecondition,
                    {"has no entry symbol kbinder_plugin_v1", "not a kbinder plugin"}},
        LoadFailure{"fault_v2_only.so",
                    StatusCode::kFailedPrecondition,
                    {"has no entry symbol kbinder_plugin_v1", "it exports kbinder_plugin_v2",
                     "ABI major 2", "this host speaks major 1"}},
        LoadFailure{"fault_refuses.so",
                    StatusCode::kFailedPrecondition,
                    {"refused to load: license file /etc/vendor/license not found"}},
        LoadFailure{"fault_entry_throws.so",
                    StatusCode::kFailedPrecondition,
                    {"kbinder_plugin_v1 threw an exception"}},
        LoadFailure{"fault_wrong_major.so",
                    StatusCode::kFailedPrecondition,
                    {"was built for kbinder ABI 2.0", "this host speaks ABI major 1"}},
        LoadFailure{"fault_newer_minor.so",
                    StatusCode::kFailedPrecondition,
                    {"needs kbinder ABI 1.99",
                     "this host provides 1." + std::to_string(KBINDER_ABI_VERSION_MINOR),
                     "upgrade kbinder"}},
        LoadFailure{"fault_bad_size.so",
                    StatusCode::kInvalidArgument,
                    {"malformed descriptor", "struct_size is 8 bytes"}},
        LoadFailure{"fault_no_name.so",
                    StatusCode::kInvalidArgument,
                    {"malformed descriptor", "has no name"}},
        LoadFailure{"fault_bad_name.so",
                    StatusCode::kInvalidArgument,
                    {"malformed descriptor", "name \"Bad Name!\" is not of the form"}},
        LoadFailure{"fault_reserve_only.so",
                    StatusCode::kInvalidArgument,
                    {"malformed descriptor", "reserve without unreserve", "as a pair"}},
        LoadFailure{"fault_unreserve_only.so",
                    StatusCode::kInvalidArgument,
                    {"malformed descriptor", "unreserve without reserve"}},
        LoadFailure{"fault_bad_concurrency.so",
                    StatusCode::kInvalidArgument,
                    {"malformed descriptor", "unknown concurrency mode 7"}},
        LoadFailure{"fault_no_create.so",
                    StatusCode::kInvalidArgument,
                    {"malformed descriptor", "has no create function"}},
        LoadFailure{"no_such_plugin.so", StatusCode::kNotFound, {"no such file"}}),
    [](const auto& info) {
      std::string name = info.param.file.substr(0, info.param.file.find('.'));
      for (auto& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return name;
    });

TEST(PluginLibraryTest, NotAnElfFileCannotBeLoaded) {
  TempDir dir;
  const auto path = writeFile(dir.path() / "text.so", std::string(4096, 'x'));
  auto loaded = PluginLibrary::open(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("cannot be loaded"), std::string::npos);
  EXPECT_NE(loaded.status().message().find("invalid ELF header"), std::string::npos)
      << loaded.status().message();
}

TEST(PluginLibraryTest, LoadsThePlainCPlugin) {
  auto loaded = PluginLibrary::open(testPlugin("cplugin.so"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  const PluginLibrary& lib = **loaded;
  EXPECT_EQ(lib.name(), "cplugin");
  EXPECT_EQ(lib.version(), "1.0.0");
  EXPECT_EQ(lib.description(), "A test plugin in plain C");
  EXPECT_EQ(lib.abiMajor(), 1u);
  EXPECT_EQ(lib.abiMinor(), static_cast<uint32_t>(KBINDER_ABI_VERSION_MINOR));
  EXPECT_EQ(lib.concurrency(), KBINDER_CONCURRENCY_SERIALIZED);
  for (ExtensionPoint point : kAllExtensionPoints) {
    EXPECT_TRUE(lib.implements(point)) << extensionPointName(point);
  }
}

TEST(PluginLibraryTest, PluginBuiltAgainstAnOlderMinorLoadsWithItsTailAbsent) {
  auto loaded = PluginLibrary::open(testPlugin("fault_old_minor.so"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ((*loaded)->name(), "oldminor");
  EXPECT_EQ((*loaded)->abiMinor(), 0u);
  // 1.1's description lies past the 1.0 descriptor: absent, not read from what follows.
  EXPECT_EQ((*loaded)->description(), "");
  EXPECT_EQ((*loaded)->descriptor().description, nullptr);
}

TEST(PluginLibraryTest, TheSameLibraryLoadsTwiceAndOutlivesEitherHandle) {
  auto first = PluginLibrary::open(testPlugin("cplugin.so"));
  auto second = PluginLibrary::open(testPlugin("cplugin.so"));
  ASSERT_TRUE(first.ok() && second.ok());
  const auto create = (*second)->descriptor().create;
  first = Status(StatusCode::kInternal, "dropped");  // release the first handle
  EXPECT_EQ((*second)->name(), "cplugin");
  EXPECT_EQ((*second)->descriptor().create, create);
}

TEST(PluginLibraryTest, BuiltinPluginsLoadWithTheirNames) {
  for (const std::string name : {"volumebinding", "dra", "gpuvalidator"}) {
    auto loaded = PluginLibrary::open(builtinPlugin(name + ".so"));
    ASSERT_TRUE(loaded.ok()) << loaded.status().message();
    EXPECT_EQ((*loaded)->name(), name);
    EXPECT_EQ((*loaded)->concurrency(), KBINDER_CONCURRENCY_CONCURRENT);
    EXPECT_FALSE((*loaded)->description().empty());
  }
}

TEST(ResolvePluginLibraryTest, SearchesDirectoriesInOrderAndListsThemWhenNotFound) {
  TempDir a, b;
  writeFile(b.path() / "x.so", "");
  auto found = resolvePluginLibrary("x.so", a.path(), PluginSearch{{a.path(), b.path()}});
  ASSERT_TRUE(found.ok()) << found.status().message();
  EXPECT_EQ(*found, b.path() / "x.so");

  writeFile(a.path() / "x.so", "");
  found = resolvePluginLibrary("x.so", a.path(), PluginSearch{{a.path(), b.path()}});
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(*found, a.path() / "x.so") << "the first directory wins";

  auto missing = resolvePluginLibrary("y.so", a.path(), PluginSearch{{a.path(), b.path()}});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(),
            "library 'y.so' not found in [" + a.path().string() + ", " + b.path().string() + "]");
}

TEST(ResolvePluginLibraryTest, PathsAreTakenRelativeToTheBaseDirectory) {
  TempDir dir;
  std::filesystem::create_directory(dir.path() / "vendor");
  writeFile(dir.path() / "vendor" / "p.so", "");
  auto found = resolvePluginLibrary("vendor/p.so", dir.path(), PluginSearch{});
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(*found, dir.path() / "vendor" / "p.so");
  auto missing = resolvePluginLibrary("vendor/q.so", dir.path(), PluginSearch{});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("does not exist"), std::string::npos);
}

TEST(CheckPluginFileTest, RefusesWorldWritableFilesAndDirectoriesUnlessAllowed) {
  TempDir dir;
  const auto file = writeFile(dir.path() / "p.so", "bytes");
  namespace fs = std::filesystem;
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_write);
  Status s = checkPluginFile(file, false, "");
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("library " + file.string() + " is writable by every user"),
            std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("chmod o-w"), std::string::npos);
  EXPECT_NE(s.message().find("allow_insecure_permissions"), std::string::npos);
  EXPECT_TRUE(checkPluginFile(file, true, "").ok());

  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_TRUE(checkPluginFile(file, false, "").ok());
  fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::others_all);
  s = checkPluginFile(file, false, "");
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("directory " + dir.path().string()), std::string::npos);
}

TEST(CheckPluginFileTest, ChecksTheSha256Pin) {
  TempDir dir;
  const auto file = writeFile(dir.path() / "p.so", "abc");
  // sha256("abc")
  const std::string abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  EXPECT_TRUE(checkPluginFile(file, false, abc).ok());
  const std::string other(64, '0');
  Status s = checkPluginFile(file, false, other);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("has SHA-256 " + abc + ", but the profile pins " + other),
            std::string::npos)
      << s.message();
}

}  // namespace
}  // namespace kbinder::host
