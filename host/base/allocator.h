// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>

namespace kbinder::host {

// The malloc this process runs on, for --version and the load generator's report:
// "jemalloc 5.3.0" when the program was linked with jemalloc (the default build), "glibc malloc"
// otherwise (the sanitizer build).
std::string allocatorName();

}  // namespace kbinder::host
