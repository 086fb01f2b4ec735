// SPDX-License-Identifier: Apache-2.0
#include "host/plugin/profile.h"

#include <toml++/toml.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "host/base/sha256.h"

namespace kbinder::host {
namespace fs = std::filesystem;

namespace {

SourcePosition positionOf(const toml::node& node) {
  return {static_cast<uint32_t>(node.source().begin.line),
          static_cast<uint32_t>(node.source().begin.column)};
}

// Collects nothing: the first error ends parsing, as a Status carrying the position.
class ProfileReader {
 public:
  explicit ProfileReader(Profile& profile) : profile_(profile) {}

  Status error(const toml::node& node, const std::string& message) const {
    return invalidArgument("profile " + profile_.where(positionOf(node)) + ": " + message);
  }

  Status rejectUnknownKeys(const toml::table& table, const std::vector<std::string>& known,
                           const std::string& section) const {
    for (auto&& [key, node] : table) {
      bool ok = false;
      for (const auto& k : known) ok = ok || key.str() == k;
      if (ok) continue;
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      return error(node, "unknown key '" + std::string(key.str()) + "' in " + section +
                             "; known keys: " + list);
    }
    return okStatus();
  }

  Status readString(const toml::table& table, const char* key, std::string& out,
                    bool required = false) const {
    const toml::node* node = table.get(key);
    if (node == nullptr) {
      if (required) {
        return invalidArgument("profile " + profile_.where(positionOf(table)) + ": missing key '" +
                               key + "'");
      }
      return okStatus();
    }
    if (!node->is_string()) return error(*node, std::string("'") + key + "' must be a string");
    out = node->as_string()->get();
    return okStatus();
  }

  Status readBool(const toml::table& table, const char* key, bool& out) const {
    const toml::node* node = table.get(key);
    if (node == nullptr) return okStatus();
    if (!node->is_boolean())
      return error(*node, std::string("'") + key + "' must be true or false");
    out = node->as_boolean()->get();
    return okStatus();
  }

  Status readInt(const toml::table& table, const char* key, int& out, int64_t min,
                 int64_t max) const {
    const toml::node* node = table.get(key);
    if (node == nullptr) return okStatus();
    if (!node->is_integer()) return error(*node, std::string("'") + key + "' must be an integer");
    const int64_t v = node->as_integer()->get();
    if (v < min || v > max) {
      return error(*node, std::string("'") + key + "' must be between " + std::to_string(min) +
                              " and " + std::to_string(max) + ", got " + std::to_string(v));
    }
    out = static_cast<int>(v);
    return okStatus();
  }

  Status readNumber(const toml::table& table, const char* key, double& out, double min, double max,
                    bool min_exclusive) const {
    const toml::node* node = table.get(key);
    if (node == nullptr) return okStatus();
    double v = 0;
    if (node->is_integer()) {
      v = static_cast<double>(node->as_integer()->get());
    } else if (node->is_floating_point()) {
      v = node->as_floating_point()->get();
    } else {
      return error(*node, std::string("'") + key + "' must be a number");
    }
    if (!std::isfinite(v) || v < min || (min_exclusive && v == min) || v > max) {
      std::ostringstream range;
      range << (min_exclusive ? "more than " : "at least ") << min << " and at most " << max;
      return error(*node, std::string("'") + key + "' must be " + range.str());
    }
    out = v;
    return okStatus();
  }

  Status readSeconds(const toml::table& table, const char* key, std::chrono::milliseconds& out,
                     double max_seconds) const {
    double seconds = std::chrono::duration<double>(out).count();
    if (auto s = readNumber(table, key, seconds, 0, max_seconds, true); !s.ok()) return s;
    out = std::chrono::milliseconds(std::llround(seconds * 1000));
    if (out.count() == 0) return error(*table.get(key), std::string("'") + key + "' is below 1 ms");
    return okStatus();
  }

