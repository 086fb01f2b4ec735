// SPDX-License-Identifier: Apache-2.0
// The embedded store behaves like the API server where the binder can tell.
#include "host/store/embedded_store.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <atomic>
#include <sstream>
#include <thread>
#include <tuple>
#include <vector>

#include "cluster_support.h"
#include "host/model/field_selector.h"

namespace kbinder::testing {
namespace {

using host::Json;
using host::StatusCode;

TEST(EmbeddedStoreTest, EveryWriteStampsTheNextGlobalResourceVersion) {
  auto store =
      storeFrom(Cluster{MakeNode("n1").cpu("4"), MakePod("p").cpu("1"), MakePod("q").cpu("1")});
  const uint64_t loaded = store->resourceVersion();
  EXPECT_EQ(loaded, 3u);
  auto pod = getObject(*store, "Pod", "p");
  EXPECT_EQ(pod.pod().metadata().resource_version(), "2");
  EXPECT_FALSE(pod.pod().metadata().uid().empty());
  (*pod.mutable_pod()->mutable_metadata()->mutable_labels())["x"] = "y";
  ASSERT_TRUE(patchObject(*store, pod).ok());
  EXPECT_EQ(store->resourceVersion(), loaded + 1);
  EXPECT_EQ(getObject(*store, "Pod", "p").pod().metadata().resource_version(),
            std::to_string(loaded + 1));
  // A patch that changes nothing writes nothing.
  ASSERT_TRUE(patchObject(*store, getObject(*store, "Pod", "p")).ok());
  EXPECT_EQ(store->resourceVersion(), loaded + 1);
}

TEST(EmbeddedStoreTest, StaleResourceVersionIsAConflict) {
  auto store = storeFrom(Cluster{MakePod("p").cpu("1")});
  auto read = getObject(*store, "Pod", "p");
  auto first = read;
  (*first.mutable_pod()->mutable_metadata()->mutable_labels())["a"] = "1";
  ASSERT_TRUE(patchObject(*store, first).ok());
  auto second = read;  // still carries the old resourceVersion
  (*second.mutable_pod()->mutable_metadata()->mutable_labels())["b"] = "2";
  const auto s = patchObject(*store, second);
  EXPECT_EQ(s.code(), StatusCode::kAborted);
  EXPECT_EQ(s.message(),
            "Operation cannot be fulfilled on pods \"p\": the object has been modified; please "
            "apply your changes to the latest version and try again");
}

TEST(EmbeddedStoreTest, MissingObjectsAreNotFound) {
  auto store = storeFrom(Cluster{MakePod("p").cpu("1")});
  kbinder::v1::GetRequest get;
  get.set_kind("Pod");
  get.set_namespace_("default");
  get.set_name("nope");
  auto got = store->get(get);
  EXPECT_EQ(got.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(got.status().message(), "pods \"nope\" not found");
  kbinder::v1::Object object;
  object.mutable_persistent_volume()->mutable_metadata()->set_name("pv-x");
  EXPECT_EQ(patchObject(*store, object).code(), StatusCode::kNotFound);
}

TEST(EmbeddedStoreTest, StatusIsWrittenOnlyThroughTheStatusSubresource) {
  auto store = storeFrom(Cluster{MakeRequest("r").pod("p").node("n1")});
  auto request = getObject(*store, "BindRequest", "r");
  request.mutable_bind_request()->mutable_status()->set_phase("Succeeded");
  request.mutable_bind_request()->mutable_spec()->set_selected_node("n2");
  ASSERT_TRUE(patchObject(*store, request).ok());  // main resource: the status change is dropped
  auto after = getObject(*store, "BindRequest", "r");
  EXPECT_EQ(after.bind_request().spec().selected_node(), "n2");
  EXPECT_EQ(after.bind_request().status().phase(), "");
  request = after;
  request.mutable_bind_request()->mutable_status()->set_phase("Succeeded");
  request.mutable_bind_request()->mutable_spec()->set_selected_node("n3");
  ASSERT_TRUE(patchObject(*store, request, "status").ok());  // status: the spec change is dropped
  after = getObject(*store, "BindRequest", "r");
  EXPECT_EQ(after.bind_request().spec().selected_node(), "n2");
  EXPECT_EQ(after.bind_request().status().phase(), "Succeeded");
}

TEST(EmbeddedStoreTest, BindingFollowsTheApiServersRules) {
  auto store =
      storeFrom(Cluster{MakePod("p").cpu("1"), MakePod("bound").cpu("1").node("n0"),
                        MakePod("going").cpu("1").deletionTimestamp("2026-01-01T00:00:00Z")});
  const std::string uid = getObject(*store, "Pod", "p").pod().metadata().uid();

  auto s = bindPod(*store, "default", "missing", "", "n1");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "pods \"missing\" not found");

  s = bindPod(*store, "default", "p", "other-uid", "n1");
  EXPECT_EQ(s.code(), StatusCode::kAborted);
  EXPECT_EQ(s.message(),
            "Operation cannot be fulfilled on pods/binding \"p\": Precondition "
            "failed: UID in precondition: other-uid, UID in object meta: " +
                uid);

  s = bindPod(*store, "default", "bound", "", "n1");
  EXPECT_EQ(s.code(), StatusCode::kAborted);
  EXPECT_EQ(s.message(),
            "Operation cannot be fulfilled on pods/binding \"bound\": pod bound is "
            "already assigned to node \"n0\"");

  s = bindPod(*store, "default", "going", "", "n1");
  EXPECT_EQ(s.code(), StatusCode::kAborted);
  EXPECT_EQ(s.message(),
            "Operation cannot be fulfilled on pods/binding \"going\": pod going is "
            "being deleted, cannot be assigned to a host");

  ASSERT_TRUE(bindPod(*store, "default", "p", uid, "n1").ok());
  auto raw = RawStore(*store).getRaw("Pod", "default", "p");
  EXPECT_EQ((*raw)["spec"]["nodeName"], "n1");
  EXPECT_EQ((*raw)["status"]["conditions"][0]["type"], "PodScheduled");
  EXPECT_EQ((*raw)["status"]["conditions"][0]["status"], "True");
  EXPECT_EQ(bindPod(*store, "default", "p", uid, "n1").code(), StatusCode::kAborted);  // no twice
}

// A created object's typed form is the caller's message with the stamped metadata carried
// over; it must equal what converting the stored JSON gives.
void CreateKeepsBothFormsInStepWith(EmbeddedStore::Options options) {
  auto store = storeFrom(Cluster{MakeNode("n1").cpu("4")}, options);
  auto pod_manifest = host::parseManifest(R"(apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}, annotations: {note: "x"}}
spec:
  containers:
  - name: c
    image: busybox
    resources: {requests: {cpu: 250m, memory: 64Mi}, limits: {nvidia.com/gpu: "1"}}
  tolerations: [{key: gpu, operator: Exists, effect: NoSchedule}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
)",
                                          "t.yaml");
  ASSERT_TRUE(pod_manifest.ok()) << pod_manifest.status().message();
  auto pod = host::objectFromJson(host::Kind::kPod, pod_manifest->objects[0]);
  ASSERT_TRUE(pod.ok());
  pod->mutable_pod()->mutable_metadata()->clear_name();
  pod->mutable_pod()->mutable_metadata()->set_generate_name("web-");
  kbinder::v1::Object event;
  event.mutable_event()->mutable_metadata()->set_generate_name("p.");
  event.mutable_event()->mutable_metadata()->set_resource_version("7");  // ignored on create
  event.mutable_event()->set_reason("Bound");
  event.mutable_event()->set_type("Normal");
  event.mutable_event()->set_event_time("2026-11-24T06:00:00.000000Z");
  event.mutable_event()->mutable_regarding()->set_kind("Pod");
  event.mutable_event()->mutable_regarding()->set_name("p");
  kbinder::v1::Object node;
  node.mutable_node()->mutable_metadata()->set_name("n2");
  node.mutable_node()->mutable_metadata()->set_namespace_("ignored");  // cluster-scoped
  (*node.mutable_node()->mutable_status()->mutable_allocatable())["cpu"] = "8";
  for (const auto& object : {*pod, event, node}) {
    auto created = store->create(object);
    ASSERT_TRUE(created.ok()) << created.status().message();
    const auto& meta = host::metadataOf(*created);
    const std::string kind(host::kindName(*host::kindOf(*created)));
    const auto raw = RawStore(*store).getRaw(kind, meta.namespace_(), meta.name());
    ASSERT_TRUE(raw.ok()) << kind;
    const auto converted = host::objectFromJson(*host::kindOf(*created), *raw);
    ASSERT_TRUE(converted.ok());
    const auto stored = getObject(*store, kind, meta.name(), meta.namespace_());
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(stored, *converted))
        << kind << ":\n"
        << stored.DebugString() << "vs\n"
        << converted->DebugString();
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*created, stored)) << kind;
    EXPECT_FALSE(meta.uid().empty());
    EXPECT_FALSE(meta.creation_timestamp().empty());
    EXPECT_NE(meta.resource_version(), "7");
  }
}

