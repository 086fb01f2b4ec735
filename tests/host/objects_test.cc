// The schema's helpers for identity: uids.
#include "kbinder/host/objects.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>

namespace kbinder::testing {
namespace {

// A random uid is a version 4 UUID, as the API server gives, and no two are alike.
TEST(ObjectsTest, RandomUidsAreVersionFourUuids) {
  const std::regex v4("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  std::set<std::string> seen;
  std::set<char> variants;
  for (int i = 0; i < 2000; ++i) {
    const std::string uid = host::randomUid();
    ASSERT_TRUE(std::regex_match(uid, v4)) << uid;
    variants.insert(uid[19]);
    seen.insert(uid);
  }
  EXPECT_EQ(seen.size(), 2000u);
  EXPECT_EQ(variants.size(), 4u);  // the two free variant bits vary
}

// A uid from a seed is the same for the same seed and UUID-shaped.
TEST(ObjectsTest, SeededUidsAreStable) {
  EXPECT_EQ(host::uidFromSeed("Pod/default/p"), host::uidFromSeed("Pod/default/p"));
  EXPECT_NE(host::uidFromSeed("Pod/default/p"), host::uidFromSeed("Pod/default/q"));
  EXPECT_TRUE(std::regex_match(host::uidFromSeed("x"),
                               std::regex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")));
}

}  // namespace
}  // namespace kbinder::testing
