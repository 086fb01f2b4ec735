// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the host tests: fixture paths, temporary directories, files.
#pragma once

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace kbinder::testing {

inline std::filesystem::path testPlugin(const std::string& file) {
  return std::filesystem::path(KBINDER_TEST_PLUGIN_DIR) / file;
}
inline std::filesystem::path builtinPlugin(const std::string& file) {
  return std::filesystem::path(KBINDER_BUILTIN_PLUGIN_DIR) / file;
}

// A fresh private directory, removed with everything in it when the object goes.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "kbinder-test-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, ec);
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::filesystem::path writeFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

}  // namespace kbinder::testing