TEST(EmbeddedStoreTest, CreateKeepsBothFormsInStep) {
  // Without raw watches an Event (kept encoded) is stored without its raw form, made when read.
  for (const bool raw_watches : {true, false}) {
    SCOPED_TRACE(raw_watches ? "with raw watches" : "without raw watches");
    CreateKeepsBothFormsInStepWith(EmbeddedStore::Options{.raw_watches = raw_watches});
  }
}

// An Event created without raw watches keeps no raw form until one is read; every way of
// reading it, writing it back and editing it sees the raw form the store with raw watches
// makes at once.
TEST(EmbeddedStoreTest, RawFormOfACreatedEventIsMadeWhenRead) {
  kbinder::v1::Object event;
  auto& e = *event.mutable_event();
  e.mutable_metadata()->set_name("p.1");
  e.mutable_metadata()->set_namespace_("ml");
  e.set_reason("Bound");
  e.set_type("Normal");
  e.set_note("bound to n1");
  e.set_event_time("2026-11-24T06:00:00.000000Z");
  e.mutable_regarding()->set_kind("Pod");
  e.mutable_regarding()->set_name("p");
  const auto without_identity = [](Json raw) {
    raw["metadata"].erase("uid");
    raw["metadata"].erase("creationTimestamp");
    raw["metadata"].erase("resourceVersion");
    return raw;
  };
  auto eager = storeFrom(Cluster{MakeNode("n1").cpu("4")});
  ASSERT_TRUE(eager->create(event).ok());
  const auto expected = RawStore(*eager).getRaw("Event", "ml", "p.1");
  ASSERT_TRUE(expected.ok());

  const auto lazyStore = [&] {
    auto store =
        storeFrom(Cluster{MakeNode("n1").cpu("4")}, EmbeddedStore::Options{.raw_watches = false});
    EXPECT_TRUE(store->create(event).ok());
    return store;
  };
  const auto typedOf = [](EmbeddedStore& store) {
    return getObject(store, "Event", "p.1", "ml").event();
  };
  {  // the snapshot, written and taken, before anything else read it
    auto store = lazyStore();
    std::ostringstream out;
    ASSERT_TRUE(store->writeSnapshot(out).ok());
    auto written = host::parseManifest(out.str(), "written.yaml");
    ASSERT_TRUE(written.ok()) << written.status().message();
    ASSERT_EQ(written->objects.size(), 2u);
    const Json& raw = written->objects[1];
    EXPECT_EQ(without_identity(raw), without_identity(*expected));
    const auto typed = typedOf(*store);
    EXPECT_EQ(host::rawString(raw, {"metadata", "uid"}), typed.metadata().uid());
    EXPECT_EQ(host::rawString(raw, {"metadata", "resourceVersion"}),
              typed.metadata().resource_version());
    std::ostringstream again;
    ASSERT_TRUE(store->writeSnapshot(again).ok());
    EXPECT_EQ(again.str(), out.str());
    const auto snapshot = RawStore(*store).snapshot();
    ASSERT_TRUE(snapshot.ok());
    ASSERT_EQ(snapshot->objects.size(), 2u);
    EXPECT_EQ(snapshot->objects[1], raw);
    const auto versions = store->versions("Event");
    ASSERT_TRUE(versions.ok());
    ASSERT_EQ(versions->size(), 1u);
    EXPECT_EQ(*versions->front(), raw);
  }
  {  // read raw, listed raw
    auto store = lazyStore();
    const auto raw = RawStore(*store).getRaw("Event", "ml", "p.1");
    ASSERT_TRUE(raw.ok());
    EXPECT_EQ(without_identity(*raw), without_identity(*expected));
    const auto listed = RawStore(*store).listRaw("Event", "ml", "", 0, "");
    ASSERT_TRUE(listed.ok());
    ASSERT_EQ(listed->items.size(), 1u);
    EXPECT_EQ(listed->items[0], *raw);
  }
  {  // edited raw, then through the schema's form
    auto store = lazyStore();
    auto patched =
        RawStore(*store).patchRaw("Event", "ml", "p.1", Json{{"note", "bound again"}}, "");
    ASSERT_TRUE(patched.ok()) << patched.status().message();
    EXPECT_EQ((*patched)["reason"], "Bound");
    EXPECT_EQ(typedOf(*store).note(), "bound again");
    using Edit = host::MetadataEdit;
    const std::vector<Edit> label{{Edit::Map::kLabels, "seen", std::string("yes")}};
    ASSERT_TRUE(store->patchMetadata(host::Kind::kEvent, "ml", "p.1", "", label).ok());
    const auto raw = RawStore(*store).getRaw("Event", "ml", "p.1");
    ASSERT_TRUE(raw.ok());
    EXPECT_EQ((*raw)["metadata"]["labels"]["seen"], "yes");
    EXPECT_EQ((*raw)["note"], "bound again");
    EXPECT_EQ(typedOf(*store).metadata().labels().at("seen"), "yes");
  }
  {  // edited through the schema's form first, then deleted
    auto store = lazyStore();
    using Edit = host::MetadataEdit;
    const std::vector<Edit> label{{Edit::Map::kLabels, "seen", std::string("yes")}};
    ASSERT_TRUE(store->patchMetadata(host::Kind::kEvent, "ml", "p.1", "", label).ok());
    const auto raw = RawStore(*store).getRaw("Event", "ml", "p.1");
    ASSERT_TRUE(raw.ok());
    Json labelled = without_identity(*expected);
    labelled["metadata"]["labels"] = Json{{"seen", "yes"}};
    EXPECT_EQ(without_identity(*raw), labelled);
    const auto deleted = RawStore(*store).deleteRaw("Event", "ml", "p.1");
    ASSERT_TRUE(deleted.ok()) << deleted.status().message();
    EXPECT_EQ((*deleted)["reason"], "Bound");
    EXPECT_EQ(RawStore(*store).getRaw("Event", "ml", "p.1").status().code(), StatusCode::kNotFound);
  }
}

