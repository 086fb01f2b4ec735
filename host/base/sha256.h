// SPDX-License-Identifier: Apache-2.0
// SHA-256: of files as lowercase hex, for pinning plugin libraries in profiles; of text.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "host/base/status.h"

namespace kbinder::host {

StatusOr<std::string> sha256File(const std::filesystem::path& path);
// The digest of `data`.
std::array<uint8_t, 32> sha256(std::string_view data);

// True for 64 hex digits (either case).
bool isSha256Hex(const std::string& text);

}  // namespace kbinder::host
