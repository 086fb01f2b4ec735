// SPDX-License-Identifier: Apache-2.0
// The binding cycle's extension points, in cycle order, and their names.
#pragma once

#include <array>
#include <string_view>

namespace kbinder::host {

enum class ExtensionPoint {
  kValidate,
  kMutate,
  kReserve,
  kUnreserve,
  kPermit,
  kPreBind,
  kBind,
  kPostBind,
};

inline constexpr std::array<ExtensionPoint, 8> kAllExtensionPoints = {
    ExtensionPoint::kValidate,  ExtensionPoint::kMutate,   ExtensionPoint::kReserve,
    ExtensionPoint::kUnreserve, ExtensionPoint::kPermit,   ExtensionPoint::kPreBind,
    ExtensionPoint::kBind,      ExtensionPoint::kPostBind,
};

// The name used in messages, plans and metrics: "validate", "pre_bind", ...
std::string_view extensionPointName(ExtensionPoint point);

}  // namespace kbinder::host