// Binding changes the stored pod's raw and schema forms side by side (without converting the
// pod again); they must agree with what converting the bound raw pod gives.
TEST(EmbeddedStoreTest, BindingKeepsBothFormsInStep) {
  auto store = storeFrom(Cluster{MakeNode("n1").cpu("4")} + Cluster::fromYaml(R"(---
apiVersion: v1
kind: Pod
metadata: {name: waiting, namespace: default}
spec:
  containers: [{name: c, image: busybox}]
status:
  phase: Pending
  conditions:
  - {type: Initialized, status: "True"}
  - {type: PodScheduled, status: "False", reason: Unschedulable, message: "0/1 nodes"}
---
apiVersion: v1
kind: Pod
metadata: {name: fresh, namespace: default, annotations: {kept: "1", replaced: old}}
spec:
  containers: [{name: c, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata: {name: t, namespace: default}
spec:
  containers: [{name: c}]
)"));
  // "waiting" has its PodScheduled condition changed on the decoded pod; "fresh" gains the node,
  // the condition and the Binding's annotations merged into its kept encoding; "t" is so small
  // that the merge would make its encoding more than twice as long, so it is bound as "waiting"
  // is.
  const std::string long_node(200, 'n');
  for (const auto& [name, node] :
       {std::pair<std::string, std::string>{"waiting", "n1"}, {"fresh", "n1"}, {"t", long_node}}) {
    const host::PodBinding binding{"default", name, "",
                                   node,      "",   {{"replaced", "new"}, {"added", "yes"}}};
    ASSERT_TRUE(store->bindPod(binding).ok()) << name;
    const auto raw = RawStore(*store).getRaw("Pod", "default", name);
    ASSERT_TRUE(raw.ok());
    const auto converted = host::objectFromJson(host::Kind::kPod, *raw);
    ASSERT_TRUE(converted.ok());
    const auto stored = getObject(*store, "Pod", name);
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(stored, *converted))
        << name << ":\n"
        << stored.DebugString() << "vs\n"
        << converted->DebugString();
    EXPECT_EQ(stored.pod().spec().node_name(), node);
    ASSERT_EQ(stored.pod().status().conditions_size(), name == "waiting" ? 2 : 1) << name;
    const auto& annotations = stored.pod().metadata().annotations();
    EXPECT_EQ(annotations.size(), name == "fresh" ? 3u : 2u) << name;
    EXPECT_EQ(annotations.at("replaced"), "new") << name;
    EXPECT_EQ(annotations.at("added"), "yes") << name;
    // The encoded form handed to the cycle decodes to the same pod.
    kbinder::v1::GetRequest get;
    get.set_kind("Pod");
    get.set_namespace_("default");
    get.set_name(name);
    const auto encoded = store->getEncoded(get);
    ASSERT_TRUE(encoded.ok());
    kbinder::v1::Object decoded;
    ASSERT_TRUE(decoded.ParseFromString(*encoded));
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(decoded, stored)) << name;
    // Bound once: a second Binding is refused on either path.
    EXPECT_EQ(bindPod(*store, "default", name, "", "n2").code(), StatusCode::kAborted) << name;
  }
  const auto raw = RawStore(*store).getRaw("Pod", "default", "waiting");
  ASSERT_TRUE(raw.ok());
  const Json& conditions = (*raw)["status"]["conditions"];
  ASSERT_EQ(conditions.size(), 2u);
  EXPECT_EQ(conditions[1]["status"], "True");
  EXPECT_FALSE(conditions[1].contains("reason"));
  EXPECT_TRUE(conditions[1].contains("lastTransitionTime"));
}

// A Binding or a metadata edit is made in place on a version only the store holds; a version
// somebody holds (a snapshot being written, a raw watch's history) never changes under them.
TEST(EmbeddedStoreTest, AWriteNeverChangesAVersionSomebodyHolds) {
  const Cluster pods = Cluster{MakeNode("n1").cpu("4")} + Cluster::fromYaml(R"(---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: default, annotations: {keep: "1"}}
spec: {containers: [{name: c, image: busybox}], unmodeled: {x: 1}}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: default}
spec: {containers: [{name: c, image: busybox}]}
)");
  using Edit = host::MetadataEdit;
  const std::vector<Edit> label{{Edit::Map::kLabels, "bound", std::string("yes")}};
  for (const bool raw_watches : {false, true}) {
    SCOPED_TRACE(raw_watches ? "with raw watches" : "without raw watches");
    auto store = storeFrom(pods, EmbeddedStore::Options{.raw_watches = raw_watches});
    const auto held = store->versions("Pod");  // held, as a snapshot being written holds them
    ASSERT_TRUE(held.ok());
    const auto& before = *held;
    ASSERT_EQ(before.size(), 2u);
    const Json a_before = *before[0];
    for (const std::string name : {"a", "b"}) {
      ASSERT_TRUE(store->patchMetadata(host::Kind::kPod, "default", name, "", label).ok());
      ASSERT_TRUE(bindPod(*store, "default", name, "", "n1").ok());
    }
    EXPECT_EQ(*before[0], a_before) << "a held version changed";
    EXPECT_FALSE(before[1]->at("spec").contains("nodeName"));
    // Written again now that nothing holds them: the edits land on what is stored, both forms.
    for (const std::string name : {"a", "b"}) {
      ASSERT_TRUE(store
                      ->patchMetadata(host::Kind::kPod, "default", name, "",
                                      {{Edit::Map::kAnnotations, "seen", std::string("1")}})
                      .ok());
      const auto raw = RawStore(*store).getRaw("Pod", "default", name);
      ASSERT_TRUE(raw.ok());
      EXPECT_EQ((*raw)["spec"]["nodeName"], "n1");
      EXPECT_EQ((*raw)["metadata"]["labels"]["bound"], "yes");
      EXPECT_EQ((*raw)["metadata"]["annotations"]["seen"], "1");
      EXPECT_EQ((*raw)["metadata"]["resourceVersion"], std::to_string(store->resourceVersion()));
      const auto converted = host::objectFromJson(host::Kind::kPod, *raw);
      ASSERT_TRUE(converted.ok());
      EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(getObject(*store, "Pod", name),
                                                                     *converted));
    }
    const auto a = RawStore(*store).getRaw("Pod", "default", "a");
    EXPECT_EQ((*a)["metadata"]["annotations"]["keep"], "1");
    EXPECT_EQ((*a)["spec"]["unmodeled"]["x"], 1);
  }
}

// Each event of a raw watch shows the object as that change left it, though later writes are
// made in place where they can.
TEST(EmbeddedStoreTest, RawWatchEventsKeepTheirOwnVersion) {
  auto store = storeFrom(Cluster{MakeNode("n1").cpu("4"), MakePod("p")});
  auto watch = RawStore(*store).watchRaw("Pod", "", store->resourceVersion());
  ASSERT_TRUE(watch.ok()) << watch.status().message();
  using Edit = host::MetadataEdit;
  ASSERT_TRUE(store
                  ->patchMetadata(host::Kind::kPod, "default", "p", "",
                                  {{Edit::Map::kLabels, "step", std::string("1")}})
                  .ok());
  ASSERT_TRUE(bindPod(*store, "default", "p", "", "n1").ok());
  ASSERT_TRUE(store
                  ->patchMetadata(host::Kind::kPod, "default", "p", "",
                                  {{Edit::Map::kLabels, "step", std::string("3")}})
                  .ok());
  std::vector<Json> seen;
  for (int i = 0; i < 3; ++i) {
    auto event = (*watch)->next(std::chrono::milliseconds(1000));
    ASSERT_TRUE(event.ok() && event->has_value());
    seen.push_back(*(*event)->object);
  }
  EXPECT_EQ(seen[0]["metadata"]["labels"]["step"], "1");
  EXPECT_FALSE(seen[0]["spec"].contains("nodeName"));
  EXPECT_EQ(seen[1]["metadata"]["labels"]["step"], "1");
  EXPECT_EQ(seen[1]["spec"]["nodeName"], "n1");
  EXPECT_EQ(seen[2]["metadata"]["labels"]["step"], "3");
  EXPECT_NE(seen[0]["metadata"]["resourceVersion"], seen[1]["metadata"]["resourceVersion"]);
}

