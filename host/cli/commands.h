// SPDX-License-Identifier: Apache-2.0
// The `kbinder` command line: parses arguments and runs the chosen command.
//
// Exit codes: 0 success; 1 the command failed (bad profile, plugin, input); 2 bad usage.
#pragma once

#include <ostream>

namespace kbinder::host {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

int runCommandLine(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace kbinder::host
