// SPDX-License-Identifier: Apache-2.0
#include "host/base/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdio>
#include <memory>
#include <string_view>

namespace kbinder::host {
namespace {

std::shared_ptr<spdlog::logger> makeLogger(const std::string& name) {
  if (auto existing = spdlog::get(name)) return existing;
  auto logger = spdlog::stderr_color_mt(name);
  logger->set_level(spdlog::level::info);
  return logger;
}

// %j: the message as a JSON string body (quotes, backslashes and control characters escaped).
class JsonEscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    for (char c : std::string_view(msg.payload.data(), msg.payload.size())) {
      switch (c) {
        case '"': dest.append(std::string_view("\\\"")); break;
        case '\\': dest.append(std::string_view("\\\\")); break;
        case '\n': dest.append(std::string_view("\\n")); break;
        case '\t': dest.append(std::string_view("\\t")); break;
        case '\r': dest.append(std::string_view("\\r")); break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            char code[8];
            std::snprintf(code, sizeof code, "\\u%04x", c);
            dest.append(std::string_view(code));
          } else {
            dest.push_back(c);
          }
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonEscapedMessage>();
  }
};

}  // namespace

Status configureLogFormat(const std::string& format) {
  if (format == "text") return okStatus();
  if (format != "json")
    return invalidArgument("unknown log format '" + format + "'; use text or json");
  for (spdlog::logger* logger : {&hostLogger(), &pluginLogger()}) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<JsonEscapedMessage>('j').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","logger":"%n","message":"%j"})");
    logger->set_formatter(std::move(formatter));
  }
  return okStatus();
}

Status configureLogging(const std::string& level) {
  const auto parsed = spdlog::level::from_str(level);
  // from_str answers "off" for anything it does not know.
  if (parsed == spdlog::level::off && level != "off") {
    return invalidArgument("unknown log level '" + level +
                           "'; use one of trace, debug, info, warn, error, off");
  }
  hostLogger().set_level(parsed);
  pluginLogger().set_level(parsed);
  return okStatus();
}

spdlog::logger& hostLogger() {
  static const std::shared_ptr<spdlog::logger> logger = makeLogger("kbinder");
  return *logger;
}

spdlog::logger& pluginLogger() {
  static const std::shared_ptr<spdlog::logger> logger = makeLogger("plugin");
  return *logger;
}

spdlog::level::level_enum toSpdlogLevel(kbinder_log_level_t level) {
  switch (level) {
    case KBINDER_LOG_TRACE: return spdlog::level::trace;
    case KBINDER_LOG_DEBUG: return spdlog::level::debug;
    case KBINDER_LOG_INFO: return spdlog::level::info;
    case KBINDER_LOG_WARN: return spdlog::level::warn;
    case KBINDER_LOG_ERROR: return spdlog::level::err;
    default: return level < KBINDER_LOG_TRACE ? spdlog::level::trace : spdlog::level::critical;
  }
}

kbinder_log_level_t fromSpdlogLevel(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace: return KBINDER_LOG_TRACE;
    case spdlog::level::debug: return KBINDER_LOG_DEBUG;
    case spdlog::level::info: return KBINDER_LOG_INFO;
    case spdlog::level::warn: return KBINDER_LOG_WARN;
    case spdlog::level::err:
    case spdlog::level::critical: return KBINDER_LOG_ERROR;
    default: return KBINDER_LOG_OFF;
  }
}

}  // namespace kbinder::host