TEST(EmbeddedStoreTest, RawWatchesNeedTheirHistory) {
  auto store =
      storeFrom(Cluster{MakeNode("n1").cpu("4")}, EmbeddedStore::Options{.raw_watches = false});
  auto watch = RawStore(*store).watchRaw("Pod", "", store->resourceVersion());
  ASSERT_FALSE(watch.ok());
  EXPECT_EQ(watch.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(watch.status().message().find("raw_watches"), std::string::npos);
  // Typed watches work as ever.
  EXPECT_TRUE(store->watch(host::Kind::kPod, "").ok());
}

// A patch converts only the top-level fields it changes; the stored subset must still be
// exactly what converting the whole raw object gives, whatever the patch touched.
TEST(EmbeddedStoreTest, PatchesKeepBothFormsInStep) {
  auto store = storeFrom(Cluster{MakeNode("n1").cpu("4")} + Cluster::fromYaml(R"(---
apiVersion: v1
kind: Pod
metadata:
  name: p
  namespace: default
  labels: {app: web}
  annotations: {note: kept}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: rs, uid: u1}]
spec:
  containers: [{name: c, image: busybox, resources: {requests: {cpu: 500m}}}]
  tolerations: [{key: k, operator: Exists}]
  unmodeled: {stays: true}
status:
  phase: Pending
  conditions: [{type: Initialized, status: "True"}]
)"));
  const auto inStep = [&](const std::string& what) {
    const auto raw = RawStore(*store).getRaw("Pod", "default", "p");
    ASSERT_TRUE(raw.ok());
    const auto converted = host::objectFromJson(host::Kind::kPod, *raw);
    ASSERT_TRUE(converted.ok());
    const auto stored = getObject(*store, "Pod", "p");
    // Compared as messages: maps serialize in no fixed order.
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(stored, *converted))
        << what << ":\n"
        << stored.DebugString() << "vs\n"
        << converted->DebugString();
    EXPECT_TRUE((*raw)["spec"]["unmodeled"]["stays"].get<bool>()) << what;
  };
  kbinder::v1::Object pod = getObject(*store, "Pod", "p");
  (*pod.mutable_pod()->mutable_metadata()->mutable_labels())["tier"] = "front";
  pod.mutable_pod()->mutable_metadata()->mutable_annotations()->erase("note");
  ASSERT_TRUE(patchObject(*store, pod).ok());
  inStep("labels and annotations");

  pod = getObject(*store, "Pod", "p");
  pod.mutable_pod()->mutable_spec()->clear_tolerations();
  (*pod.mutable_pod()
        ->mutable_spec()
        ->mutable_containers(0)
        ->mutable_resources()
        ->mutable_requests())["memory"] = "1Gi";
  ASSERT_TRUE(patchObject(*store, pod).ok());
  inStep("spec: a list emptied, a map entry added");
  EXPECT_EQ(getObject(*store, "Pod", "p").pod().spec().tolerations_size(), 0);

  pod = getObject(*store, "Pod", "p");
  pod.mutable_pod()->mutable_status()->set_phase("Running");
  pod.mutable_pod()->mutable_status()->clear_conditions();
  ASSERT_TRUE(patchObject(*store, pod, "status").ok());
  inStep("status");
  EXPECT_EQ(getObject(*store, "Pod", "p").pod().status().phase(), "Running");

  // Unchanged: no write, the resourceVersion stays.
  pod = getObject(*store, "Pod", "p");
  ASSERT_TRUE(patchObject(*store, pod).ok());
  EXPECT_EQ(getObject(*store, "Pod", "p").pod().metadata().resource_version(),
            pod.pod().metadata().resource_version());
  inStep("a patch that changes nothing");
}

// Writes are converted outside the store's lock and committed only onto the version they
// started from: writers that read, change and write back with the version they read (retrying
// on conflicts, as controllers do) lose no change however their writes interleave.
TEST(EmbeddedStoreTest, ConcurrentReadModifyWritesLoseNothing) {
  auto store = storeFrom(Cluster{MakePod("p").cpu("1")});
  constexpr int kThreads = 4, kWrites = 50;
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        while (true) {
          auto pod = getObject(*store, "Pod", "p");
          (*pod.mutable_pod()->mutable_metadata()->mutable_labels())["w" + std::to_string(t) + "-" +
                                                                     std::to_string(i)] = "x";
          const auto s = patchObject(*store, pod);
          if (s.ok()) break;
          ASSERT_EQ(s.code(), StatusCode::kAborted) << s.message();
          ++conflicts;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(getObject(*store, "Pod", "p").pod().metadata().labels_size(), kThreads * kWrites);
  const auto raw = RawStore(*store).getRaw("Pod", "default", "p");
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ((*raw)["metadata"]["labels"].size(), static_cast<size_t>(kThreads * kWrites));
}

TEST(EmbeddedStoreTest, ListsHonourFieldSelectors) {
  auto store =
      storeFrom(Cluster{MakeNode("n1").cpu("4"), MakePod("p").cpu("1"), MakePod("q").cpu("1")});
  ASSERT_TRUE(bindPod(*store, "default", "q", "", "n1").ok());
  kbinder::v1::ListRequest list;
  list.set_kind("Pod");
  list.set_field_selector("spec.nodeName=");
  auto pods = store->list(list);
  ASSERT_TRUE(pods.ok()) << pods.status().message();
  ASSERT_EQ(pods->items_size(), 1);
  EXPECT_EQ(pods->items(0).pod().metadata().name(), "p");
  list.set_field_selector("spec.nodename=n1");
  const auto bad = store->list(list);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("spec.nodename"), std::string::npos)
      << bad.status().message();
}

// A volume list with admits_node keeps what that node can use: volumes whose node affinity
// admits it by label or by name, and those without node affinity.
TEST(EmbeddedStoreTest, VolumeListsKeepWhatTheNamedNodeAdmits) {
  auto store = storeFrom(volumesWithNodeAffinity());
  const auto list = [&](const std::string& kind, const std::string& node) {
    kbinder::v1::ListRequest request;
    request.set_kind(kind);
    request.set_admits_node(node);
    return store->list(request);
  };
  const auto names = [&](const std::string& node) {
    auto listed = list("PersistentVolume", node);
    EXPECT_TRUE(listed.ok()) << listed.status().message();
    std::vector<std::string> out;
    for (const auto& item : listed->items()) out.push_back(host::metadataOf(item).name());
    return out;
  };
  EXPECT_EQ(names("n1"), (std::vector<std::string>{"anywhere", "in-zone-a"}));
  EXPECT_EQ(names("n2"), (std::vector<std::string>{"anywhere", "on-n2"}));
  EXPECT_EQ(names(""), (std::vector<std::string>{"anywhere", "in-zone-a", "on-n2"}));
  // The node's labels as they are now decide.
  auto n2 = getObject(*store, "Node", "n2", "");
  (*n2.mutable_node()->mutable_metadata()->mutable_labels())["zone"] = "a";
  ASSERT_TRUE(patchObject(*store, n2).ok());
  EXPECT_EQ(names("n2"), (std::vector<std::string>{"anywhere", "in-zone-a", "on-n2"}));

  const auto missing = list("PersistentVolume", "n9");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(),
            "admits_node names node \"n9\", which does not exist; name a node of the cluster");
  const auto pods = list("Pod", "n1");
  EXPECT_EQ(pods.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(pods.status().message().find("a Pod list cannot take it"), std::string::npos)
      << pods.status().message();
}

