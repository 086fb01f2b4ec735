// SPDX-License-Identifier: Apache-2.0
// Logging setup (spdlog) and the mapping between ABI log levels and spdlog's.
//
// Thread-safety: the loggers are thread-safe; configureLogging is called once at startup.
#pragma once

#include <kbinder/abi.h>
#include <spdlog/spdlog.h>

#include <string>

#include "host/base/status.h"

namespace kbinder::host {

// Levels: trace, debug, info, warn, error, off. Logs go to stderr.
Status configureLogging(const std::string& level);
// "text" (human-readable, the default) or "json" (one object per line).
Status configureLogFormat(const std::string& format);

spdlog::logger& hostLogger();    // the host's own messages
spdlog::logger& pluginLogger();  // messages plugins send through the log service

spdlog::level::level_enum toSpdlogLevel(kbinder_log_level_t level);
kbinder_log_level_t fromSpdlogLevel(spdlog::level::level_enum level);

}  // namespace kbinder::host
