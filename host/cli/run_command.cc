// SPDX-License-Identifier: Apache-2.0
#include "host/cli/run_command.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "host/base/object_key.h"
#include "host/cli/commands.h"
#include "host/cycle/controller.h"
#include "host/plugin/loaded_profile.h"
#include "host/store/embedded_store.h"
#include "host/store/volume_controller.h"

namespace kbinder::host {
namespace {

namespace fs = std::filesystem;

StatusOr<std::string> readFile(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec))
    return invalidArgument(path + ": is a directory, not a manifest file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return notFound("cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return invalidArgument("error reading " + path);
  return text.str();
}

// Writes what `write` puts out to `path` through a temporary file and a rename: never
// half-written.
Status writeAtomically(const fs::path& path, const std::function<Status(std::ostream&)>& write) {
  const fs::path temp = path.string() + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) return invalidArgument("cannot write " + temp.string() + ": " + std::strerror(errno));
    Status failed = write(out);
    out.flush();
    if (!failed.ok()) {
      failed = failed.withContext("writing " + path.string());
    } else if (!out) {
      failed = invalidArgument("cannot write " + temp.string() + ": " + std::strerror(errno));
    }
    if (!failed.ok()) {
      out.close();
      std::error_code ec;
      fs::remove(temp, ec);
      return failed;
    }
  }
  std::error_code ec;
  fs::rename(temp, path, ec);
  if (ec) {
    fs::remove(temp, ec);
    return invalidArgument("cannot write " + path.string() + ": " + ec.message());
  }
  return okStatus();
}

std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()), 0);
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

}  // namespace

int runRehearsal(const RunOptions& options, std::ostream& out, std::ostream& err) {
  const auto started = std::chrono::steady_clock::now();
  auto fail = [&](const Status& s) {
    err << "kbinder: " << s.message() << "\n";
    return kExitFailed;
  };

  if (!options.out.empty()) {
    const fs::path dir = fs::absolute(options.out).parent_path();
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      return fail(invalidArgument("--out " + options.out + ": directory " + dir.string() +
                                  " does not exist; create it or choose another path"));
    }
  }
  auto text = readFile(options.cluster);
  if (!text.ok()) return fail(text.status());
  auto manifest = parseManifest(*text, options.cluster);
  if (!manifest.ok()) return fail(manifest.status());
  auto store = EmbeddedStore::load(std::move(manifest).value(),
                                   EmbeddedStore::Options{.raw_watches = false});
  if (!store.ok()) return fail(store.status().withContext(options.cluster));
  auto profile = parseProfile(options.profile);
  if (!profile.ok()) return fail(profile.status());
  ProfileLoadOptions load_options;
  for (const auto& dir : options.plugin_dirs)
    load_options.extra_plugin_dirs.emplace_back(fs::absolute(dir));
  auto loaded = LoadedProfile::load(std::move(profile).value(), load_options);
  if (!loaded.ok()) return fail(loaded.status());

  EmbeddedStore& cluster = **store;
  std::set<std::string> events_before;
  auto events_loaded = cluster.versions("Event");
  if (!events_loaded.ok()) return fail(events_loaded.status());
  for (const auto& event : *events_loaded)
    events_before.insert(rawString(*event, {"metadata", "uid"}));

  VolumeController volumes(cluster);
  if (options.volume_controller) volumes.start();
  Controller controller(**loaded, cluster, ControllerOptions{});
  if (Status s = controller.start(); !s.ok()) return fail(s);
  const bool progress = options.progress;
  controller.waitUntilSettled([&](size_t settled, size_t total) {
    if (progress) {
      err << "\rkbinder: " << settled << "/" << total << " requests settled" << std::flush;
    }
  });
  if (progress) err << "\r\033[K" << std::flush;
  controller.stop();
  volumes.stop();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  std::map<std::string, RequestRecord> records;
  for (auto& r : controller.records()) records[r.namespace_ + "/" + r.name] = r;
  kbinder::v1::ListRequest list;
  list.set_kind("BindRequest");
  auto requests = cluster.list(list);
  if (!requests.ok()) return fail(requests.status());
  std::vector<std::vector<std::string>> rows = {
      {"REQUEST", "POD", "NODE", "OUTCOME", "ATTEMPTS", "REASON"}};
  size_t succeeded = 0, failed = 0;
  for (const auto& item : requests->items()) {
    const auto& r = item.bind_request();
    const std::string key = objectKey(r.metadata().namespace_(), r.metadata().name());
    const std::string phase = r.status().phase().empty() ? "Pending" : r.status().phase();
    succeeded += phase == "Succeeded";
    failed += phase == "Failed";
    const auto record = records.find(key);
    rows.push_back({key, r.spec().pod_name(), r.spec().selected_node(), phase,
                    std::to_string(record == records.end() ? 0 : record->second.attempts),
                    r.status().reason().empty() ? "-" : r.status().reason()});
  }
  out << table(rows);

  std::vector<std::vector<std::string>> event_rows = {{"TYPE", "REASON", "OBJECT", "MESSAGE"}};
  auto events = cluster.versions("Event");
  if (!events.ok()) return fail(events.status());
  for (const auto& event : *events) {  // in the order they were recorded
    const Json& object = *event;
    if (events_before.count(rawString(object, {"metadata", "uid"})) != 0) continue;
    event_rows.push_back({rawString(object, {"type"}), rawString(object, {"reason"}),
                          "pod/" + rawString(object, {"regarding", "name"}),
                          rawString(object, {"note"})});
  }
  constexpr size_t kMaxEventsShown = 100;
  if (event_rows.size() > 1 && event_rows.size() <= kMaxEventsShown + 1) {
    out << "\nevents:\n" << table(event_rows);
  } else if (event_rows.size() > 1) {
    out << "\n"
        << event_rows.size() - 1 << " events recorded"
        << (options.out.empty() ? "" : " (see " + options.out + ")") << "\n";
  }

  char summary[160];
  std::snprintf(summary, sizeof summary,
                "\n%zu requests: %zu succeeded, %zu failed, %zu pending (%.1fs)\n",
                static_cast<size_t>(requests->items_size()), succeeded, failed,
                static_cast<size_t>(requests->items_size()) - succeeded - failed, elapsed);
  out << summary;

  if (!options.out.empty()) {
    const Status s = writeAtomically(
        options.out, [&](std::ostream& file) { return cluster.writeSnapshot(file); });
    if (!s.ok()) return fail(s);
    out << "final state written to " << options.out << "\n";
  }
  return options.strict && failed > 0 ? kExitRequestsFailed : kExitOk;
}

}  // namespace kbinder::host
