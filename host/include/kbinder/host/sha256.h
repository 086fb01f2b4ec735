// SHA-256 of a file, as lowercase hex, for pinning plugin libraries in profiles.
#pragma once

#include <filesystem>
#include <string>

#include "kbinder/host/status.h"

namespace kbinder::host {

StatusOr<std::string> sha256File(const std::filesystem::path& path);

// True for 64 hex digits (either case).
bool isSha256Hex(const std::string& text);

}  // namespace kbinder::host