 private:
  Profile& profile_;
};

kbinder::v1::Datetime toDatetime(const toml::node& node) {
  kbinder::v1::Datetime out;
  std::ostringstream text;
  auto setDate = [&out](const toml::date& d) {
    out.set_has_date(true);
    out.set_year(d.year);
    out.set_month(d.month);
    out.set_day(d.day);
  };
  auto setTime = [&out](const toml::time& t) {
    out.set_has_time(true);
    out.set_hour(t.hour);
    out.set_minute(t.minute);
    out.set_second(t.second);
    out.set_nanosecond(static_cast<int32_t>(t.nanosecond));
  };
  if (const auto* d = node.as_date()) {
    setDate(d->get());
    text << d->get();
  } else if (const auto* t = node.as_time()) {
    setTime(t->get());
    text << t->get();
  } else if (const auto* dt = node.as_date_time()) {
    const toml::date_time& v = dt->get();
    setDate(v.date);
    setTime(v.time);
    if (v.offset) {
      out.set_has_offset(true);
      out.set_offset_minutes(v.offset->minutes);
    }
    text << v;
  }
  out.set_text(text.str());
  return out;
}

void toValue(const toml::node& node, kbinder::v1::Value& out);

void toValueMap(const toml::table& table, kbinder::v1::ValueMap& out) {
  for (auto&& [key, node] : table) {
    toValue(node, (*out.mutable_fields())[std::string(key.str())]);
  }
}

void toValue(const toml::node& node, kbinder::v1::Value& out) {
  switch (node.type()) {
    case toml::node_type::boolean: out.set_bool_value(node.as_boolean()->get()); break;
    case toml::node_type::integer: out.set_int_value(node.as_integer()->get()); break;
    case toml::node_type::floating_point:
      out.set_float_value(node.as_floating_point()->get());
      break;
    case toml::node_type::string: out.set_string_value(node.as_string()->get()); break;
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time: *out.mutable_datetime_value() = toDatetime(node); break;
    case toml::node_type::array: {
      auto* list = out.mutable_list_value();
      for (const auto& element : *node.as_array()) toValue(element, *list->add_values());
      break;
    }
    case toml::node_type::table: toValueMap(*node.as_table(), *out.mutable_map_value()); break;
    case toml::node_type::none: break;
  }
}

Status readCycle(const ProfileReader& reader, const toml::table& table, CycleSettings& cycle) {
  Status s =
      reader.rejectUnknownKeys(table,
                               {"workers", "backoff_base_seconds", "backoff_cap_seconds",
                                "backoff_jitter", "default_backoff_limit", "hook_timeout_seconds",
                                "permit_max_wait_seconds", "annotations_with_binding"},
                               "[cycle]");
  if (s.ok()) s = reader.readInt(table, "workers", cycle.workers, 1, 1024);
  if (s.ok()) s = reader.readSeconds(table, "backoff_base_seconds", cycle.backoff_base, 3600);
  if (s.ok()) s = reader.readSeconds(table, "backoff_cap_seconds", cycle.backoff_cap, 86400);
  if (s.ok()) s = reader.readNumber(table, "backoff_jitter", cycle.backoff_jitter, 0, 1, false);
  if (s.ok()) {
    s = reader.readInt(table, "default_backoff_limit", cycle.default_backoff_limit, 1, 1000000);
  }
  if (s.ok()) s = reader.readSeconds(table, "hook_timeout_seconds", cycle.hook_timeout, 3600);
  if (s.ok())
    s = reader.readSeconds(table, "permit_max_wait_seconds", cycle.permit_max_wait, 86400);
  if (s.ok())
    s = reader.readBool(table, "annotations_with_binding", cycle.annotations_with_binding);
  if (s.ok() && cycle.backoff_cap < cycle.backoff_base) {
    const toml::node* cap = table.get("backoff_cap_seconds");
    s = reader.error(cap != nullptr ? *cap : static_cast<const toml::node&>(table),
                     "'backoff_cap_seconds' must not be less than 'backoff_base_seconds'");
  }
  return s;
}

Status readPlugin(const ProfileReader& reader, const toml::table& table, PluginSpec& spec) {
  spec.position = positionOf(table);
  Status s = reader.rejectUnknownKeys(
      table, {"name", "library", "enabled", "sha256", "hook_timeout_seconds", "args"},
      "a [[plugins]] entry");
  if (s.ok()) s = reader.readString(table, "name", spec.name, /*required=*/true);
  if (!s.ok()) return s;
  static const std::regex kName("[a-z0-9][a-z0-9_.-]{0,62}");
  if (!std::regex_match(spec.name, kName)) {
    return reader.error(*table.get("name"),
                        "plugin name \"" + spec.name +
                            "\" is not of the form [a-z0-9][a-z0-9_.-]* (at most 63 characters)");
  }
  if (s = reader.readString(table, "library", spec.library); !s.ok()) return s;
  if (spec.library.empty()) {
    if (table.get("library") != nullptr) {
      return reader.error(*table.get("library"), "'library' must not be empty");
    }
    spec.library = spec.name + ".so";
  }
  if (s = reader.readBool(table, "enabled", spec.enabled); !s.ok()) return s;
  if (table.get("hook_timeout_seconds") != nullptr) {
    std::chrono::milliseconds timeout{0};
    if (s = reader.readSeconds(table, "hook_timeout_seconds", timeout, 86400); !s.ok()) return s;
    spec.hook_timeout = timeout;
  }
  if (s = reader.readString(table, "sha256", spec.sha256); !s.ok()) return s;
  if (!spec.sha256.empty() && !isSha256Hex(spec.sha256)) {
    return reader.error(*table.get("sha256"),
                        "'sha256' must be 64 hexadecimal digits (as printed by sha256sum)");
  }
  for (auto& c : spec.sha256) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (const toml::node* args = table.get("args")) {
    if (!args->is_table()) {
      return reader.error(*args, "'args' must be a table ([plugins.args] after the entry)");
    }
    toValueMap(*args->as_table(), spec.args);
  }
  return okStatus();
}

}  // namespace

std::string Profile::where(const SourcePosition& position) const {
  if (position.line == 0) return path.string();
  return path.string() + ":" + std::to_string(position.line) + ":" +
         std::to_string(position.column);
}

StatusOr<Profile> parseProfile(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    return invalidArgument("profile " + path.string() + ": is a directory; name a .toml file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return notFound("profile " + path.string() + ": cannot read it: " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return notFound("profile " + path.string() + ": error while reading it");
  return parseProfileText(text.str(), path);
}

StatusOr<Profile> parseProfileText(std::string_view text, const fs::path& path) {
  Profile profile;
  std::error_code ec;
  profile.path = fs::absolute(path, ec).lexically_normal();
  if (ec) profile.path = path;
  ProfileReader reader(profile);

  toml::table root;
  try {
    root = toml::parse(text, path.string());
  } catch (const toml::parse_error& e) {
    const SourcePosition at{static_cast<uint32_t>(e.source().begin.line),
                            static_cast<uint32_t>(e.source().begin.column)};
    return invalidArgument("profile " + profile.where(at) +
                           ": invalid TOML: " + std::string(e.description()));
  }

  Status s = reader.rejectUnknownKeys(root,
                                      {"name", "description", "plugin_dirs",
                                       "allow_insecure_permissions", "cycle", "api", "plugins"},
                                      "the profile");
  if (s.ok()) s = reader.readString(root, "name", profile.name, /*required=*/true);
  if (s.ok() && profile.name.empty())
    s = reader.error(*root.get("name"), "'name' must not be empty");
  if (s.ok()) s = reader.readString(root, "description", profile.description);
  if (s.ok())
    s = reader.readBool(root, "allow_insecure_permissions", profile.allow_insecure_permissions);
  if (!s.ok()) return s;

  const fs::path base = profile.path.parent_path();
  if (const toml::node* dirs = root.get("plugin_dirs")) {
    if (!dirs->is_array()) return reader.error(*dirs, "'plugin_dirs' must be an array of strings");
    for (const auto& dir : *dirs->as_array()) {
      if (!dir.is_string() || dir.as_string()->get().empty()) {
        return reader.error(dir, "each entry of 'plugin_dirs' must be a non-empty string");
      }
      fs::path p(dir.as_string()->get());
      profile.plugin_dirs.push_back((p.is_relative() ? base / p : p).lexically_normal());
    }
  }

  if (const toml::node* cycle = root.get("cycle")) {
    if (!cycle->is_table()) return reader.error(*cycle, "'cycle' must be a table ([cycle])");
    if (s = readCycle(reader, *cycle->as_table(), profile.cycle); !s.ok()) return s;
  }

  if (const toml::node* api = root.get("api")) {
    if (!api->is_table()) return reader.error(*api, "'api' must be a table ([api])");
    const toml::table& table = *api->as_table();
    s = reader.rejectUnknownKeys(
        table, {"qps", "burst", "max_in_flight", "request_timeout_seconds"}, "[api]");
    if (s.ok()) s = reader.readNumber(table, "qps", profile.api.qps, 0, 100000, true);
    if (s.ok()) s = reader.readInt(table, "burst", profile.api.burst, 1, 100000);
    if (s.ok()) s = reader.readInt(table, "max_in_flight", profile.api.max_in_flight, 1, 10000);
    if (s.ok())
      s = reader.readSeconds(table, "request_timeout_seconds", profile.api.request_timeout, 3600);
    if (!s.ok()) return s;
  }

  if (const toml::node* plugins = root.get("plugins")) {
    if (!plugins->is_array_of_tables()) {
      return reader.error(*plugins,
                          "'plugins' must be an array of tables: write each plugin as "
                          "a [[plugins]] entry");
    }
    std::map<std::string, SourcePosition> seen;
    for (const auto& entry : *plugins->as_array()) {
      PluginSpec spec;
      if (s = readPlugin(reader, *entry.as_table(), spec); !s.ok()) return s;
      if (auto [it, inserted] = seen.emplace(spec.name, spec.position); !inserted) {
        return reader.error(*entry.as_table(),
                            "plugin '" + spec.name + "' is listed twice (first at line " +
                                std::to_string(it->second.line) + "); give each plugin one entry");
      }
      profile.plugins.push_back(std::move(spec));
    }
  }
  return profile;
}

}  // namespace kbinder::host
