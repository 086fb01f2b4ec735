// SPDX-License-Identifier: Apache-2.0
// The schema's helpers: identity (uids), an encoded Object's payload.
#include "host/model/objects.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>
#include <regex>
#include <set>

#include "host/base/sha256.h"

namespace kbinder::host {
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
  std::string hex;
  for (const uint8_t byte : host::sha256("Pod/default/p")) {
    static constexpr char kHex[] = "0123456789abcdef";
    hex += kHex[byte >> 4];
    hex += kHex[byte & 15];
  }
  EXPECT_EQ(host::uidFromSeed("Pod/default/p"), hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" +
                                                    hex.substr(12, 4) + "-" + hex.substr(16, 4) +
                                                    "-" + hex.substr(20, 12));
  EXPECT_EQ(host::uidFromSeed("Pod/default/p"), host::uidFromSeed("Pod/default/p"));
  EXPECT_NE(host::uidFromSeed("Pod/default/p"), host::uidFromSeed("Pod/default/q"));
  EXPECT_TRUE(
      std::regex_match(host::uidFromSeed("x"),
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

TEST(ObjectsTest, SubsetConversionNamesTheFieldOnATypeMismatch) {
  const Json pod = Json::parse(R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
      "spec": {"containers": "not a list"}})");
  auto converted = objectFromJson(Kind::kPod, pod);
  ASSERT_FALSE(converted.ok());
  EXPECT_EQ(converted.status().message(), "spec.containers: expected a list, found a string");
}

// Where the JSON holds only what the schema's own JSON form allows, the conversion gives what
// protobuf's JSON parser gives (unknown fields ignored): every kind of field, nested messages,
// lists of them, maps, optional numbers, and Struct and ListValue kept whole.
TEST(ObjectsTest, ConversionAgreesWithProtobufsJsonParser) {
  const std::vector<std::pair<Kind, std::string>> cases = {
      {Kind::kPod, R"({"apiVersion": "v1", "kind": "Pod",
          "metadata": {"name": "p", "namespace": "ml", "uid": "u", "resourceVersion": "7",
                       "labels": {"app": "web", "tier": "front"}, "annotations": {"a": "b"},
                       "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                            "name": "rs", "uid": "r", "controller": true}],
                       "managedFields": [{"manager": "kubectl"}]},
          "spec": {"containers": [{"name": "c", "image": "i",
                                   "resources": {"limits": {"cpu": "2", "nvidia.com/gpu": "1"},
                                                 "requests": {"memory": "1Gi"}},
                                   "volumeMounts": [{"name": "v", "mountPath": "/d", "readOnly": true}]},
                                  {"name": "d", "image": "j"}],
                   "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule",
                                    "tolerationSeconds": 300}],
                   "priority": -5, "nodeSelector": {"zone": "a"},
                   "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "data", "readOnly": true}}]},
          "status": {"phase": "Pending"}})"},
      {Kind::kResourceClaim, R"({"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim",
          "metadata": {"name": "gpu", "namespace": "ml"},
          "spec": {"devices": {"requests": [{"name": "g", "exactly": {"count": 2}}]}},
          "status": {"allocation": {"devices": {
              "results": [{"request": "g", "driver": "gpu.example.com", "pool": "n1", "device": "d0"}],
              "config": [{"source": "FromClaim", "requests": ["g"],
                          "opaque": {"driver": "gpu.example.com",
                                     "parameters": {"sharing": {"strategy": "TimeSlicing", "n": 4},
                                                    "flags": [true, null, 1.5]}}}]}},
                     "reservedFor": [{"resource": "pods", "name": "p", "uid": "u"}]}})"},
      {Kind::kBindRequest, R"({"apiVersion": "scheduling.run.ai/v1alpha2", "kind": "BindRequest",
          "metadata": {"name": "p", "namespace": "ml"},
          "spec": {"podName": "p", "selectedNode": "n1", "receivedResourceType": "Fraction",
                   "receivedGPU": {"count": 2, "portion": "0.50"}, "selectedGPUGroups": ["g1", "g2"],
                   "backoffLimit": 0},
          "status": {"phase": "Failed", "reason": "r", "failedAttempts": 3}})"},
  };
  for (const auto& [kind, text] : cases) {
    SCOPED_TRACE(text);
    auto converted = objectFromJson(kind, Json::parse(text));
    ASSERT_TRUE(converted.ok()) << converted.status().message();
    kbinder::v1::Object expected;
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    const auto parsed =
        google::protobuf::util::JsonStringToMessage(text, &mutablePayload(expected, kind), options);
    ASSERT_TRUE(parsed.ok()) << parsed.message();
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*converted, expected))
        << converted->DebugString() << "\nagainst\n"
        << expected.DebugString();
    auto from_text = objectFromJsonText(kind, text);
    ASSERT_TRUE(from_text.ok()) << from_text.status().message();
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*from_text, expected))
        << from_text->DebugString() << "\nagainst\n"
        << expected.DebugString();
  }
}