// Lists on indexed fields look only where the index points; after creations, changes,
// bindings and deletions they find exactly what looking at every object finds.
TEST(EmbeddedStoreTest, IndexedListsFindWhatAScanFinds) {
  auto store = storeFrom(Cluster{MakeNode("n1").cpu("4"), MakeNode("n2").cpu("4"),
                                 MakePod("p").cpu("1"), MakePod("q").cpu("1")});
  const auto names = [&](const std::string& kind, const std::string& selector) {
    kbinder::v1::ListRequest list;
    list.set_kind(kind);
    list.set_field_selector(selector);
    auto listed = store->list(list);
    EXPECT_TRUE(listed.ok()) << listed.status().message();
    std::vector<std::string> out;
    for (const auto& item : listed->items()) out.push_back(host::metadataOf(item).name());
    return out;
  };
  // The same selection by looking at every object (no selector, filtered here).
  const auto scanned = [&](const std::string& kind, const std::string& selector) {
    kbinder::v1::ListRequest list;
    list.set_kind(kind);
    auto all = store->list(list);
    auto filter = host::FieldSelector::parse(selector, *host::kindFromName(kind));
    EXPECT_TRUE(all.ok() && filter.ok());
    std::vector<std::string> out;
    for (const auto& item : all->items()) {
      if (filter->matches(item)) out.push_back(host::metadataOf(item).name());
    }
    return out;
  };
  const auto volume = [&](const std::string& name, const std::string& class_name) {
    kbinder::v1::Object o;
    auto& pv = *o.mutable_persistent_volume();
    pv.mutable_metadata()->set_name(name);
    pv.mutable_spec()->set_storage_class_name(class_name);
    (*pv.mutable_spec()->mutable_capacity())["storage"] = "1Gi";
    return o;
  };
  for (const char* name : {"v3", "v1", "v2"})
    ASSERT_TRUE(store->create(volume(name, "local")).ok());
  ASSERT_TRUE(store->create(volume("w", "fast")).ok());
  auto v2 = getObject(*store, "PersistentVolume", "v2", "");
  v2.mutable_persistent_volume()->mutable_spec()->mutable_claim_ref()->set_namespace_("default");
  v2.mutable_persistent_volume()->mutable_spec()->mutable_claim_ref()->set_name("data");
  v2.mutable_persistent_volume()->mutable_spec()->set_storage_class_name("fast");
  ASSERT_TRUE(patchObject(*store, v2).ok());
  ASSERT_TRUE(RawStore(*store).remove("PersistentVolume", "", "v3").ok());
  ASSERT_TRUE(bindPod(*store, "default", "q", "", "n2").ok());

  EXPECT_EQ(names("PersistentVolume", "spec.storageClassName=local"),
            (std::vector<std::string>{"v1"}));
  EXPECT_EQ(names("PersistentVolume", "spec.storageClassName=fast"),
            (std::vector<std::string>{"v2", "w"}));  // in name order, as a scan
  EXPECT_EQ(names("PersistentVolume", "spec.claimRef.namespace=default,spec.claimRef.name=data"),
            (std::vector<std::string>{"v2"}));
  EXPECT_EQ(names("Pod", "spec.nodeName=n2"), (std::vector<std::string>{"q"}));
  EXPECT_TRUE(names("Pod", "spec.nodeName=n1").empty());
  for (const auto& [kind, selector] : std::vector<std::pair<std::string, std::string>>{
           {"PersistentVolume", "spec.storageClassName=local"},
           {"PersistentVolume", "spec.storageClassName=fast,metadata.name!=w"},
           {"PersistentVolume", "spec.claimRef.name="},
           {"PersistentVolume", "spec.claimRef.name=data"},
           {"PersistentVolume", "spec.storageClassName=gone"},
           {"Pod", "spec.nodeName="},
           {"Pod", "spec.nodeName=n2"}}) {
    EXPECT_EQ(names(kind, selector), scanned(kind, selector)) << kind << " " << selector;
  }
}

// Pods are kept encoded and volumes as messages (see StoreState::Typed in
// host/store/store_state.h): whichever way, a get, a list, a watch and the object's raw form agree
// after every write.
TEST(EmbeddedStoreTest, EveryReadGivesTheMessageOfTheRawObject) {
  auto store =
      storeFrom(Cluster{MakeNode("n1").cpu("4"), MakePod("p").cpu("1").label("app", "web")});
  kbinder::v1::Object pv;
  pv.mutable_persistent_volume()->mutable_metadata()->set_name("v");
  pv.mutable_persistent_volume()->mutable_spec()->set_storage_class_name("local");
  (*pv.mutable_persistent_volume()->mutable_spec()->mutable_capacity())["storage"] = "1Gi";
  const auto pod_watch = store->watch(host::Kind::kPod, std::to_string(store->resourceVersion()));
  const auto pv_watch =
      store->watch(host::Kind::kPersistentVolume, std::to_string(store->resourceVersion()));
  ASSERT_TRUE(pod_watch.ok() && pv_watch.ok());
  ASSERT_TRUE(store->create(pv).ok());
  ASSERT_TRUE(bindPod(*store, "default", "p", "", "n1").ok());
  auto pod = getObject(*store, "Pod", "p");
  (*pod.mutable_pod()->mutable_metadata()->mutable_annotations())["a"] = "b";
  ASSERT_TRUE(patchObject(*store, pod).ok());

  for (const auto& [kind, ns, name, selector, watch] :
       std::vector<std::tuple<host::Kind, std::string, std::string, std::string, host::Watch*>>{
           {host::Kind::kPod, "default", "p", "spec.nodeName=n1", pod_watch->get()},
           {host::Kind::kPersistentVolume, "", "v", "spec.storageClassName=local",
            pv_watch->get()}}) {
    const std::string kind_name(host::kindName(kind));
    auto raw = RawStore(*store).getRaw(kind_name, ns, name);
    ASSERT_TRUE(raw.ok()) << raw.status().message();
    auto converted = host::objectFromJson(kind, *raw);
    ASSERT_TRUE(converted.ok()) << converted.status().message();
    const auto got = getObject(*store, kind_name, name, ns);
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(got, *converted))
        << kind_name << ": got\n"
        << got.DebugString() << "raw converts to\n"
        << converted->DebugString();
    kbinder::v1::ListRequest list;
    list.set_kind(kind_name);
    list.set_field_selector(selector);
    auto listed = store->list(list);
    ASSERT_TRUE(listed.ok() && listed->items_size() == 1) << kind_name;
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(listed->items(0), *converted))
        << kind_name;
    kbinder::v1::Object last;
    while (true) {  // the watch's last event is the object's current version
      auto event = watch->next(std::chrono::milliseconds(100));
      ASSERT_TRUE(event.ok());
      if (!event->has_value()) break;
      last = (*event)->object;
    }
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(last, *converted)) << kind_name;
  }
}

// A patch converts only the fields that differ within metadata, spec or status, and carries
// them onto the raw object: what the schema does not model stays, identity is never taken
// from the request, and the kept message is always what the raw object converts to.
TEST(EmbeddedStoreTest, PatchesWithinAnObjectChangeOnlyWhatDiffers) {
  auto store = storeFrom(
      "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: default\n"
      "  labels: {app: web, tier: front}\n  unmodeledMeta: {kept: true}\n"
      "spec:\n  unmodeledSpec: 7\n  containers:\n  - {name: main, image: busybox:1, unmodeledC: "
      "x}\n"
      "  - {name: side, image: envoy:1}\n---\n");
  const auto raw = [&] {
    auto got = RawStore(*store).getRaw("Pod", "default", "p");
    EXPECT_TRUE(got.ok());
    return got.ok() ? *got : Json();
  };
  const auto agrees = [&](const std::string& step) {
    auto converted = host::objectFromJson(host::Kind::kPod, raw());
    ASSERT_TRUE(converted.ok()) << step;
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(getObject(*store, "Pod", "p"),
                                                                   *converted))
        << step << ": kept\n"
        << getObject(*store, "Pod", "p").DebugString() << "raw converts to\n"
        << converted->DebugString();
  };

  auto pod = getObject(*store, "Pod", "p");
  auto& meta = *pod.mutable_pod()->mutable_metadata();
  (*meta.mutable_labels())["app"] = "api";
  meta.mutable_labels()->erase("tier");
  (*meta.mutable_annotations())["note"] = "n";
  meta.set_uid("not-the-uid");  // identity: ignored
  ASSERT_TRUE(patchObject(*store, pod).ok());
  Json now = raw();
  EXPECT_EQ(now["metadata"]["labels"], Json::parse(R"({"app": "api"})"));
  EXPECT_EQ(now["metadata"]["annotations"], Json::parse(R"({"note": "n"})"));
  EXPECT_EQ(now["metadata"]["unmodeledMeta"], Json::parse(R"({"kept": true})"));
  EXPECT_NE(now["metadata"]["uid"], "not-the-uid");
  EXPECT_EQ(now["spec"]["unmodeledSpec"], 7);
  agrees("labels and annotations");

  pod = getObject(*store, "Pod", "p");
  pod.mutable_pod()->mutable_metadata()->clear_labels();
  pod.mutable_pod()->mutable_spec()->mutable_containers(1)->set_image("envoy:2");
  pod.mutable_pod()->mutable_spec()->set_scheduler_name("custom");
  ASSERT_TRUE(patchObject(*store, pod).ok());
  now = raw();
  EXPECT_FALSE(now["metadata"].contains("labels"));
  EXPECT_EQ(now["spec"]["schedulerName"], "custom");
  EXPECT_EQ(now["spec"]["containers"][1]["image"], "envoy:2");
  EXPECT_EQ(now["spec"]["containers"][0]["unmodeledC"], "x");  // an unchanged element keeps all
  EXPECT_EQ(now["spec"]["unmodeledSpec"], 7);
  agrees("labels removed, a container and a scalar in spec changed");

  // The same object again: nothing differs, nothing is written.
  const uint64_t before = store->resourceVersion();
  ASSERT_TRUE(patchObject(*store, getObject(*store, "Pod", "p")).ok());
  EXPECT_EQ(store->resourceVersion(), before);
}

