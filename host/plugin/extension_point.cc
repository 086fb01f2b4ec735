// SPDX-License-Identifier: Apache-2.0
#include "host/plugin/extension_point.h"

namespace kbinder::host {

std::string_view extensionPointName(ExtensionPoint point) {
  switch (point) {
    case ExtensionPoint::kValidate: return "validate";
    case ExtensionPoint::kMutate: return "mutate";
    case ExtensionPoint::kReserve: return "reserve";
    case ExtensionPoint::kUnreserve: return "unreserve";
    case ExtensionPoint::kPermit: return "permit";
    case ExtensionPoint::kPreBind: return "pre_bind";
    case ExtensionPoint::kBind: return "bind";
    case ExtensionPoint::kPostBind: return "post_bind";
  }
  return "unknown";
}

}  // namespace kbinder::host