// Beyond protobuf's JSON form: nulls are absent values (in lists and maps too), scalars where
// a string is wanted become strings, and a mismatch names where it sits, list index and map
// key included.
// Both readers (of a JSON tree, and of JSON text) alike.
TEST(ObjectsTest, ConversionCoercesScalarsAndNamesWhereAMismatchSits) {
  const auto convert = [](const std::string& text, bool from_text) {
    return from_text ? objectFromJsonText(Kind::kPod, text)
                     : objectFromJson(Kind::kPod, Json::parse(text));
  };
  for (const bool from_text : {false, true}) {
    SCOPED_TRACE(from_text ? "from text" : "from the tree");
    auto pod = convert(R"({"metadata": {"name": "p",
        "labels": {"n": 1, "b": true, "f": 2.50, "gone": null}, "annotations": null},
        "spec": {"containers": [null, {"name": "c", "image": 5}], "priority": null}})",
                       from_text);
    ASSERT_TRUE(pod.ok()) << pod.status().message();
    const auto& labels = pod->pod().metadata().labels();
    EXPECT_EQ(labels.size(), 3u);
    EXPECT_EQ(labels.at("n"), "1");
    EXPECT_EQ(labels.at("b"), "true");
    EXPECT_EQ(labels.at("f"), "2.5");
    ASSERT_EQ(pod->pod().spec().containers_size(), 1);
    EXPECT_EQ(pod->pod().spec().containers(0).image(), "5");
    EXPECT_FALSE(pod->pod().spec().has_priority());

    const std::vector<std::pair<std::string, std::string>> mismatches = {
        {R"({"spec": {"containers": [{"name": "c"}, null, {"name": {"x": 1}}]}})",
         "spec.containers[2].name: expected a string, found an object"},
        {R"({"metadata": {"labels": {"app": ["web"]}}})",
         "metadata.labels.app: expected a string, found a list"},
        {R"({"metadata": {"labels": "app=web"}})",
         "metadata.labels: expected a mapping, found a string"},
        {R"({"spec": {"priority": 1.5}})", "spec.priority: expected an integer, found a number"},
        {R"({"spec": {"priority": "high"}})", "spec.priority: expected a number, found a string"},
        {R"({"spec": {"unschedulable": "yes"}})", ""},  // not a Pod field: passed over
        {R"({"spec": {"volumes": [{"persistentVolumeClaim": {"readOnly": "yes"}}]}})",
         "spec.volumes[0].persistentVolumeClaim.readOnly: expected true or false, found a string"},
        {R"({"spec": {"volumes": [{"persistentVolumeClaim": "data"}]}})",
         "spec.volumes[0].persistentVolumeClaim: expected an object, found a string"},
    };
    for (const auto& [text, message] : mismatches) {
      auto converted = convert(text, from_text);
      if (message.empty()) {
        EXPECT_TRUE(converted.ok()) << text << ": " << converted.status().message();
      } else {
        ASSERT_FALSE(converted.ok()) << text;
        EXPECT_EQ(converted.status().message(), message) << text;
      }
    }
  }
}