// Label and annotation edits (what Mutate writes) apply to both forms alike, keep everything
// else, are guarded by the resourceVersion, and change nothing when they change nothing. Edits
// that only set keys merge into the kept encoding; the stored object is the same either way.
TEST(EmbeddedStoreTest, MetadataEditsApplyToBothFormsAndNothingElse) {
  auto store = storeFrom(Cluster{MakeNode("n1").cpu("4")} + Cluster::fromYaml(R"(apiVersion: v1
kind: Pod
metadata:
  name: p
  namespace: default
  labels: {app: web, tier: front}
  unmodeledMeta: 1
spec:
  containers: [{name: main, image: busybox}]
)"));
  using Edit = host::MetadataEdit;
  // Both forms agree, and the resourceVersion returned is the stored one.
  const auto agrees = [&](const std::string& returned) {
    auto raw = RawStore(*store).getRaw("Pod", "default", "p");
    ASSERT_TRUE(raw.ok());
    auto converted = host::objectFromJson(host::Kind::kPod, *raw);
    ASSERT_TRUE(converted.ok());
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(getObject(*store, "Pod", "p"),
                                                                   *converted));
    EXPECT_EQ(returned, converted->pod().metadata().resource_version());
    EXPECT_EQ(returned, std::to_string(store->resourceVersion()));
  };
  const std::string rv = getObject(*store, "Pod", "p").pod().metadata().resource_version();
  auto written = store->patchMetadata(host::Kind::kPod, "default", "p", rv,
                                      {{Edit::Map::kLabels, "app", "api"},
                                       {Edit::Map::kLabels, "tier", std::nullopt},
                                       {Edit::Map::kAnnotations, "note", "n"}});
  ASSERT_TRUE(written.ok()) << written.status().message();
  agrees(*written);
  Json raw = *RawStore(*store).getRaw("Pod", "default", "p");
  EXPECT_EQ(raw["metadata"]["labels"], Json::parse(R"({"app": "api"})"));
  EXPECT_EQ(raw["metadata"]["annotations"], Json::parse(R"({"note": "n"})"));
  EXPECT_EQ(raw["metadata"]["unmodeledMeta"], 1);
  EXPECT_EQ(raw["spec"]["containers"][0]["image"], "busybox");
  EXPECT_NE(*written, rv);

  // Sets alone (merged): a new key and a changed one, then the same again (no write).
  written =
      store->patchMetadata(host::Kind::kPod, "default", "p", *written,
                           {{Edit::Map::kLabels, "app", "web"}, {Edit::Map::kLabels, "new", "1"}});
  ASSERT_TRUE(written.ok()) << written.status().message();
  agrees(*written);
  const auto labels = getObject(*store, "Pod", "p").pod().metadata().labels();
  EXPECT_EQ(labels.size(), 2u);
  EXPECT_EQ(labels.at("app"), "web");
  EXPECT_EQ(labels.at("new"), "1");
  EXPECT_EQ(getObject(*store, "Pod", "p").pod().spec().containers(0).image(), "busybox");
  const uint64_t merged_at = store->resourceVersion();
  written = store->patchMetadata(host::Kind::kPod, "default", "p", *written,
                                 {{Edit::Map::kLabels, "new", "1"}});
  ASSERT_TRUE(written.ok());
  EXPECT_EQ(store->resourceVersion(), merged_at);
  EXPECT_EQ(*written, std::to_string(merged_at));
  // A stale version is refused on the merged path too.
  EXPECT_EQ(
      store->patchMetadata(host::Kind::kPod, "default", "p", rv, {{Edit::Map::kLabels, "x", "y"}})
          .status()
          .code(),
      StatusCode::kAborted);

  written = store->patchMetadata(
      host::Kind::kPod, "default", "p", "",
      {{Edit::Map::kLabels, "app", std::nullopt}, {Edit::Map::kLabels, "new", std::nullopt}});
  ASSERT_TRUE(written.ok());
  agrees(*written);
  EXPECT_FALSE((*RawStore(*store).getRaw("Pod", "default", "p"))["metadata"].contains("labels"));

  // Nothing to change: nothing written.
  const uint64_t before = store->resourceVersion();
  written = store->patchMetadata(
      host::Kind::kPod, "default", "p", "",
      {{Edit::Map::kAnnotations, "note", "n"}, {Edit::Map::kLabels, "gone", std::nullopt}});
  ASSERT_TRUE(written.ok());
  EXPECT_EQ(store->resourceVersion(), before);
  EXPECT_EQ(*written, std::to_string(before));

  const auto stale = store->patchMetadata(host::Kind::kPod, "default", "p", rv,
                                          {{Edit::Map::kLabels, "x", std::nullopt}});
  EXPECT_EQ(stale.status().code(), StatusCode::kAborted);
  EXPECT_NE(stale.status().message().find("the object has been modified"), std::string::npos);
  EXPECT_EQ(
      store
          ->patchMetadata(host::Kind::kPod, "default", "nope", "", {{Edit::Map::kLabels, "x", "y"}})
          .status()
          .code(),
      StatusCode::kNotFound);
  // A cluster-scoped kind ignores the namespace.
  written = store->patchMetadata(host::Kind::kNode, "default", "n1", "",
                                 {{Edit::Map::kLabels, "x", "y"}});
  ASSERT_TRUE(written.ok()) << written.status().message();
  EXPECT_EQ(getObject(*store, "Node", "n1", "").node().metadata().labels().at("x"), "y");
}

// A BindRequest's status write merges what it sets into the kept encoding and goes the whole
// way for a field it clears; either way both forms agree and the version returned is the one
// stored. Guarded, and no write when nothing changes.
TEST(EmbeddedStoreTest, BindRequestStatusWritesKeepBothFormsInStep) {
  auto store = storeFrom(Cluster{MakePod("p").cpu("1"), MakeRequest("r").pod("p").node("n1")});
  const auto read = [&] { return getObject(*store, "BindRequest", "r").bind_request(); };
  const auto agrees = [&](const std::string& returned) {
    auto raw = RawStore(*store).getRaw("BindRequest", "default", "r");
    ASSERT_TRUE(raw.ok());
    auto converted = host::objectFromJson(host::Kind::kBindRequest, *raw);
    ASSERT_TRUE(converted.ok());
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
        getObject(*store, "BindRequest", "r"), *converted));
    EXPECT_EQ(returned, std::to_string(store->resourceVersion()));
    EXPECT_EQ(returned, converted->bind_request().metadata().resource_version());
  };
  const std::string first_rv = read().metadata().resource_version();
  kbinder::v1::BindRequest request = read();
  request.mutable_status()->set_phase("Pending");
  request.mutable_status()->set_reason("assume: node n1 is full");
  request.mutable_status()->set_failed_attempts(1);
  auto written = store->writeBindRequestStatus(request);  // a first status: merged
  ASSERT_TRUE(written.ok()) << written.status().message();
  agrees(*written);
  EXPECT_EQ(read().status().reason(), "assume: node n1 is full");
  EXPECT_EQ((*RawStore(*store).getRaw("BindRequest", "default", "r"))["status"]["failedAttempts"],
            1);
  EXPECT_EQ(read().spec().pod_name(), "p");

  request = read();
  request.mutable_status()->set_phase("Succeeded");
  request.mutable_status()->clear_reason();  // a clear: written whole
  written = store->writeBindRequestStatus(request);
  ASSERT_TRUE(written.ok()) << written.status().message();
  agrees(*written);
  EXPECT_EQ(read().status().phase(), "Succeeded");
  EXPECT_EQ(read().status().reason(), "");
  EXPECT_EQ(read().status().failed_attempts(), 1);

  const uint64_t before = store->resourceVersion();
  written = store->writeBindRequestStatus(read());  // nothing changes: nothing written
  ASSERT_TRUE(written.ok());
  EXPECT_EQ(store->resourceVersion(), before);
  EXPECT_EQ(*written, std::to_string(before));

  request.mutable_metadata()->set_resource_version(first_rv);
  request.mutable_status()->set_phase("Failed");
  EXPECT_EQ(store->writeBindRequestStatus(request).status().code(), StatusCode::kAborted);
  request.mutable_metadata()->set_name("nope");
  request.mutable_metadata()->clear_resource_version();
  EXPECT_EQ(store->writeBindRequestStatus(request).status().code(), StatusCode::kNotFound);
}

