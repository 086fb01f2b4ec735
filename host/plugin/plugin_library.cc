// SPDX-License-Identifier: Apache-2.0
#include "host/plugin/plugin_library.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <boost/dll/runtime_symbol_info.hpp>
#include <cctype>
#include <cstring>
#include <regex>
#include <string>

#include "host/base/sha256.h"
#include "host/plugin/call_context.h"

namespace kbinder::host {
namespace fs = std::filesystem;

namespace {

std::string versionText(uint32_t version) {
  return std::to_string(KBINDER_ABI_VERSION_GET_MAJOR(version)) + "." +
         std::to_string(KBINDER_ABI_VERSION_GET_MINOR(version));
}

// Entry symbols of other ABI majors the library exports, e.g. {"kbinder_plugin_v2"}.
std::vector<std::string> otherEntrySymbols(const boost::dll::shared_library& library) {
  std::vector<std::string> found;
  for (int major = 0; major <= 16; ++major) {
    if (major == KBINDER_ABI_VERSION_MAJOR) continue;
    const std::string symbol = "kbinder_plugin_v" + std::to_string(major);
    if (library.has(symbol)) found.push_back(symbol);
  }
  return found;
}

bool validPluginName(const std::string& name) {
  static const std::regex kName("[a-z0-9][a-z0-9_.-]{0,62}");
  return std::regex_match(name, kName);
}

std::string copyString(const char* text) {
  return text == nullptr ? std::string() : text;
}

}  // namespace

std::string_view concurrencyName(kbinder_concurrency_t concurrency) {
  switch (concurrency) {
    case KBINDER_CONCURRENCY_SERIALIZED: return "serialized";
    case KBINDER_CONCURRENCY_CONCURRENT: return "concurrent";
    default: return "unknown";
  }
}

StatusOr<std::shared_ptr<const PluginLibrary>> PluginLibrary::open(const fs::path& path) {
  std::shared_ptr<PluginLibrary> plugin(new PluginLibrary());
  plugin->path_ = path;
  const std::string where = "plugin library " + path.string();

  std::error_code ec;
  if (!fs::exists(path, ec)) return notFound(where + ": no such file");
  if (!fs::is_regular_file(path, ec)) {
    return invalidArgument(where + ": not a regular file; name the plugin's .so file");
  }

  boost::dll::fs::error_code error;
  dlerror();  // clear any earlier message
  plugin->library_.load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local,
                        error);
  if (error || !plugin->library_.is_loaded()) {
    const char* reason = dlerror();
    return failedPrecondition(where + " cannot be loaded: " +
                              (reason != nullptr ? std::string(reason) : error.message()));
  }

  if (!plugin->library_.has(KBINDER_PLUGIN_ENTRY_SYMBOL)) {
    const auto others = otherEntrySymbols(plugin->library_);
    if (!others.empty()) {
      const std::string major = others.front().substr(std::strlen("kbinder_plugin_v"));
      return failedPrecondition(
          where + " has no entry symbol " KBINDER_PLUGIN_ENTRY_SYMBOL "; it exports " +
          others.front() + ", so it was built for kbinder ABI major " + major +
          ", and this host speaks major " + std::to_string(KBINDER_ABI_VERSION_MAJOR) +
          ": use a build of the plugin for ABI major 1");
    }
    return failedPrecondition(where +
                              " has no entry symbol " KBINDER_PLUGIN_ENTRY_SYMBOL
                              ": it is not a kbinder plugin (or exports the entry with C++ name "
                              "mangling; declare it extern \"C\")");
  }

  auto entry =
      plugin->library_
          .get<const kbinder_plugin_descriptor*(const kbinder_host_services*, const char**)>(
              KBINDER_PLUGIN_ENTRY_SYMBOL);
  const char* refusal = nullptr;
  const kbinder_plugin_descriptor* raw = nullptr;
  try {
    raw = entry(&hostServices(), &refusal);
  } catch (...) {
    return failedPrecondition(where +
                              ": " KBINDER_PLUGIN_ENTRY_SYMBOL
                              " threw an exception; a plugin must not let exceptions escape");
  }
  if (raw == nullptr) {
    return failedPrecondition(where + " refused to load: " +
                              (refusal != nullptr ? std::string(refusal) : "no reason given"));
  }

  const std::string malformed = where + ": malformed descriptor: ";
  const uint32_t size = raw->struct_size;
  if (size < KBINDER_PLUGIN_DESCRIPTOR_SIZE_V1_0) {
    return invalidArgument(
        malformed + "struct_size is " + std::to_string(size) + " bytes, less than the " +
        std::to_string(KBINDER_PLUGIN_DESCRIPTOR_SIZE_V1_0) + " bytes of an ABI 1.0 descriptor");
  }
  const uint32_t version = raw->struct_version;
  if (KBINDER_ABI_VERSION_GET_MAJOR(version) != KBINDER_ABI_VERSION_MAJOR) {
    return failedPrecondition(where + " was built for kbinder ABI " + versionText(version) +
                              ", but this host speaks ABI major " +
                              std::to_string(KBINDER_ABI_VERSION_MAJOR) +
                              ": rebuild the plugin against abi.h 1.x");
  }
  if (KBINDER_ABI_VERSION_GET_MINOR(version) > KBINDER_ABI_VERSION_MINOR) {
    return failedPrecondition(where + " needs kbinder ABI " + versionText(version) +
                              ", but this host provides " + versionText(KBINDER_ABI_VERSION) +
                              ": upgrade kbinder, or use a build of the plugin for ABI " +
                              versionText(KBINDER_ABI_VERSION) + " or older");
  }
  if (KBINDER_ABI_VERSION_GET_MINOR(version) >= 1 && size < sizeof(kbinder_plugin_descriptor)) {
    return invalidArgument(
        malformed + "it declares ABI " + versionText(version) + " but struct_size is " +
        std::to_string(size) + " bytes, less than the " +
        std::to_string(sizeof(kbinder_plugin_descriptor)) + " bytes of that version");
  }
  // Copy what the plugin laid out; anything its minor lacks stays zero ("absent").
  std::memcpy(&plugin->descriptor_, raw, std::min<size_t>(size, sizeof(kbinder_plugin_descriptor)));
  plugin->descriptor_.struct_size = sizeof(kbinder_plugin_descriptor);
  const auto& d = plugin->descriptor_;

