// SPDX-License-Identifier: Apache-2.0
// The shared Kubernetes quantity parser.
#include "kbinder/sdk/quantity.h"

#include <gtest/gtest.h>

namespace kbinder::sdk {
namespace {

struct Parsed {
  std::string text;
  std::optional<int64_t> value;
  std::optional<int64_t> milli;
};

TEST(QuantityTest, ParsesEveryFormExactlyAndRoundsUp) {
  const std::vector<Parsed> cases = {
      {"0", 0, 0},
      {"1", 1, 1000},
      {"500m", 1, 500},
      {"1500m", 2, 1500},
      {"0.5", 1, 500},
      {".5", 1, 500},
      {"5.", 5, 5000},
      {"1.25", 2, 1250},
      {"0.05", 1, 50},
      {"100", 100, 100000},
      {"+3", 3, 3000},
      {"1k", 1000, 1000000},
      {"2M", 2000000, 2000000000},
      {"1Ki", 1024, 1024000},
      {"1.5Gi", 1610612736, 1610612736000},
      {"4Gi", 4294967296, 4294967296000},
      {"1Ti", 1099511627776, 1099511627776000},
      {"1Ei", 1152921504606846976, std::nullopt},
      {"1E", 1000000000000000000, std::nullopt},
      {"8E", 8000000000000000000, std::nullopt},
      {"10E", std::nullopt, std::nullopt},
      {"1e3", 1000, 1000000},
      {"1E3", 1000, 1000000},
      {"12e-1", 2, 1200},
      {"1e-3", 1, 1},
      {"1n", 1, 1},
      {"1u", 1, 1},
      {"250u", 1, 1},
      {"0.000", 0, 0},
      {"-1", -1, -1000},
      {"-500m", 0, -500},
  };
  for (const auto& c : cases) {
    std::string error;
    const auto q = Quantity::parse(c.text, &error);
    ASSERT_TRUE(q.has_value()) << c.text << ": " << error;
    EXPECT_EQ(q->value(), c.value) << c.text;
    EXPECT_EQ(q->milliValue(), c.milli) << c.text;
  }
}

TEST(QuantityTest, RefusesWhatTheApiServerRefusesWithAReason) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "no digits"},
      {"m", "no digits"},
      {"-", "no digits"},
      {"1.2.3", "two decimal points"},
      {"1e", "exponent without digits"},
      {"1e1.5", "exponent is not an integer"},
      {"1KB", "unknown suffix"},
      {"1ki", "unknown suffix"},
      {"1 Gi", "unknown suffix"},
      {"0.5GPU", "unknown suffix"},
      {"1234567890123456789012345678901", "too many digits"},
      {"1e99999", "exponent out of range"},
  };
  for (const auto& [text, why] : cases) {
    std::string error;
    EXPECT_FALSE(Quantity::parse(text, &error).has_value()) << text;
    EXPECT_EQ(error.rfind("\"" + text + "\" is not a Kubernetes quantity: " + why, 0), 0u)
        << text << " -> " << error;
  }
}

TEST(QuantityTest, ZeroAndSign) {
  EXPECT_TRUE(Quantity::parse("0Gi")->isZero());
  EXPECT_FALSE(Quantity::parse("-0")->isNegative());
  EXPECT_TRUE(Quantity::parse("-1m")->isNegative());
}

}  // namespace
}  // namespace kbinder::sdk
