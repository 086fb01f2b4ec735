// SPDX-License-Identifier: Apache-2.0
#include "host/base/status.h"

#include <gtest/gtest.h>

namespace kbinder::host {
namespace {

TEST(StatusTest, OkAndErrors) {
  EXPECT_TRUE(okStatus().ok());
  EXPECT_EQ(okStatus().code(), StatusCode::kOk);
  const Status s = notFound("no plugin");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "no plugin");
  EXPECT_EQ(s.withContext("profile p.toml").message(), "profile p.toml: no plugin");
  EXPECT_EQ(s.withContext("x").code(), StatusCode::kNotFound);
}

TEST(StatusOrTest, HoldsAValueOrAStatus) {
  StatusOr<int> value = 3;
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, 3);
  StatusOr<int> error = invalidArgument("bad");
  ASSERT_FALSE(error.ok());
  EXPECT_EQ(error.status().message(), "bad");
}

}  // namespace
}  // namespace kbinder::host
