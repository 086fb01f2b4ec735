// SPDX-License-Identifier: Apache-2.0
// The schema's helpers: identity (uids), an encoded Object's payload.
#include "host/base/sha256.h"
#include "host/model/objects.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>
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

// A uid from a seed is the same for the same seed and UUID-shaped: the first half of the seed's
// SHA-256 (so a rehearsal's uids do not change from one release to the next).
TEST(ObjectsTest, SeededUidsAreStable) {
  // sha256("Pod/default/p"), cut after 32 hex digits.
  const std::string hex = host::sha256Hex("Pod/default/p");
  EXPECT_EQ(host::uidFromSeed("Pod/default/p"), hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" +
                                                    hex.substr(12, 4) + "-" + hex.substr(16, 4) +
                                                    "-" + hex.substr(20, 12));
  EXPECT_EQ(host::uidFromSeed("Pod/default/p"), host::uidFromSeed("Pod/default/p"));
  EXPECT_NE(host::uidFromSeed("Pod/default/p"), host::uidFromSeed("Pod/default/q"));
  EXPECT_TRUE(std::regex_match(host::uidFromSeed("x"),
                               std::regex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")));
}

// The payload of an encoded Object is its kind's message, read without decoding: one record
// or several (as a store's stamps append them); anything else is refused and nothing appended.
// Timestamps are written as gmtime and strftime would write them, with microseconds for
// MicroTime fields; timestampNow() writes the present in the same shape.
TEST(ObjectsTest, TimestampsAreWrittenAsKubernetesWritesThem) {
  using std::chrono::microseconds;
  using std::chrono::system_clock;
  const auto at = [](long long micros) { return system_clock::time_point(microseconds(micros)); };
  EXPECT_EQ(host::formatTimestamp(at(0)), "1970-01-01T00:00:00Z");
  EXPECT_EQ(host::formatTimestamp(at(0), true), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(host::formatTimestamp(at(-1), true), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(host::formatTimestamp(at(1709251199999999), true), "2024-02-29T23:59:59.999999Z");
  EXPECT_EQ(host::formatTimestamp(at(1767323045123456), true), "2026-01-02T03:04:05.123456Z");
  EXPECT_EQ(host::formatTimestamp(at(4107542400000000)), "2100-03-01T00:00:00Z");
  // Against the C library, over a spread of times from 1970 to 2100.
  std::mt19937_64 random(7);
  for (int i = 0; i < 2000; ++i) {
    const long long micros = static_cast<long long>(random() % 4102444800000000ULL);
    const std::time_t seconds = static_cast<std::time_t>(micros / 1000000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[40];
    const size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    char fraction[16];
    std::snprintf(fraction, sizeof fraction, ".%06lld", micros % 1000000);
    ASSERT_EQ(host::formatTimestamp(at(micros)), std::string(text, n) + "Z") << micros;
    ASSERT_EQ(host::formatTimestamp(at(micros), true), std::string(text, n) + fraction + "Z")
        << micros;
  }
  EXPECT_TRUE(
      std::regex_match(host::timestampNow(), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
  EXPECT_TRUE(std::regex_match(host::timestampNow(true),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)")));
}

TEST(ObjectsTest, AnEncodedObjectsPayloadIsItsKindsMessage) {
  kbinder::v1::Object object;
  object.mutable_node()->mutable_metadata()->set_name("n1");
  (*object.mutable_node()->mutable_metadata()->mutable_labels())["zone"] = "a";
  kbinder::v1::Object stamp;
  stamp.mutable_node()->mutable_metadata()->set_resource_version("7");
  const std::string encoded = object.SerializeAsString() + stamp.SerializeAsString();

  std::string payload = "kept";
  ASSERT_TRUE(host::appendEncodedPayload(encoded, payload));
  ASSERT_EQ(payload.substr(0, 4), "kept");
  kbinder::v1::Node node;
  ASSERT_TRUE(node.ParseFromString(payload.substr(4)));
  EXPECT_EQ(node.metadata().name(), "n1");
  EXPECT_EQ(node.metadata().labels().at("zone"), "a");
  EXPECT_EQ(node.metadata().resource_version(), "7");

  kbinder::v1::Object pod;
  pod.mutable_pod()->mutable_metadata()->set_name("p");
  const std::string mixed = object.SerializeAsString() + pod.SerializeAsString();
  const std::string truncated = encoded.substr(0, encoded.size() - 1);
  const std::string not_a_message = "\x08\x01";  // field 1 as a varint
  for (const std::string* bad : {&mixed, &truncated, &not_a_message}) {
    std::string out = "kept";
    EXPECT_FALSE(host::appendEncodedPayload(*bad, out));
    EXPECT_EQ(out, "kept");
  }
  std::string out;
  EXPECT_FALSE(host::appendEncodedPayload("", out)) << "an Object holding no kind";
}

// The stamp appended to an encoded Object is, for every kind, the encoding of an Object that
// holds only that resourceVersion, and decoding merges it into the object before it: short
// versions, and one long enough that its lengths take two bytes.
TEST(ObjectsTest, AResourceVersionStampIsAnObjectHoldingOnlyTheVersion) {
  for (const host::Kind kind : host::kAllKinds) {
    for (const std::string& version : {std::string("42"), std::string(200, '7')}) {
      kbinder::v1::Object expected;
      host::mutablePayload(expected, kind);
      host::mutableMetadataOf(expected).set_resource_version(version);
      std::string stamp = "kept";
      host::appendResourceVersionStamp(kind, version, stamp);
      ASSERT_EQ(stamp.substr(0, 4), "kept");
      EXPECT_EQ(stamp.substr(4), expected.SerializeAsString()) << host::kindName(kind);

      kbinder::v1::Object object;
      host::mutablePayload(object, kind);
      host::mutableMetadataOf(object).set_name("o");
      host::mutableMetadataOf(object).set_resource_version("1");
      std::string encoded = object.SerializeAsString();
      host::appendResourceVersionStamp(kind, version, encoded);
      kbinder::v1::Object decoded;
      ASSERT_TRUE(decoded.ParseFromString(encoded)) << host::kindName(kind);
      ASSERT_EQ(host::kindOf(decoded), kind);
      EXPECT_EQ(host::metadataOf(decoded).name(), "o");
      EXPECT_EQ(host::metadataOf(decoded).resource_version(), version);
    }
  }
}

// A pod's uid, node and phase are read from its encoded form, merged records included (the
// last one set wins, as decoding has it); anything but a pod, or bytes that do not parse, are
// refused.
TEST(ObjectsTest, PodFactsAreReadFromTheBytes) {
  kbinder::v1::Object object;
  auto& pod = *object.mutable_pod();
  pod.mutable_metadata()->set_name("p");
  pod.mutable_metadata()->set_uid("u-1");
  (*pod.mutable_metadata()->mutable_labels())["app"] = "web";
  pod.mutable_spec()->add_containers()->set_name("c");
  pod.mutable_status()->set_phase("Pending");
  std::string encoded = object.SerializeAsString();
  host::PodFacts facts;
  ASSERT_TRUE(host::podFactsFromEncoded(encoded, facts));
  EXPECT_EQ(facts.uid, "u-1");
  EXPECT_EQ(facts.node_name, "");
  EXPECT_EQ(facts.phase, "Pending");

  kbinder::v1::Object binding;  // what a merged Binding appends, then a stamp
  binding.mutable_pod()->mutable_spec()->set_node_name("n1");
  binding.mutable_pod()->mutable_status()->set_phase("Running");
  encoded += binding.SerializeAsString();
  host::appendResourceVersionStamp(host::Kind::kPod, "9", encoded);
  ASSERT_TRUE(host::podFactsFromEncoded(encoded, facts));
  EXPECT_EQ(facts.uid, "u-1");
  EXPECT_EQ(facts.node_name, "n1");
  EXPECT_EQ(facts.phase, "Running");
  kbinder::v1::Object decoded;  // what decoding gives agrees
  ASSERT_TRUE(decoded.ParseFromString(encoded));
  EXPECT_EQ(decoded.pod().spec().node_name(), facts.node_name);
  EXPECT_EQ(decoded.pod().status().phase(), facts.phase);

  kbinder::v1::Object node;
  node.mutable_node()->mutable_metadata()->set_name("n1");
  const std::string mixed = encoded + node.SerializeAsString();
  const std::string truncated = encoded.substr(0, encoded.size() - 1);
  for (const std::string* bad : {&mixed, &truncated}) {
    EXPECT_FALSE(host::podFactsFromEncoded(*bad, facts));
  }
  EXPECT_FALSE(host::podFactsFromEncoded(node.SerializeAsString(), facts));
  EXPECT_FALSE(host::podFactsFromEncoded("", facts)) << "no pod at all";
}

}  // namespace
}  // namespace kbinder::testing
