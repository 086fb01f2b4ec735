#include "dra.h"

#include "plugins/plugin_test_support.h"

namespace kbinder::plugins::dra {
namespace {

using namespace kbinder::plugins::testing;

TEST(DraConfigTest, DefaultsToThirtySeconds) {
  EXPECT_EQ(parseConfig({}).bind_timeout, std::chrono::seconds(30));
}

TEST(DraConfigTest, RejectsBadArguments) {
  EXPECT_EQ(parseConfig(configWith("bind_timeout_seconds", floatValue(2.5))).bind_timeout,
            std::chrono::milliseconds(2500));
  expectConfigError([] { parseConfig(configWith("bind_timeout_seconds", intValue(3601))); },
                    "argument 'bind_timeout_seconds' must be more than 0 and at most 3600 seconds");
  expectConfigError([] { parseConfig(configWith("retries", intValue(3))); },
                    "unknown argument(s) 'retries'; it accepts: bind_timeout_seconds");
}

}  // namespace
}  // namespace kbinder::plugins::dra