// Read from text: what is not modeled is passed over whatever it nests, a key given twice
// counts as it does in the tree (the last one), and text that is not JSON says so.
TEST(ObjectsTest, ConversionFromTextPassesOverWhatIsNotModeled) {
  const std::string text = R"({"metadata": {"name": "p", "managedFields": [{"fieldsV1": {"f:a": {}},
      "x": [[1, {"y": [true]}], null]}], "labels": {"a": "1"}, "labels": {"b": "2"}},
      "spec": {"containers": [{"name": "first"}], "containers": [{"name": "c"}, {"name": "d"}],
               "priority": 1, "priority": 2, "volumes": [{"name": "v", "persistentVolumeClaim":
               {"claimName": "x"}, "persistentVolumeClaim": {"readOnly": true}}]},
      "status": {"conditions": [{"type": "PodScheduled", "status": "True", "extra": {"deep": [1]}}]},
      "unknown": {"a": [{"b": {"c": null}}]}})";
  auto from_text = objectFromJsonText(Kind::kPod, text);
  auto from_tree = objectFromJson(Kind::kPod, Json::parse(text));
  ASSERT_TRUE(from_text.ok()) << from_text.status().message();
  ASSERT_TRUE(from_tree.ok()) << from_tree.status().message();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*from_text, *from_tree))
      << from_text->DebugString() << "\nagainst\n"
      << from_tree->DebugString();
  EXPECT_EQ(from_text->pod().metadata().labels().size(), 1u);
  EXPECT_EQ(from_text->pod().spec().containers_size(), 2);
  EXPECT_EQ(from_text->pod().spec().priority(), 2);
  EXPECT_TRUE(from_text->pod().spec().volumes(0).persistent_volume_claim().claim_name().empty());

  bool not_json = false;
  auto broken = objectFromJsonText(Kind::kPod, R"({"metadata": {"name": "p")", &not_json);
  ASSERT_FALSE(broken.ok());
  EXPECT_TRUE(not_json);
  EXPECT_EQ(broken.status().message().rfind("not JSON: ", 0), 0u) << broken.status().message();
  auto mismatched = objectFromJsonText(Kind::kPod, R"({"spec": {"containers": 1}})", &not_json);
  ASSERT_FALSE(mismatched.ok());
  EXPECT_FALSE(not_json);
  // An integer beyond 64 bits where nothing is modeled: simdjson refuses it, the tree reads it.
  auto big = objectFromJsonText(
      Kind::kPod, R"({"metadata": {"name": "p"}, "x": 123456789012345678901234567890})", &not_json);
  ASSERT_TRUE(big.ok()) << big.status().message();
  EXPECT_FALSE(not_json);
  EXPECT_EQ(big->pod().metadata().name(), "p");
  auto scalar = objectFromJsonText(Kind::kPod, "[1, 2]");  // not an object: nothing modeled
  ASSERT_TRUE(scalar.ok());
  EXPECT_EQ(scalar->pod().ByteSizeLong(), 0u);
}

// A watch event read from text: its type and its object, as the kind watched.
TEST(ObjectsTest, WatchEventsAreReadFromText) {
  auto modified = watchEventFromJsonText(Kind::kPod, R"({"type": "MODIFIED", "object":
      {"kind": "Pod", "metadata": {"name": "p", "resourceVersion": "12"}, "spec": {"nodeName": "n"}}})");
  ASSERT_TRUE(modified.ok()) << modified.status().message();
  EXPECT_EQ(modified->type, "MODIFIED");
  EXPECT_EQ(modified->object.pod().metadata().resource_version(), "12");
  EXPECT_EQ(modified->object.pod().spec().node_name(), "n");

  auto bookmark = watchEventFromJsonText(Kind::kPod, R"({"type": "BOOKMARK", "object":
      {"kind": "Pod", "metadata": {"resourceVersion": "40", "annotations": {"k8s.io/initial-events-end": "true"}}}})");
  ASSERT_TRUE(bookmark.ok()) << bookmark.status().message();
  EXPECT_EQ(bookmark->type, "BOOKMARK");
  EXPECT_EQ(bookmark->object.pod().metadata().resource_version(), "40");

  auto bad = watchEventFromJsonText(Kind::kPod,
                                    R"({"type": "ADDED", "object": {"spec": {"containers": {}}}})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "spec.containers: expected a list, found an object");
  auto no_object = watchEventFromJsonText(Kind::kPod, R"({"type": "ADDED", "object": "p"})");
  ASSERT_FALSE(no_object.ok());
  EXPECT_EQ(no_object.status().message(), "a watch event's object is not an object");
}