  plugin->name_ = copyString(d.name);
  if (plugin->name_.empty()) return invalidArgument(malformed + "it has no name");
  if (!validPluginName(plugin->name_)) {
    return invalidArgument(malformed + "name \"" + plugin->name_ +
                           "\" is not of the form [a-z0-9][a-z0-9_.-]* (at most 63 characters)");
  }
  const std::string named = malformed + "plugin '" + plugin->name_ + "' ";
  if (d.create == nullptr) return invalidArgument(named + "has no create function");
  if (d.destroy == nullptr) return invalidArgument(named + "has no destroy function");
  if ((d.reserve == nullptr) != (d.unreserve == nullptr)) {
    return invalidArgument(
        named +
        (d.reserve != nullptr ? "has reserve without unreserve" : "has unreserve without reserve") +
        "; they come as a pair");
  }
  if (d.concurrency != KBINDER_CONCURRENCY_SERIALIZED &&
      d.concurrency != KBINDER_CONCURRENCY_CONCURRENT) {
    return invalidArgument(
        named + "declares unknown concurrency mode " + std::to_string(d.concurrency) +
        " (KBINDER_CONCURRENCY_SERIALIZED = 1, KBINDER_CONCURRENCY_CONCURRENT = 2)");
  }
  plugin->version_ = copyString(d.version);
  plugin->description_ = copyString(d.description);
  return std::shared_ptr<const PluginLibrary>(std::move(plugin));
}

PluginLibrary::~PluginLibrary() = default;

kbinder_hook_fn PluginLibrary::hook(ExtensionPoint point) const {
  switch (point) {
    case ExtensionPoint::kValidate: return descriptor_.validate;
    case ExtensionPoint::kMutate: return descriptor_.mutate;
    case ExtensionPoint::kReserve: return descriptor_.reserve;
    case ExtensionPoint::kUnreserve: return descriptor_.unreserve;
    case ExtensionPoint::kPermit: return descriptor_.permit;
    case ExtensionPoint::kPreBind: return descriptor_.pre_bind;
    case ExtensionPoint::kBind: return descriptor_.bind;
    case ExtensionPoint::kPostBind: return descriptor_.post_bind;
  }
  return nullptr;
}

StatusOr<fs::path> resolvePluginLibrary(const std::string& library, const fs::path& base_dir,
                                        const PluginSearch& search) {
  std::error_code ec;
  if (library.find('/') != std::string::npos) {
    fs::path path(library);
    if (path.is_relative()) path = base_dir / path;
    path = path.lexically_normal();
    if (!fs::exists(path, ec)) return notFound("library " + path.string() + " does not exist");
    return fs::absolute(path, ec);
  }
  std::string searched;
  for (const auto& dir : search.directories) {
    const fs::path candidate = dir / library;
    if (fs::exists(candidate, ec)) return fs::absolute(candidate, ec).lexically_normal();
    searched += (searched.empty() ? "" : ", ") + dir.string();
  }
  return notFound("library '" + library + "' not found in [" + searched + "]");
}

Status checkPluginFile(const fs::path& path, bool allow_insecure, const std::string& sha256) {
  if (!allow_insecure) {
    for (const fs::path& target : {path, path.parent_path()}) {
      struct stat st {};
      if (::stat(target.c_str(), &st) != 0) {
        return notFound("cannot stat " + target.string() + ": " + std::strerror(errno));
      }
      if ((st.st_mode & S_IWOTH) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        return permissionDenied(
            (target == path ? "library " : "directory ") + target.string() +
            " is writable by every user (mode " + mode +
            "), so anyone could replace the plugin; fix it with 'chmod o-w " + target.string() +
            "', or set allow_insecure_permissions = true in the profile (development only)");
      }
    }
  }
  if (!sha256.empty()) {
    auto actual = sha256File(path);
    if (!actual.ok()) return actual.status();
    std::string expected = sha256;
    for (auto& c : expected) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (*actual != expected) {
      return permissionDenied("library " + path.string() + " has SHA-256 " + *actual +
                              ", but the profile pins " + expected +
                              "; install the pinned build or update the pin");
    }
  }
  return okStatus();
}

fs::path builtinPluginDir() {
  std::error_code ec;
  const fs::path exe = boost::dll::program_location(ec);
  if (ec) return fs::path("/usr/local/lib/kbinder/plugins");
  return (exe.parent_path() / ".." / "lib" / "kbinder" / "plugins").lexically_normal();
}

}  // namespace kbinder::host
