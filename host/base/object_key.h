// SPDX-License-Identifier: Apache-2.0
// An object's key, "namespace/name" (a cluster-scoped object's namespace is empty: "/name"), as
// queues, caches and messages name objects.
#pragma once

#include <string>
#include <string_view>

namespace kbinder::host {

inline std::string objectKey(std::string_view namespace_, std::string_view name) {
  std::string key;
  key.reserve(namespace_.size() + 1 + name.size());
  key.append(namespace_).append(1, '/').append(name);
  return key;
}

}  // namespace kbinder::host
