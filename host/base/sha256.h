// SPDX-License-Identifier: Apache-2.0
// SHA-256 as lowercase hex: of files, for pinning plugin libraries in profiles, and of text;
// and the digest of text itself.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "host/base/status.h"

namespace kbinder::host {

StatusOr<std::string> sha256File(const std::filesystem::path& path);
std::string sha256Hex(std::string_view data);
// The digest itself.
std::array<uint8_t, 32> sha256(std::string_view data);

// True for 64 hex digits (either case).
bool isSha256Hex(const std::string& text);

}  // namespace kbinder::host
