// SPDX-License-Identifier: Apache-2.0
#include "host/base/allocator.h"

#include <dlfcn.h>

#include <cstddef>

namespace kbinder::host {

std::string allocatorName() {
  // Looked up rather than called by name, so that the host library links either way.
  using Mallctl = int (*)(const char*, void*, size_t*, void*, size_t);
  const auto mallctl = reinterpret_cast<Mallctl>(dlsym(RTLD_DEFAULT, "mallctl"));
  if (mallctl == nullptr) return "glibc malloc";
  const char* version = nullptr;
  size_t size = sizeof version;
  if (mallctl("version", &version, &size, nullptr, 0) != 0 || version == nullptr) return "jemalloc";
  const std::string full = version;  // "5.3.0-0-g<commit>": the release is what matters
  return "jemalloc " + full.substr(0, full.find('-'));
}

}  // namespace kbinder::host
