#include "volumebinding.h"

#include "kbinder/sdk/args.h"

namespace kbinder::plugins::volumebinding {

Config parseConfig(const kbinder::v1::PluginConfig& config) {
  sdk::Args args(config);
  Config parsed;
  parsed.bind_timeout = std::chrono::milliseconds(
      static_cast<int64_t>(args.seconds("bind_timeout_seconds", 600, 86400) * 1000));
  args.finish();
  return parsed;
}

}  // namespace kbinder::plugins::volumebinding