// A waiting watch is woken by a change of its kind, and only such a change ends its wait.
TEST(EmbeddedStoreTest, AWaitingWatchWakesForItsOwnKind) {
  auto store = storeFrom(Cluster{MakePod("p").cpu("1"), MakeNode("n1").cpu("4")});
  auto pods = store->watch(host::Kind::kPod, std::to_string(store->resourceVersion()));
  auto raw_pods = RawStore(*store).watchRaw("Pod", "default", store->resourceVersion());
  ASSERT_TRUE(pods.ok() && raw_pods.ok());
  std::atomic<bool> node_written{false};
  std::thread writer([&] {
    auto node = getObject(*store, "Node", "n1", "");
    (*node.mutable_node()->mutable_metadata()->mutable_labels())["x"] = "y";
    EXPECT_TRUE(patchObject(*store, node).ok());  // another kind: wakes no pod watch
    node_written = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_TRUE(bindPod(*store, "default", "p", "", "n1").ok());
  });
  // Generous bounds: the waits end with the pod's change, long before they would time out.
  const auto start = std::chrono::steady_clock::now();
  auto event = (*pods)->next(std::chrono::seconds(30));
  ASSERT_TRUE(event.ok() && event->has_value());
  EXPECT_TRUE(node_written);
  EXPECT_EQ((*event)->object.pod().spec().node_name(), "n1");
  auto raw_event = (*raw_pods)->next(std::chrono::seconds(30));
  ASSERT_TRUE(raw_event.ok() && raw_event->has_value());
  EXPECT_EQ((*(*raw_event)->object)["spec"]["nodeName"], "n1");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  writer.join();
}

TEST(EmbeddedStoreTest, WatchDeliversChangesInOrder) {
  auto store =
      storeFrom(Cluster{MakePod("p").cpu("1"), MakePod("q").cpu("1"), MakeNode("n1").cpu("4")});
  auto watch = store->watch(host::Kind::kPod, std::to_string(store->resourceVersion()));
  ASSERT_TRUE(watch.ok());
  ASSERT_TRUE(bindPod(*store, "default", "q", "", "n1").ok());
  auto node = getObject(*store, "Node", "n1", "");
  (*node.mutable_node()->mutable_metadata()->mutable_labels())["x"] = "y";
  ASSERT_TRUE(patchObject(*store, node).ok());  // another kind: not in this watch
  ASSERT_TRUE(bindPod(*store, "default", "p", "", "n1").ok());
  ASSERT_TRUE(RawStore(*store).remove("Pod", "default", "q").ok());
  std::vector<std::string> seen;
  for (int i = 0; i < 3; ++i) {
    auto event = (*watch)->next(std::chrono::milliseconds(1000));
    ASSERT_TRUE(event.ok() && event->has_value());
    const auto& e = **event;
    seen.push_back(
        std::string(e.type == host::WatchEvent::Type::kDeleted ? "deleted " : "modified ") +
        e.object.pod().metadata().name() + " rv " + e.object.pod().metadata().resource_version());
  }
  EXPECT_EQ(seen,
            (std::vector<std::string>{"modified q rv 4", "modified p rv 6", "deleted q rv 7"}));
  auto none = (*watch)->next(std::chrono::milliseconds(10));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

// A watch of a kind kept encoded hands over the same changes left encoded, in the same
// order, as bytes that decode to what next() gives; other kinds' watches decode only.
TEST(EmbeddedStoreTest, AWatchOfAnEncodedKindHandsOverItsBytes) {
  auto store =
      storeFrom(Cluster{MakePod("p").cpu("1"), MakePod("q").cpu("1"), MakeNode("n1").cpu("4")});
  const std::string from = std::to_string(store->resourceVersion());
  auto decoded = store->watch(host::Kind::kPod, from);
  auto encoded = store->watch(host::Kind::kPod, from);
  auto volumes = store->watch(host::Kind::kPersistentVolume, from);
  ASSERT_TRUE(decoded.ok() && encoded.ok() && volumes.ok());
  EXPECT_TRUE((*encoded)->encoded());
  EXPECT_FALSE((*volumes)->encoded());
  EXPECT_EQ((*volumes)->nextEncoded(std::chrono::milliseconds(1)).status().code(),
            StatusCode::kUnimplemented);
  ASSERT_TRUE(bindPod(*store, "default", "q", "", "n1").ok());
  ASSERT_TRUE(bindPod(*store, "default", "p", "", "n1").ok());
  ASSERT_TRUE(RawStore(*store).remove("Pod", "default", "q").ok());
  for (int i = 0; i < 3; ++i) {
    auto want = (*decoded)->next(std::chrono::milliseconds(1000));
    auto got = (*encoded)->nextEncoded(std::chrono::milliseconds(1000));
    ASSERT_TRUE(want.ok() && want->has_value() && got.ok() && got->has_value()) << i;
    EXPECT_EQ((*got)->type, (*want)->type);
    ASSERT_NE((*got)->object, nullptr);
    kbinder::v1::Object object;
    ASSERT_TRUE(object.ParseFromString(*(*got)->object));
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(object, (*want)->object))
        << object.DebugString() << "vs\n"
        << (*want)->object.DebugString();
  }
  auto none = (*encoded)->nextEncoded(std::chrono::milliseconds(10));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST(EmbeddedStoreTest, WatchFromTrimmedHistoryIsGone) {
  const auto manifest = Cluster{MakePod("p").cpu("1")}.manifest();
  EmbeddedStore::Options options;
  options.watch_history = 2;
  auto store = std::move(EmbeddedStore::load(manifest, options)).value();
  const std::string start = std::to_string(store->resourceVersion());
  auto watch = store->watch(host::Kind::kPod, start);
  ASSERT_TRUE(watch.ok());
  for (int i = 0; i < 4; ++i) {
    auto pod = getObject(*store, "Pod", "p");
    (*pod.mutable_pod()->mutable_metadata()->mutable_labels())["i"] = std::to_string(i);
    ASSERT_TRUE(patchObject(*store, pod).ok());
  }
  auto event = (*watch)->next(std::chrono::milliseconds(10));
  ASSERT_FALSE(event.ok());
  EXPECT_NE(event.status().message().find("too old resource version"), std::string::npos);
}

// A watch takes what is logged in batches: however many events wait, each comes once, in order.
TEST(EmbeddedStoreTest, AWatchFarBehindGetsEveryEventInOrder) {
  const auto manifest = Cluster{MakePod("p").cpu("1")}.manifest();
  auto store = std::move(EmbeddedStore::load(manifest)).value();
  auto watch = store->watch(host::Kind::kPod, std::to_string(store->resourceVersion()));
  ASSERT_TRUE(watch.ok());
  constexpr int kWrites = 1000;  // several batches' worth
  std::vector<int> seen;
  const auto read = [&](int most) {
    for (int j = 0; j < most; ++j) {
      auto event = (*watch)->next(std::chrono::milliseconds(20));
      ASSERT_TRUE(event.ok()) << event.status().message();
      if (!event->has_value()) return;
      seen.push_back(std::stoi(event->value().object.pod().metadata().labels().at("i")));
    }
  };
  for (int i = 0; i < kWrites; ++i) {
    auto pod = getObject(*store, "Pod", "p");
    (*pod.mutable_pod()->mutable_metadata()->mutable_labels())["i"] = std::to_string(i);
    ASSERT_TRUE(patchObject(*store, pod).ok());
    if (i == 300) read(10);  // some read meanwhile
  }
  read(2 * kWrites);
  ASSERT_EQ(seen.size(), static_cast<size_t>(kWrites));
  for (int i = 0; i < kWrites; ++i) ASSERT_EQ(seen[i], i);
}

// Events an open watch has still to read are kept; once every open watch has read them, only
// the newest watch_history_idle stay (each may hold a superseded version alive).
TEST(EmbeddedStoreTest, HistoryIsKeptWhileAWatchHasYetToReadIt) {
  const auto manifest = Cluster{MakePod("p").cpu("1")}.manifest();
  EmbeddedStore::Options options;
  options.watch_history = 100;
  options.watch_history_idle = 2;
  auto store = std::move(EmbeddedStore::load(manifest, options)).value();
  const std::string start = std::to_string(store->resourceVersion());
  const auto write = [&](int i) {
    auto pod = getObject(*store, "Pod", "p");
    (*pod.mutable_pod()->mutable_metadata()->mutable_labels())["i"] = std::to_string(i);
    ASSERT_TRUE(patchObject(*store, pod).ok());
  };
  {
    auto slow = store->watch(host::Kind::kPod, start);
    ASSERT_TRUE(slow.ok());
    for (int i = 0; i < 5; ++i) write(i);
    EXPECT_TRUE(store->watch(host::Kind::kPod, start).ok()) << "trimmed before it was read";
    for (int i = 0; i < 5; ++i) {
      auto event = (*slow)->next(std::chrono::milliseconds(10));
      ASSERT_TRUE(event.ok() && event->has_value()) << i;
      EXPECT_EQ(event->value().object.pod().metadata().labels().at("i"), std::to_string(i));
    }
    write(5);  // every open watch has read the first five: all but the newest two go
    EXPECT_FALSE(store->watch(host::Kind::kPod, start).ok());
    const std::string recent = std::to_string(store->resourceVersion() - 1);
    EXPECT_TRUE(store->watch(host::Kind::kPod, recent).ok());
  }
  // No watch open: the same.
  const std::string before = std::to_string(store->resourceVersion());
  for (int i = 6; i < 10; ++i) write(i);
  EXPECT_FALSE(store->watch(host::Kind::kPod, before).ok());
}

TEST(EmbeddedStoreTest, LoadRejectsBadObjectsNamingThem) {
  auto manifest = host::parseManifest(
      "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ml}\nspec: {containers: 3}\n",
      "t");
  ASSERT_TRUE(manifest.ok());
  auto store = EmbeddedStore::load(*manifest);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().message(), "Pod ml/p: spec.containers: expected a list, found a number");

  auto store2 =
      EmbeddedStore::load(Cluster{MakePod("p").cpu("1"), MakePod("p").cpu("2")}.manifest());
  ASSERT_FALSE(store2.ok());
  EXPECT_NE(store2.status().message().find("appears twice"), std::string::npos);
}