TEST(ObjectsTest, NumbersWhereTheSchemaWantsStringsBecomeStrings) {
  const Json node = Json::parse(R"({"kind": "Node", "metadata": {"name": "n"},
      "status": {"allocatable": {"cpu": 4, "nvidia.com/gpu": 2}}})");
  auto converted = objectFromJson(Kind::kNode, node);
  ASSERT_TRUE(converted.ok()) << converted.status().message();
  EXPECT_EQ(converted->node().status().allocatable().at("cpu"), "4");
}

TEST(ObjectsTest, RebaseCarriesASubsetChangeOntoTheRawObject) {
  const Json raw = Json::parse(R"({"apiVersion": "v1", "kind": "Pod",
      "metadata": {"name": "p", "labels": {"a": "1"}, "managedFields": [{"manager": "x"}]},
      "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}]}],
               "tolerations": [{"key": "k", "operator": "Exists", "tolerationSeconds": 300}]}})");
  auto typed = objectFromJson(Kind::kPod, raw);
  ASSERT_TRUE(typed.ok());
  const Json before = objectToJson(*typed);
  EXPECT_EQ(before["spec"]["tolerations"][0]["tolerationSeconds"], 300);  // a number, not "300"
  kbinder::v1::Object changed = *typed;
  (*changed.mutable_pod()->mutable_metadata()->mutable_labels())["b"] = "2";
  changed.mutable_pod()->mutable_spec()->mutable_containers(0)->set_image("j");
  const Json after = objectToJson(changed);
  const Json result = rebase(raw, before, after);
  EXPECT_EQ(result["metadata"]["labels"], Json::parse(R"({"a": "1", "b": "2"})"));
  EXPECT_EQ(result["metadata"]["managedFields"], raw["metadata"]["managedFields"]);
  EXPECT_EQ(result["spec"]["containers"][0]["image"], "j");
  EXPECT_EQ(result["spec"]["containers"][0]["ports"], raw["spec"]["containers"][0]["ports"]);
  EXPECT_EQ(result["spec"]["tolerations"], raw["spec"]["tolerations"]);

  const Json patch = mergePatch(raw, result);
  EXPECT_EQ(patch, Json::parse(R"({"metadata": {"labels": {"b": "2"}},
      "spec": {"containers": [{"name": "c", "image": "j", "ports": [{"containerPort": 80}]}]}})"));
  Json applied = raw;
  applied.merge_patch(patch);
  EXPECT_EQ(applied, result);
}

TEST(ObjectsTest, RebaseKeepsUnmodeledFieldsOfListElementsThatMoved) {
  const Json raw = Json::parse(R"({"status": {"reservedFor": [
      {"resource": "pods", "name": "a", "uid": "1", "extra": "x"},
      {"resource": "pods", "name": "b", "uid": "2", "extra": "y"}]}})");
  const Json before = Json::parse(R"({"status": {"reservedFor": [
      {"resource": "pods", "name": "a", "uid": "1"}, {"resource": "pods", "name": "b", "uid": "2"}]}})");
  const Json after = Json::parse(R"({"status": {"reservedFor": [
      {"resource": "pods", "name": "b", "uid": "2"}]}})");
  const Json result = rebase(raw, before, after);
  ASSERT_EQ(result["status"]["reservedFor"].size(), 1u);
  EXPECT_EQ(result["status"]["reservedFor"][0]["extra"], "y");
}

}  // namespace
}  // namespace kbinder::host
