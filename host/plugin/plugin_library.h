// SPDX-License-Identifier: Apache-2.0
// One plugin shared object, loaded and checked: the library handle and its descriptor.
//
// Loading follows abi.h: dlopen with RTLD_NOW | RTLD_LOCAL (through Boost.DLL), the entry symbol
// kbinder_plugin_v1, then a full check of the descriptor. Each way to fail has its own message:
// cannot be loaded, no entry symbol (naming another major's entry if present), entry refused,
// wrong major, needs a newer host minor, malformed descriptor.
//
// The library stays loaded while any shared_ptr to it lives: instances hold one.
// Thread-safety: immutable after open(); safe to share.
#pragma once

#include <kbinder/abi.h>

#include <boost/dll/shared_library.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "host/base/status.h"
#include "host/plugin/extension_point.h"

namespace kbinder::host {

class PluginLibrary {
 public:
  // Loads `path` (used as given; resolve it first with resolvePluginLibrary).
  static StatusOr<std::shared_ptr<const PluginLibrary>> open(const std::filesystem::path& path);

  PluginLibrary(const PluginLibrary&) = delete;
  PluginLibrary& operator=(const PluginLibrary&) = delete;
  ~PluginLibrary();

  const std::filesystem::path& path() const { return path_; }
  const std::string& name() const { return name_; }
  const std::string& version() const { return version_; }
  const std::string& description() const { return description_; }
  uint32_t abiMajor() const { return KBINDER_ABI_VERSION_GET_MAJOR(descriptor_.struct_version); }
  uint32_t abiMinor() const { return KBINDER_ABI_VERSION_GET_MINOR(descriptor_.struct_version); }
  kbinder_concurrency_t concurrency() const { return descriptor_.concurrency; }

  // The descriptor as this host lays it out: members the plugin's minor lacks are zero.
  const kbinder_plugin_descriptor& descriptor() const { return descriptor_; }
  kbinder_hook_fn hook(ExtensionPoint point) const;
  bool implements(ExtensionPoint point) const { return hook(point) != nullptr; }

 private:
  PluginLibrary() = default;

  std::filesystem::path path_;
  boost::dll::shared_library library_;
  kbinder_plugin_descriptor descriptor_{};
  std::string name_, version_, description_;
};

std::string_view concurrencyName(kbinder_concurrency_t concurrency);

// Where a plugin library named in a profile may be found, in search order.
struct PluginSearch {
  std::vector<std::filesystem::path> directories;
};

// `library` containing a '/' is a path (relative ones against `base_dir`); otherwise it is a file
// name looked up in each search directory in turn. NOT_FOUND lists the directories searched.
StatusOr<std::filesystem::path> resolvePluginLibrary(const std::string& library,
                                                     const std::filesystem::path& base_dir,
                                                     const PluginSearch& search);

// Refuses a library file, or the directory holding it, that every user can write to (so anyone
// could replace the plugin) unless `allow_insecure` is set; and, when `sha256` is not empty, a
// file whose SHA-256 differs from it.
Status checkPluginFile(const std::filesystem::path& path, bool allow_insecure,
                       const std::string& sha256);

// The built-in plugins' directory: <dir of the running executable>/../lib/kbinder/plugins.
std::filesystem::path builtinPluginDir();

}  // namespace kbinder::host
