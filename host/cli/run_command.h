// SPDX-License-Identifier: Apache-2.0
// `kbinder run`: rehearses a cluster snapshot offline. Loads the snapshot into the embedded
// store, runs every BindRequest that is not yet Succeeded or Failed through the profile until
// each one is, prints what happened, and writes the final state of every object.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace kbinder::host {

inline constexpr int kExitRequestsFailed = 3;  // with --strict: some request failed

struct RunOptions {
  std::string profile;
  std::string cluster;
  std::string out;  // empty: do not write the final state
  std::vector<std::string> plugin_dirs;
  bool strict = false;
  bool volume_controller = true;
  bool progress = false;  // show a progress line on stderr (a terminal)
};

int runRehearsal(const RunOptions& options, std::ostream& out, std::ostream& err);

}  // namespace kbinder::host
