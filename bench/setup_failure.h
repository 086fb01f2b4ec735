// SPDX-License-Identifier: Apache-2.0
// For the Google Benchmark programs: a setup that cannot be done (a plugin not built, a
// profile that does not load, a server that does not start) ends the program with the reason,
// before any figure is printed.
#pragma once

#include <errno.h>  // program_invocation_short_name

#include <cstdio>
#include <cstdlib>
#include <string>

namespace kbinder::bench {

[[noreturn]] inline void failSetup(const std::string& why) {
  std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, why.c_str());
  std::exit(1);
}

}  // namespace kbinder::bench
