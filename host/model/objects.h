// SPDX-License-Identifier: Apache-2.0
// The Kubernetes kinds the schema models, and the conversion between an object as the cluster
// holds it (raw JSON, every field) and the schema's subset message (kbinder.v1.*).
//
// A change to a subset is never written by re-serializing the subset: rebase() carries the
// subset's change onto the raw object, keeping every field the schema does not model, and
// mergePatch() gives the difference two raw objects have as a JSON merge patch (RFC 7386).
//
// Thread-safety: free functions over values.
#pragma once

#include <google/protobuf/message.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "host/base/status.h"
#include "host/model/manifest.h"
#include "kbinder/v1/plugin.pb.h"

namespace kbinder::host {

enum class Kind {
  kPod,
  kNode,
  kPersistentVolumeClaim,
  kPersistentVolume,
  kStorageClass,
  kResourceClaim,
  kBindRequest,
  kEvent,
};

inline constexpr Kind kAllKinds[] = {Kind::kPod,
                                     Kind::kNode,
                                     Kind::kPersistentVolumeClaim,
                                     Kind::kPersistentVolume,
                                     Kind::kStorageClass,
                                     Kind::kResourceClaim,
                                     Kind::kBindRequest,
                                     Kind::kEvent};

// "Pod", "PersistentVolumeClaim", ...: the `kind` field, and what Get/List requests name.
std::string_view kindName(Kind kind);
std::optional<Kind> kindFromName(std::string_view name);
// The apiVersion kbinder writes for new objects of the kind.
std::string_view kindApiVersion(Kind kind);
// Lowercase plural resource name, as in URLs and messages: "pods", "persistentvolumeclaims".
std::string_view kindResource(Kind kind);
bool kindNamespaced(Kind kind);
// Kinds whose status is written only through the status subresource.
bool kindHasStatusSubresource(Kind kind);

// The field of kbinder.v1.Object that holds `kind`.
const google::protobuf::FieldDescriptor* objectField(Kind kind);
// Whether `type` is one of protobuf's JSON types (Struct, Value, ListValue), which hold any
// JSON and are converted as JSON text.
bool isWellKnownJsonType(const google::protobuf::Descriptor* type);

// The kind an Object holds; nullopt when it holds none.
std::optional<Kind> kindOf(const kbinder::v1::Object& object);
// The message inside `object` (which must hold one), and its metadata.
const google::protobuf::Message& payload(const kbinder::v1::Object& object);
google::protobuf::Message& mutablePayload(kbinder::v1::Object& object, Kind kind);
const kbinder::v1::ObjectMeta& metadataOf(const kbinder::v1::Object& object);
kbinder::v1::ObjectMeta& mutableMetadataOf(kbinder::v1::Object& object);

// The message inside an encoded Object (its one kind's, as the ABI hands a pod or a node to
// the plugins), appended to `payload` without decoding: every record of the Object is that
// kind's field (several records merge, as the stamp EmbeddedStore appends does). False, with
// `payload` unchanged, when `object` holds no kind, mixes kinds or does not parse.
bool appendEncodedPayload(std::string_view object, std::string& payload);

// Appends to `encoded` the wire form of an Object of `kind` that holds only
// metadata.resourceVersion = `resource_version`: what decoding merges into the Object encoded
// before it. Written directly, without a message to build, fill, encode and destroy.
void appendResourceVersionStamp(Kind kind, std::string_view resource_version, std::string& encoded);

// What the binder's pod cache needs to know of most changes to a pod, read from its encoded
// form without decoding it: views into the bytes read. Empty where the pod does not set them.
struct PodFacts {
  std::string_view uid;
  std::string_view node_name;
  std::string_view phase;
};
// The facts of the pod an encoded Object holds (several records merge: for each, the last one
// set wins, as decoding would have it). False when the bytes do not parse or hold anything but
// a pod.
bool podFactsFromEncoded(std::string_view object, PodFacts& facts);

// Raw JSON -> subset. Unmodeled fields are dropped; scalars where the schema wants a string
// (YAML's `cpu: 2`) become strings; a type mismatch names the field.
StatusOr<kbinder::v1::Object> objectFromJson(Kind kind, const Json& raw);
// The same conversion straight from JSON text, parsed with simdjson into no JSON tree of
// nlohmann's (building one costs twice the conversion): for text read once, as the API
// server's answers. Where the text has more than one problem, the first met in the text's
// order is named; `not_json` (if given) tells text that does not parse from a value that does
// not fit. Text simdjson refuses but nlohmann reads (an integer beyond 64 bits) is read as a
// tree.
StatusOr<kbinder::v1::Object> objectFromJsonText(Kind kind, std::string_view text,
                                                 bool* not_json = nullptr);
// An object's metadata.resourceVersion read from its JSON text, nothing else converted (what
// a write's answer is read for when the writer has the rest). `not_json` as objectFromJsonText.
StatusOr<std::string> resourceVersionFromJsonText(std::string_view text, bool* not_json = nullptr);
// A watch event's text, {"type": ..., "object": {...}}, its object converted as
// objectFromJsonText does, as the kind watched. An error when simdjson refuses the text or the
// object does not convert (an ERROR event's object, a Status, may not): read such an event as
// a tree.
struct WatchEventText {
  std::string type;
  kbinder::v1::Object object;
};
StatusOr<WatchEventText> watchEventFromJsonText(Kind kind, std::string_view text);
// Brings `typed` (the subset of an earlier version of `raw`) up to `raw` where only the named
// fields changed: the same result as objectFromJson(kind, raw), converting only those. A name
// is a top-level field ("status") or a field within one ("metadata.labels").
Status refreshFields(Kind kind, const Json& raw, const std::vector<std::string>& fields,
                     kbinder::v1::Object& typed);
// Subset -> JSON with Kubernetes field names (int64 as numbers, unset fields absent).
Json messageToJson(const google::protobuf::Message& message);
Json objectToJson(const kbinder::v1::Object& object);
// One field of `message` as JSON; null when it is not set (as messageToJson leaves it out).
Json fieldToJson(const google::protobuf::Message& message,
                 const google::protobuf::FieldDescriptor* field);

// Carries the change from `before` to `after` (two subset JSONs) onto `raw`, the object
// `before` was read from; fields the subset does not model stay as they were.
Json rebase(const Json& raw, const Json& before, const Json& after);
// rebase() on `target` itself: each raw value is moved, never copied, to where it ends up.
void rebaseInPlace(Json& target, const Json& before, const Json& after);
// The raw object a patch request makes of `raw` (whose subset is `current`): the requested
// subset's changes carried onto it, except identity (name, namespace, uid, resourceVersion,
// timestamps) and what the other subresource owns (status for "", all but status for "status"
// on kinds with a status subresource).
// `changed`, when given, receives the fields the request changes (the only ones the result can
// differ from `raw` in), named as refreshFields() takes them: within a top-level object set on
// both sides, its fields that differ ("metadata.labels"); else the top-level field.
Json applySubsetChange(Kind kind, const Json& raw, const kbinder::v1::Object& current,
                       const kbinder::v1::Object& requested, const std::string& subresource,
                       std::vector<std::string>* changed = nullptr);
// What applySubsetChange carries onto the raw object, before it does: the top-level fields the
// request changes as two subset JSONs (rebase()'s `before` and `after`), and `changed` as above.
// A caller that rebases only the raw object's top-level fields named in either side gets those
// fields as applySubsetChange would make them; the others it leaves as they are.
struct SubsetChange {
  Json before;
  Json after;
  std::vector<std::string> changed;
};
SubsetChange subsetChange(Kind kind, const kbinder::v1::Object& current,
                          const kbinder::v1::Object& requested, const std::string& subresource);

// The JSON merge patch (RFC 7386) that turns `from` into `to`; an empty object when they are
// equal. (Json::merge_patch applies one.)
Json mergePatch(const Json& from, const Json& to);

// Convenience accessors on raw objects ("" when absent).
std::string rawString(const Json& object, std::initializer_list<std::string_view> path);

// A UUID-shaped uid derived from `seed` (the same seed gives the same uid), and a random
// (version 4) UUID.
std::string uidFromSeed(std::string_view seed);
std::string randomUid();
// The current time as Kubernetes writes it: "2026-01-02T03:04:05Z", or with microseconds
// ("...05.123456Z") for MicroTime fields.
std::string timestampNow(bool microseconds = false);
// `when` so written (years 0-9999).
std::string formatTimestamp(std::chrono::system_clock::time_point when, bool microseconds = false);

}  // namespace kbinder::host
