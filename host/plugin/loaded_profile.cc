// SPDX-License-Identifier: Apache-2.0
#include "host/plugin/loaded_profile.h"

#include <algorithm>
#include <sstream>

#include "host/plugin/plugin_library.h"

namespace kbinder::host {
namespace fs = std::filesystem;

StatusOr<std::unique_ptr<LoadedProfile>> LoadedProfile::load(Profile profile,
                                                             const ProfileLoadOptions& options) {
  std::unique_ptr<LoadedProfile> loaded(new LoadedProfile());
  std::vector<fs::path> dirs;
  dirs.push_back(profile.path.parent_path());
  dirs.insert(dirs.end(), profile.plugin_dirs.begin(), profile.plugin_dirs.end());
  dirs.insert(dirs.end(), options.extra_plugin_dirs.begin(), options.extra_plugin_dirs.end());
  dirs.push_back(options.builtin_plugin_dir.empty() ? builtinPluginDir()
                                                    : options.builtin_plugin_dir);
  const PluginSearch search{dirs};

  for (const PluginSpec& spec : profile.plugins) {
    if (!spec.enabled) continue;
    const std::string context =
        "profile " + profile.where(spec.position) + ": plugin '" + spec.name + "'";
    auto path = resolvePluginLibrary(spec.library, profile.path.parent_path(), search);
    if (!path.ok()) return path.status().withContext(context);
    if (Status s = checkPluginFile(*path, profile.allow_insecure_permissions, spec.sha256);
        !s.ok()) {
      return s.withContext(context);
    }
    auto library = PluginLibrary::open(*path);
    if (!library.ok()) return library.status().withContext(context);
    if ((*library)->name() != spec.name) {
      return invalidArgument(context + ": library " + path->string() + " is the plugin '" +
                             (*library)->name() + "'; write name = \"" + (*library)->name() +
                             "\" or point 'library' at the '" + spec.name + "' plugin");
    }
    kbinder::v1::PluginConfig config;
    config.set_plugin_name(spec.name);
    config.set_profile_name(profile.name);
    config.set_profile_path(profile.path.string());
    *config.mutable_args() = spec.args;
    auto instance = PluginInstance::create(*library, config, profile.cycle.hook_timeout);
    if (!instance.ok())
      return instance.status().withContext("profile " + profile.where(spec.position));
    (*instance)->setHookTimeout(spec.hook_timeout.value_or(profile.cycle.hook_timeout));
    loaded->plugins_.push_back(std::move(instance).value());
  }

  for (ExtensionPoint point : kAllExtensionPoints) {
    auto& order = loaded->plan_[static_cast<size_t>(point)];
    for (const auto& plugin : loaded->plugins_) {
      if (plugin->implements(point)) order.push_back(plugin.get());
    }
    if (point == ExtensionPoint::kUnreserve) std::reverse(order.begin(), order.end());
    loaded->run_at_[static_cast<size_t>(point)].assign(order.begin(), order.end());
  }
  for (const auto& plugin : loaded->plugins_) loaded->cycle_plugins_.push_back(plugin.get());
  loaded->profile_ = std::move(profile);
  return loaded;
}

std::string LoadedProfile::describe() const {
  std::ostringstream out;
  out << "profile \"" << profile_.name << "\" (" << profile_.path.string() << ")\n";
  if (!profile_.description.empty()) out << "  " << profile_.description << "\n";
  out << "\nplugins (" << plugins_.size() << " enabled):\n";
  if (plugins_.empty()) out << "  (none: the host alone, binding with the default binder)\n";
  for (size_t i = 0; i < plugins_.size(); ++i) {
    const PluginLibrary& lib = plugins_[i]->library();
    out << "  " << (i + 1) << ". " << plugins_[i]->name() << " "
        << (lib.version().empty() ? "(no version)" : lib.version()) << "  ABI " << lib.abiMajor()
        << "." << lib.abiMinor() << ", " << concurrencyName(lib.concurrency());
    if (plugins_[i]->hookTimeout() != profile_.cycle.hook_timeout) {
      out << ", hook timeout " << std::chrono::duration<double>(plugins_[i]->hookTimeout()).count()
          << "s";
    }
    out << "\n"
        << "     " << lib.path().string() << "\n";
  }
  for (const PluginSpec& spec : profile_.plugins) {
    if (!spec.enabled) out << "  -  " << spec.name << " (disabled)\n";
  }

  const CycleSettings& c = profile_.cycle;
  auto secs = [](std::chrono::milliseconds ms) {
    std::ostringstream s;
    s << std::chrono::duration<double>(ms).count() << "s";
    return s.str();
  };
  out << "\ncycle: workers " << c.workers << ", backoff " << secs(c.backoff_base) << " doubling to "
      << secs(c.backoff_cap) << " (jitter " << c.backoff_jitter << "), default backoffLimit "
      << c.default_backoff_limit << ", hook timeout " << secs(c.hook_timeout)
      << ", permit max wait " << secs(c.permit_max_wait) << ", Mutate's annotations "
      << (c.annotations_with_binding ? "with the Binding" : "patched at once") << "\n";

  out << "\nplan:\n";
  for (ExtensionPoint point : kAllExtensionPoints) {
    const auto& order = pluginsFor(point);
    out << "  " << extensionPointName(point) << ":";
    for (size_t pad = extensionPointName(point).size(); pad < 10; ++pad) out << ' ';
    if (order.empty()) {
      out << (point == ExtensionPoint::kBind ? "default binder (Binding with the pod's UID)" : "-");
    }
    for (size_t i = 0; i < order.size(); ++i) out << (i == 0 ? "" : " > ") << order[i]->name();
    if (point == ExtensionPoint::kBind && !order.empty()) {
      out << " > default binder (if all skip)";
    }
    if (point == ExtensionPoint::kUnreserve && !order.empty()) out << "   (reverse order)";
    out << "\n";
  }
  return out.str();
}

}  // namespace kbinder::host