// Loading converts objects on every core (a few hundred to a thread at a time), then stores
// them in the manifest's order: enough objects here for every core to take some.
TEST(EmbeddedStoreTest, ALoadOnEveryCoreKeepsTheManifestsOrder) {
  constexpr int kPods = 3000;
  auto manifestOf = [](int pods) {
    host::Manifest manifest;
    for (int i = 0; i < pods; ++i) {
      auto pod = MakePod("p" + std::to_string(i)).cpu(std::to_string(i % 7 + 1) + "m");
      if (i % 3 == 0) pod.node("n1");
      if (i % 5 == 0) pod.uid("given-" + std::to_string(i));
      manifest.objects.push_back(pod);
    }
    return manifest;
  };
  auto store = EmbeddedStore::load(manifestOf(kPods));
  ASSERT_TRUE(store.ok()) << store.status().message();
  auto versions = (*store)->versions("Pod");
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), static_cast<size_t>(kPods));
  for (int i = 0; i < kPods; ++i) {
    const Json& raw = *(*versions)[static_cast<size_t>(i)];
    const std::string name = "p" + std::to_string(i);
    ASSERT_EQ(raw["metadata"]["name"], name);  // snapshot order is the manifest's
    // The resourceVersion follows the manifest's order, and a uid made is the one a load of
    // one object after another makes (from the object's place).
    EXPECT_EQ(raw["metadata"]["resourceVersion"], std::to_string(i + 1)) << name;
    EXPECT_EQ(raw["metadata"]["uid"],
              i % 5 == 0 ? "given-" + std::to_string(i)
                         : host::uidFromSeed("Pod/default/" + name + "/" + std::to_string(i)))
        << name;
    const auto typed = getObject(**store, "Pod", name, "default");
    const auto expected = host::objectFromJson(host::Kind::kPod, raw);
    ASSERT_TRUE(expected.ok());
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(typed, *expected)) << name;
  }

  // The problem reported is the first in the manifest's order, whichever thread found it.
  auto bad = manifestOf(kPods);
  bad.objects[2000]["spec"]["containers"] = 3;
  bad.objects[2500] = bad.objects[10];
  auto refused = EmbeddedStore::load(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(),
            "Pod default/p2000: spec.containers: expected a list, found a number");
  bad.objects[1500] = bad.objects[10];
  refused = EmbeddedStore::load(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(),
            "Pod default/p10 appears twice; keep one copy of each object");
}

TEST(EmbeddedStoreTest, CreateWithGenerateNameAndAlreadyExists) {
  auto store = storeFrom(Cluster{MakePod("p").cpu("1")});
  kbinder::v1::Object event;
  event.mutable_event()->mutable_metadata()->set_namespace_("default");
  event.mutable_event()->mutable_metadata()->set_generate_name("p.");
  event.mutable_event()->set_note("hello");
  auto created = store->create(event);
  ASSERT_TRUE(created.ok()) << created.status().message();
  EXPECT_EQ(created->event().metadata().name().rfind("p.", 0), 0u);
  EXPECT_EQ(created->event().metadata().name().size(), 7u);
  kbinder::v1::Object pod;
  pod.mutable_pod()->mutable_metadata()->set_name("p");
  pod.mutable_pod()->mutable_metadata()->set_namespace_("default");
  EXPECT_EQ(store->create(pod).status().code(), StatusCode::kAlreadyExists);
}

TEST(EmbeddedStoreTest, SnapshotKeepsUnmodeledKindsAndFields) {
  auto store = storeFrom(Cluster::fromYaml(R"(apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: default}
data: {k: v}
)") + MakePod("p").cpu("1"));
  auto pod = getObject(*store, "Pod", "p");
  ASSERT_TRUE(bindPod(*store, "default", "p", pod.pod().metadata().uid(), "n1").ok());
  const auto snapshot = RawStore(*store).snapshot();
  ASSERT_TRUE(snapshot.ok());
  ASSERT_EQ(snapshot->objects.size(), 2u);
  EXPECT_EQ(snapshot->objects[0]["data"]["k"], "v");
  EXPECT_EQ(snapshot->objects[1]["spec"]["containers"][0]["image"], "busybox");
  EXPECT_EQ(snapshot->objects[1]["spec"]["nodeName"], "n1");
}

}  // namespace
}  // namespace kbinder::testing
