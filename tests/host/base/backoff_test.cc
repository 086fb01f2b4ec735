// SPDX-License-Identifier: Apache-2.0
// Exponential backoff: doubling from the base, capped, spread by jitter; the loop helper.
#include "host/base/backoff.h"

#include <gtest/gtest.h>

namespace kbinder::host {
namespace {

using ms = std::chrono::milliseconds;

TEST(BackoffTest, DoublesFromTheBaseUpToTheCap) {
  EXPECT_EQ(backoffDelay(ms(100), ms(1000), 0, 1, 0.5), ms(100));
  EXPECT_EQ(backoffDelay(ms(100), ms(1000), 0, 2, 0.5), ms(200));
  EXPECT_EQ(backoffDelay(ms(100), ms(1000), 0, 4, 0.5), ms(800));
  EXPECT_EQ(backoffDelay(ms(100), ms(1000), 0, 5, 0.5), ms(1000));
  EXPECT_EQ(backoffDelay(ms(100), ms(1000), 0, 1000000, 0.5), ms(1000));  // no overflow
  EXPECT_EQ(backoffDelay(ms(100), ms(1000), 0, 0, 0.5), ms(100));         // as the first failure
  EXPECT_EQ(backoffDelay(ms(100), ms(1000), 0, -3, 0.5), ms(100));
}

TEST(BackoffTest, JitterSpreadsTheDelayEvenlyAroundIt) {
  EXPECT_EQ(backoffDelay(ms(1000), ms(5000), 0.1, 1, 0.0), ms(900));
  EXPECT_EQ(backoffDelay(ms(1000), ms(5000), 0.1, 1, 0.5), ms(1000));
  EXPECT_EQ(backoffDelay(ms(1000), ms(5000), 0.1, 1, 1.0), ms(1100));
  EXPECT_EQ(backoffDelay(ms(1000), ms(5000), 0.1, 9, 1.0), ms(5500));  // jitter after the cap
  EXPECT_EQ(backoffDelay(ms(1000), ms(5000), 1.0, 1, 0.0), ms(0));
}

TEST(BackoffTest, TheLoopHelperDoublesUntilReset) {
  Backoff backoff(ms(100), ms(500));
  EXPECT_EQ(backoff.next(), ms(100));
  EXPECT_EQ(backoff.next(), ms(200));
  EXPECT_EQ(backoff.next(), ms(400));
  EXPECT_EQ(backoff.next(), ms(500));
  EXPECT_EQ(backoff.next(), ms(500));
  backoff.reset();
  EXPECT_EQ(backoff.next(), ms(100));
}

}  // namespace
}  // namespace kbinder::host
