// SPDX-License-Identifier: Apache-2.0
// The Kubernetes API backend against the test API server: reads, paged lists, guarded patches
// that keep what the schema does not model, the Binding, watches that survive reconnects, and
// the whole controller binding the demo cluster over HTTPS.
#include "host/kube/kube_backend.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "api_server.h"
#include "cluster_support.h"
#include "host/cycle/controller.h"
#include "host/store/volume_controller.h"

namespace kbinder::testing {
namespace {

using host::Json;
using host::KubernetesBackend;
using host::StatusCode;

// A backend on `server`, with informer caches or without.
std::unique_ptr<KubernetesBackend> backendOn(TestApiServer& server, bool caches,
                                             size_t page_size = 500) {
  host::KubeConfig config;
  config.server = server.url();
  config.ca_pem = server.caPem();
  config.token = "test-token";
  auto client = host::KubeClient::create(config, {});
  EXPECT_TRUE(client.ok());
  KubernetesBackend::Options options;
  options.caches = caches;
  options.page_size = page_size;
  return std::make_unique<KubernetesBackend>(std::move(client).value(), options);
}

class KubeBackendTest : public ::testing::Test {
 protected:
  KubeBackendTest()
      : server_(storeFrom(Cluster{MakeNode("n1").cpu("4"), MakeNode("n2").cpu("4"),
                                  MakePod("p").cpu("1"), MakePod("q").cpu("1"),
                                  MakePod("r").cpu("1"), MakeRequest("br").pod("p").node("n1")})) {}

  std::unique_ptr<KubernetesBackend> backend(bool caches = false, size_t page_size = 500) {
    return backendOn(server_, caches, page_size);
  }
  kbinder::v1::Object get(KubernetesBackend& b, const std::string& kind, const std::string& name,
                          bool fresh = true) {
    kbinder::v1::GetRequest request;
    request.set_kind(kind);
    request.set_namespace_("default");
    request.set_name(name);
    request.set_fresh(fresh);
    auto got = b.get(request);
    EXPECT_TRUE(got.ok()) << got.status().message();
    return got.ok() ? *got : kbinder::v1::Object();
  }

  TestApiServer server_;
};

TEST_F(KubeBackendTest, ReadsAndPagedLists) {
  auto b = backend(false, 2);
  EXPECT_EQ(get(*b, "Node", "n1").node().status().allocatable().at("cpu"), "4");
  kbinder::v1::ListRequest list;
  list.set_kind("Pod");
  auto pods = b->list(list);
  ASSERT_TRUE(pods.ok()) << pods.status().message();
  EXPECT_EQ(pods->items_size(), 3);
  EXPECT_FALSE(pods->resource_version().empty());
  EXPECT_GE(server_.requestCounts().at("list"), 2);  // paged
  kbinder::v1::GetRequest missing;
  missing.set_kind("Pod");
  missing.set_namespace_("default");
  missing.set_name("nope");
  auto got = b->get(missing);
  EXPECT_EQ(got.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(got.status().message(), "pods \"nope\" not found");
}

// Field selectors are the host's: applied to what the API server (or the cache) returned,
// never sent (the API server's field selectors differ per kind).
TEST_F(KubeBackendTest, FieldSelectorsAreAppliedByTheHostCachedOrNot) {
  ASSERT_TRUE(bindPod(server_.store(), "default", "q", "", "n2").ok());
  for (bool caches : {false, true}) {
    auto b = backend(caches, 2);
    if (caches) {
      ASSERT_TRUE(b->startCaches(std::chrono::seconds(10)).ok());
    }
    kbinder::v1::ListRequest list;
    list.set_kind("Pod");
    list.set_field_selector("spec.nodeName=n2");
    auto pods = b->list(list);
    ASSERT_TRUE(pods.ok()) << pods.status().message();
    ASSERT_EQ(pods->items_size(), 1) << (caches ? "cached" : "uncached");
    EXPECT_EQ(pods->items(0).pod().metadata().name(), "q");
    list.set_field_selector("spec.nodeName!=n2,metadata.name!=p");
    pods = b->list(list);
    ASSERT_TRUE(pods.ok());
    ASSERT_EQ(pods->items_size(), 1);
    EXPECT_EQ(pods->items(0).pod().metadata().name(), "r");
    list.set_field_selector("spec.node=n2");
    EXPECT_EQ(b->list(list).status().code(), StatusCode::kInvalidArgument);
    b->stop();
  }
}

// Label and annotation edits travel as a merge patch of themselves: the server keeps
// everything else, and a stale resourceVersion is a conflict.
TEST_F(KubeBackendTest, MetadataEditsAreMergePatchesOfTheEditsAlone) {
  auto b = backend();
  using Edit = host::MetadataEdit;
  const std::string rv = get(*b, "Pod", "p").pod().metadata().resource_version();
  auto written = b->patchMetadata(
      host::Kind::kPod, "default", "p", rv,
      {{Edit::Map::kLabels, "app", "api"}, {Edit::Map::kAnnotations, "note", "n"}});
  ASSERT_TRUE(written.ok()) << written.status().message();
  auto raw = server_.raw().getRaw("Pod", "default", "p");
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(*written, (*raw)["metadata"]["resourceVersion"]);  // the answer's, as written
  EXPECT_NE(*written, rv);
  EXPECT_EQ((*raw)["metadata"]["labels"]["app"], "api");
  EXPECT_EQ((*raw)["metadata"]["annotations"]["note"], "n");
  EXPECT_EQ((*raw)["spec"]["containers"][0]["image"], "busybox");  // untouched
  written = b->patchMetadata(host::Kind::kPod, "default", "p", "",
                             {{Edit::Map::kLabels, "app", std::nullopt}});
  ASSERT_TRUE(written.ok()) << written.status().message();
  EXPECT_EQ(*written,
            server_.raw().getRaw("Pod", "default", "p")->at("metadata").at("resourceVersion"));
  EXPECT_EQ(server_.raw()
                .getRaw("Pod", "default", "p")
                ->at("metadata")
                .value("labels", Json::object())
                .count("app"),
            0u);
  const auto stale =
      b->patchMetadata(host::Kind::kPod, "default", "p", rv, {{Edit::Map::kLabels, "x", "y"}});
  EXPECT_EQ(stale.status().code(), StatusCode::kAborted) << stale.status().message();
  EXPECT_EQ(
      b->patchMetadata(host::Kind::kPod, "default", "nope", "", {{Edit::Map::kLabels, "x", "y"}})
          .status()
          .code(),
      StatusCode::kNotFound);
}

// admits_node is the host's too: the node read from the cache or the server, the volumes
// judged by its labels and name.
TEST(KubeBackendVolumesTest, VolumeListsKeepWhatTheNamedNodeAdmitsCachedOrNot) {
  TestApiServer server(storeFrom(volumesWithNodeAffinity()));
  for (bool caches : {false, true}) {
    auto backend = backendOn(server, caches);
    KubernetesBackend& b = *backend;
    if (caches) {
      ASSERT_TRUE(b.startCaches(std::chrono::seconds(10)).ok());
    }
    kbinder::v1::ListRequest list;
    list.set_kind("PersistentVolume");
    list.set_admits_node("n2");
    auto volumes = b.list(list);
    ASSERT_TRUE(volumes.ok()) << volumes.status().message();
    std::vector<std::string> names;
    for (const auto& item : volumes->items())
      names.push_back(item.persistent_volume().metadata().name());
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"anywhere", "on-n2"}))
        << (caches ? "cached" : "uncached");
    list.set_admits_node("n9");
    EXPECT_EQ(b.list(list).status().code(), StatusCode::kNotFound);
    b.stop();
  }
}

// The informer caches keep their indexes with their objects: a pod bound or deleted on the
// server moves in or out of the pods listed for its node.
TEST_F(KubeBackendTest, CachedListsFollowWatchedChangesOfIndexedFields) {
  auto b = backend(true, 2);
  ASSERT_TRUE(b->startCaches(std::chrono::seconds(10)).ok());
  const auto on = [&](const std::string& node) {
    kbinder::v1::ListRequest list;
    list.set_kind("Pod");
    list.set_field_selector("spec.nodeName=" + node);
    auto pods = b->list(list);
    EXPECT_TRUE(pods.ok()) << pods.status().message();
    std::vector<std::string> out;
    for (const auto& item : pods->items()) out.push_back(item.pod().metadata().name());
    return out;
  };
  // Watched changes arrive in their own time: wait for them, within a generous bound.
  const auto eventually = [&](const std::string& node, const std::vector<std::string>& expected) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (on(node) != expected && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(on(node), expected) << "pods on " << (node.empty() ? "no node" : node);
  };
  eventually("", {"p", "q", "r"});
  ASSERT_TRUE(bindPod(server_.store(), "default", "q", "", "n2").ok());
  ASSERT_TRUE(bindPod(server_.store(), "default", "r", "", "n2").ok());
  eventually("n2", {"q", "r"});
  eventually("", {"p"});
  ASSERT_TRUE(server_.raw().remove("Pod", "default", "q").ok());
  eventually("n2", {"r"});
  b->stop();
}

TEST_F(KubeBackendTest, PatchesAreGuardedMergePatchesThatKeepUnmodeledFields) {
  auto raw = server_.raw().getRaw("Pod", "default", "p");
  (*raw)["spec"]["containers"][0]["ports"] = Json::parse(R"([{"containerPort": 80}])");
  (*raw)["metadata"]["managedFields"] = Json::parse(R"([{"manager": "kubectl"}])");
  ASSERT_TRUE(server_.raw().put(*raw).ok());
  auto b = backend();
  auto pod = get(*b, "Pod", "p");
  kbinder::v1::PatchRequest patch;
  *patch.mutable_object() = pod;
  (*patch.mutable_object()->mutable_pod()->mutable_metadata()->mutable_labels())["team"] = "ml";
  patch.mutable_object()->mutable_pod()->mutable_spec()->mutable_containers(0)->set_image(
      "busybox:2");
  auto written = b->patch(patch);
  ASSERT_TRUE(written.ok()) << written.status().message();
  EXPECT_EQ(written->pod().metadata().labels().at("team"), "ml");
  const auto after = server_.raw().getRaw("Pod", "default", "p");
  EXPECT_EQ((*after)["spec"]["containers"][0]["ports"][0]["containerPort"], 80);
  EXPECT_EQ((*after)["spec"]["containers"][0]["image"], "busybox:2");
  EXPECT_EQ((*after)["metadata"]["managedFields"][0]["manager"], "kubectl");
  // The same patch again carries the old resourceVersion: a conflict, and nothing written.
  const auto writes = server_.requestCounts().at("patch");
  auto stale = b->patch(patch);
  EXPECT_EQ(stale.status().code(), StatusCode::kAborted);
  EXPECT_EQ(server_.requestCounts().at("patch"), writes);
}

TEST_F(KubeBackendTest, AConflictOnTheServerIsAConflict) {
  auto b = backend();
  auto pod = get(*b, "Pod", "p");
  ApiFaults faults;
  faults.conflict_share = 1.0;
  server_.setFaults(faults);
  kbinder::v1::PatchRequest patch;
  *patch.mutable_object() = pod;
  (*patch.mutable_object()->mutable_pod()->mutable_metadata()->mutable_labels())["x"] = "y";
  EXPECT_EQ(b->patch(patch).status().code(), StatusCode::kAborted);
}

TEST_F(KubeBackendTest, StatusGoesThroughTheStatusSubresource) {
  auto b = backend();
  auto request = get(*b, "BindRequest", "br");
  kbinder::v1::PatchRequest patch;
  *patch.mutable_object() = request;
  patch.mutable_object()->mutable_bind_request()->mutable_status()->set_phase("Succeeded");
  patch.set_subresource("status");
  ASSERT_TRUE(b->patch(patch).ok());
  EXPECT_EQ(
      host::rawString(*server_.raw().getRaw("BindRequest", "default", "br"), {"status", "phase"}),
      "Succeeded");
}

// The controller starts from the BindRequest its informer delivered: its status write is one
// PATCH, read nothing first, sets every modeled field (an emptied one removed), keeps what it
// does not model, and stays guarded by the resourceVersion it was given.
TEST_F(KubeBackendTest, ABindRequestStatusIsWrittenWithoutReadingItFirst) {
  auto raw = server_.raw().getRaw("BindRequest", "default", "br");
  (*raw)["status"] = Json::parse(R"({"phase": "Pending", "reason": "no room", "failedAttempts": 2,
                                     "observedBy": "someone"})");
  ASSERT_TRUE(server_.raw().put(*raw).ok());
  kbinder::v1::GetRequest read;
  read.set_kind("BindRequest");
  read.set_namespace_("default");
  read.set_name("br");
  auto request = server_.store().get(read);  // as an informer would have it: not through `b`
  ASSERT_TRUE(request.ok());
  auto b = backend();
  const auto counts = server_.requestCounts();
  kbinder::v1::PatchRequest patch;
  *patch.mutable_object() = *request;
  auto& status = *patch.mutable_object()->mutable_bind_request()->mutable_status();
  status.set_phase("Succeeded");
  status.clear_reason();
  patch.set_subresource("status");
  auto written = b->patch(patch);
  ASSERT_TRUE(written.ok()) << written.status().message();
  EXPECT_EQ(written->bind_request().status().phase(), "Succeeded");
  EXPECT_EQ(server_.requestCounts().at("patch"),
            counts.count("patch") ? counts.at("patch") + 1 : 1);
  EXPECT_EQ(server_.requestCounts().count("get") ? server_.requestCounts().at("get") : 0,
            counts.count("get") ? counts.at("get") : 0);
  const auto after = server_.raw().getRaw("BindRequest", "default", "br");
  EXPECT_EQ((*after)["status"],
            Json::parse(R"({"phase": "Succeeded", "failedAttempts": 2, "observedBy": "someone"})"));
  // Written on a version that is no longer current: a conflict, nothing written.
  status.set_phase("Failed");
  EXPECT_EQ(b->patch(patch).status().code(), StatusCode::kAborted);
  EXPECT_EQ(
      host::rawString(*server_.raw().getRaw("BindRequest", "default", "br"), {"status", "phase"}),
      "Succeeded");
}

TEST_F(KubeBackendTest, BindingAndItsConflicts) {
  auto b = backend();
  const std::string uid = get(*b, "Pod", "p").pod().metadata().uid();
  const auto wrong = bindPod(*b, "default", "p", "other", "n1");
  EXPECT_EQ(wrong.code(), StatusCode::kAborted);
  EXPECT_EQ(wrong.message(),
            "Operation cannot be fulfilled on pods/binding \"p\": Precondition "
            "failed: UID in precondition: other, UID in object meta: " +
                uid);
  ASSERT_TRUE(bindPod(*b, "default", "p", uid, "n1").ok());
  EXPECT_TRUE(bindPod(*b, "default", "p", uid, "n1").ok());  // already there: done
  EXPECT_EQ(bindPod(*b, "default", "p", uid, "n2").code(), StatusCode::kAborted);
  EXPECT_EQ(bindPod(*b, "default", "nope", "", "n1").code(), StatusCode::kNotFound);
}

// The Binding carries the pod's resourceVersion as a precondition and annotations the API
// server merges into the pod's as it binds it.
TEST_F(KubeBackendTest, TheBindingCarriesAResourceVersionAndAnnotations) {
  auto raw = server_.raw().getRaw("Pod", "default", "p");
  ASSERT_TRUE(raw.ok());
  (*raw)["metadata"]["annotations"] = Json::parse(R"({"kept": "1", "replaced": "old"})");
  ASSERT_TRUE(server_.raw().put(*raw).ok());
  auto b = backend();
  const auto pod = get(*b, "Pod", "p").pod();
  const std::string rv = pod.metadata().resource_version();
  host::PodBinding binding{"default", "p", pod.metadata().uid(), "n1", "1", {{"replaced", "new"}}};
  const auto stale = b->bindPod(binding);
  EXPECT_EQ(stale.code(), StatusCode::kAborted);
  EXPECT_EQ(stale.message(),
            "Operation cannot be fulfilled on pods/binding \"p\": Precondition "
            "failed: ResourceVersion in precondition: 1, ResourceVersion in "
            "object meta: " +
                rv);
  EXPECT_EQ(host::rawString(*server_.raw().getRaw("Pod", "default", "p"), {"spec", "nodeName"}),
            "");
  binding.resource_version = rv;
  binding.annotations["added"] = "yes";
  ASSERT_TRUE(b->bindPod(binding).ok());
  const auto bound = server_.raw().getRaw("Pod", "default", "p");
  ASSERT_TRUE(bound.ok());
  EXPECT_EQ(host::rawString(*bound, {"spec", "nodeName"}), "n1");
  EXPECT_EQ((*bound)["metadata"]["annotations"],
            Json::parse(R"({"kept": "1", "replaced": "new", "added": "yes"})"));
}

TEST_F(KubeBackendTest, CreatesEvents) {
  auto b = backend();
  kbinder::v1::Object event;
  event.mutable_event()->mutable_metadata()->set_namespace_("default");
  event.mutable_event()->mutable_metadata()->set_generate_name("p.");
  event.mutable_event()->set_reason("Bound");
  event.mutable_event()->set_type("Normal");
  auto created = b->create(event);
  ASSERT_TRUE(created.ok()) << created.status().message();
  EXPECT_EQ(created->event().metadata().name().rfind("p.", 0), 0u);
}

// The controller's status write: one patch of the status subresource, of whose answer only
// the resourceVersion is read; guarded by the version the request carries.
TEST_F(KubeBackendTest, TheStatusWriteReturnsTheVersionWritten) {
  kbinder::v1::GetRequest read;
  read.set_kind("BindRequest");
  read.set_namespace_("default");
  read.set_name("br");
  auto request = server_.store().get(read);
  ASSERT_TRUE(request.ok());
  auto b = backend();
  const auto counts = server_.requestCounts();
  const auto count = [&](const std::map<std::string, int>& of, const std::string& verb) {
    return of.count(verb) ? of.at(verb) : 0;
  };
  kbinder::v1::BindRequest next = request->bind_request();
  next.mutable_status()->set_phase("Succeeded");
  next.mutable_status()->set_failed_attempts(1);
  auto written = b->writeBindRequestStatus(next);
  ASSERT_TRUE(written.ok()) << written.status().message();
  const auto after = server_.raw().getRaw("BindRequest", "default", "br");
  EXPECT_EQ(*written, host::rawString(*after, {"metadata", "resourceVersion"}));
  EXPECT_NE(*written, request->bind_request().metadata().resource_version());
  EXPECT_EQ((*after)["status"], Json::parse(R"({"phase": "Succeeded", "failedAttempts": 1})"));
  EXPECT_EQ(count(server_.requestCounts(), "patch"), count(counts, "patch") + 1);
  EXPECT_EQ(count(server_.requestCounts(), "get"), count(counts, "get"));

  // The version read before is no longer current: a conflict, nothing written.
  next.mutable_status()->set_phase("Failed");
  EXPECT_EQ(b->writeBindRequestStatus(next).status().code(), StatusCode::kAborted);
  EXPECT_EQ(
      host::rawString(*server_.raw().getRaw("BindRequest", "default", "br"), {"status", "phase"}),
      "Succeeded");
  // On the version written it goes through.
  next.mutable_metadata()->set_resource_version(*written);
  ASSERT_TRUE(b->writeBindRequestStatus(next).ok());
  EXPECT_EQ(
      host::rawString(*server_.raw().getRaw("BindRequest", "default", "br"), {"status", "phase"}),
      "Failed");

  ApiFaults faults;
  faults.garbled_share = 1;
  server_.setFaults(faults);
  next.clear_metadata();
  next.mutable_metadata()->set_namespace_("default");
  next.mutable_metadata()->set_name("br");
  EXPECT_EQ(b->writeBindRequestStatus(next).status().message(),
            "the API server's answer is not JSON");
}

// An Event is created and not read back: an answer that is not JSON does not fail it, an
// error from the server does.
TEST_F(KubeBackendTest, RecordedEventsAreCreatedWithoutReadingTheAnswer) {
  auto b = backend();
  const auto events = [&] {
    auto listed = server_.raw().listRaw("Event", "default", "", 0, "");
    return listed.ok() ? listed->items.size() : size_t{0};
  };
  kbinder::v1::Object event;
  event.mutable_event()->mutable_metadata()->set_namespace_("default");
  event.mutable_event()->mutable_metadata()->set_generate_name("p.");
  event.mutable_event()->set_reason("Bound");
  ASSERT_TRUE(b->recordEvent(event).ok());
  EXPECT_EQ(events(), 1u);
  ApiFaults faults;
  faults.garbled_share = 1;
  server_.setFaults(faults);
  ASSERT_TRUE(b->recordEvent(event).ok());
  EXPECT_EQ(events(), 2u);
  server_.setFaults(ApiFaults{});
  server_.setForbidden({"events"});
  const host::Status failed = b->recordEvent(event);
  EXPECT_FALSE(failed.ok());
  EXPECT_NE(failed.message().find("events is forbidden"), std::string::npos) << failed.message();
  server_.setForbidden({});
  EXPECT_EQ(events(), 2u);
}

// Answers read straight from their text: one that is not JSON (a proxy's error page) is named
// as such, whatever the call, and nothing is taken from it.
TEST_F(KubeBackendTest, AnAnswerThatIsNotJsonIsNamed) {
  auto b = backend();
  const std::string rv = get(*b, "Pod", "p").pod().metadata().resource_version();
  ApiFaults faults;
  faults.garbled_share = 1;
  server_.setFaults(faults);
  kbinder::v1::GetRequest fresh;
  fresh.set_kind("Pod");
  fresh.set_namespace_("default");
  fresh.set_name("p");
  fresh.set_fresh(true);
  const auto read = b->get(fresh);
  EXPECT_EQ(read.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(read.status().message(), "the API server's answer is not JSON");
  const auto patched =
      b->patchMetadata(host::Kind::kPod, "default", "p", rv,
                       {{host::MetadataEdit::Map::kLabels, "a", std::string("1")}});
  EXPECT_EQ(patched.status().message(), "the API server's answer is not JSON");
  kbinder::v1::Object event;
  event.mutable_event()->mutable_metadata()->set_namespace_("default");
  event.mutable_event()->mutable_metadata()->set_generate_name("p.");
  EXPECT_EQ(b->create(event).status().message(), "the API server's answer is not JSON");
  server_.setFaults(ApiFaults{});
  const auto after = b->get(fresh);
  ASSERT_TRUE(after.ok()) << after.status().message();
  EXPECT_EQ(after->pod().metadata().labels().at("a"), "1");  // the patch was applied all the same
}

TEST_F(KubeBackendTest, WatchSurvivesDroppedConnectionsWithoutLossOrRepeats) {
  auto b = backend();
  auto watch = b->watch(host::Kind::kPod, std::to_string(server_.store().resourceVersion()));
  ASSERT_TRUE(watch.ok());
  std::vector<std::string> seen;
  auto label = [&](const std::string& pod, int i) {
    auto raw = server_.raw().getRaw("Pod", "default", pod);
    (*raw)["metadata"]["labels"]["i"] = std::to_string(i);
    ASSERT_TRUE(server_.raw().put(*raw).ok());
  };
  for (int i = 0; i < 30; ++i) {
    label(i % 2 ? "p" : "q", i);
    if (i % 7 == 3) server_.dropConnections();
  }
  while (seen.size() < 30) {
    auto event = (*watch)->next(std::chrono::seconds(10));
    ASSERT_TRUE(event.ok()) << event.status().message();
    ASSERT_TRUE(event->has_value()) << "only " << seen.size() << " events";
    seen.push_back((**event).object.pod().metadata().labels().at("i"));
  }
  for (int i = 0; i < 30; ++i) EXPECT_EQ(seen[static_cast<size_t>(i)], std::to_string(i));
  auto more = (*watch)->next(std::chrono::milliseconds(300));
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(more->has_value());
}

TEST_F(KubeBackendTest, WatchStreamsCutMidEventLoseNothing) {
  ApiFaults faults;
  faults.cut_watch_after = 3;
  server_.setFaults(faults);
  auto b = backend();
  auto watch = b->watch(host::Kind::kPod, std::to_string(server_.store().resourceVersion()));
  ASSERT_TRUE(watch.ok());
  for (int i = 0; i < 10; ++i) {
    auto raw = server_.raw().getRaw("Pod", "default", "r");
    (*raw)["metadata"]["labels"]["i"] = std::to_string(i);
    ASSERT_TRUE(server_.raw().put(*raw).ok());
  }
  std::vector<std::string> seen;
  while (seen.size() < 10) {
    auto event = (*watch)->next(std::chrono::seconds(10));
    ASSERT_TRUE(event.ok() && event->has_value()) << seen.size();
    seen.push_back((**event).object.pod().metadata().labels().at("i"));
  }
  for (int i = 0; i < 10; ++i) EXPECT_EQ(seen[static_cast<size_t>(i)], std::to_string(i));
}

// A watch from a resourceVersion the server compacted away ends with ABORTED (list again).
void expectWatchGone(KubernetesBackend& b, TestApiServer& server) {
  const std::string old = std::to_string(server.store().resourceVersion());
  ASSERT_TRUE(bindPod(server.store(), "default", "q", "", "n1").ok());
  server.compact();
  auto watch = b.watch(host::Kind::kPod, old);
  ASSERT_TRUE(watch.ok());
  auto event = (*watch)->next(std::chrono::seconds(10));
  ASSERT_FALSE(event.ok());
  EXPECT_EQ(event.status().code(), StatusCode::kAborted);
  EXPECT_NE(event.status().message().find("too old resource version"), std::string::npos);
}

TEST_F(KubeBackendTest, WatchFromACompactedVersionIsGone) {
  expectWatchGone(*backend(), server_);
}

TEST_F(KubeBackendTest, WatchAnsweredWithHttp410IsGoneToo) {
  ApiFaults faults;
  faults.gone_as_http_410 = true;
  server_.setFaults(faults);
  expectWatchGone(*backend(), server_);
}

TEST_F(KubeBackendTest, CachedReadsFollowTheCluster) {
  auto b = backend(/*caches=*/true);
  ASSERT_TRUE(b->startCaches(std::chrono::seconds(10)).ok());
  const auto gets = server_.requestCounts().count("get") ? server_.requestCounts().at("get") : 0;
  EXPECT_EQ(get(*b, "Pod", "p", /*fresh=*/false).pod().metadata().name(), "p");
  EXPECT_EQ(server_.requestCounts().count("get") ? server_.requestCounts().at("get") : 0, gets);
  ASSERT_TRUE(bindPod(server_.store(), "default", "p", "", "n2").ok());
  bool seen = false;
  for (int i = 0; i < 200 && !seen; ++i) {
    seen = get(*b, "Pod", "p", false).pod().spec().node_name() == "n2";
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(seen);
  b->stop();
}

// Subscribers to a cached kind are handed what its cache follows: the objects there are, then
// every change, in order, with no second list or watch of the API server. A watch of a cached
// kind is the API server's own.
TEST_F(KubeBackendTest, SubscribersOfCachedKindsAreServedFromTheCache) {
  auto b = backend(/*caches=*/true);
  ASSERT_TRUE(b->startCaches(std::chrono::seconds(10)).ok());
  const auto count = [&](const std::string& verb) {
    const auto counts = server_.requestCounts();
    return counts.count(verb) ? counts.at(verb) : 0;
  };
  // The caches' own watches (one per cached kind) open right after their lists.
  for (int i = 0; i < 100 && count("watch") < 6; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(count("watch"), 6);
  const auto lists = count("list");
  std::mutex mutex;
  std::vector<std::string> seen;  // "<type> <pod> <node>"
  const auto handler = [&](const host::WatchEvent& e) {
    const char* type = e.type == host::WatchEvent::Type::kAdded      ? "ADDED"
                       : e.type == host::WatchEvent::Type::kModified ? "MODIFIED"
                                                                     : "DELETED";
    std::lock_guard lock(mutex);
    seen.push_back(std::string(type) + " " + e.object.pod().metadata().name() + " " +
                   e.object.pod().spec().node_name());
  };
  auto all = b->subscribe(host::Kind::kPod, "", handler);
  ASSERT_TRUE(all.ok()) << all.status().message();
  ASSERT_TRUE((*all)->waitForSync().ok());
  {
    std::lock_guard lock(mutex);
    EXPECT_EQ(seen, (std::vector<std::string>{"ADDED p ", "ADDED q ", "ADDED r "}));
    seen.clear();
  }
  ASSERT_TRUE(bindPod(server_.store(), "default", "p", "", "n1").ok());
  ASSERT_TRUE(server_.raw().remove("Pod", "default", "q").ok());
  for (int i = 0; i < 200; ++i) {
    {
      std::lock_guard lock(mutex);
      if (seen.size() >= 2) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  {
    std::lock_guard lock(mutex);
    EXPECT_EQ(seen, (std::vector<std::string>{"MODIFIED p n1", "DELETED q "}));
  }
  EXPECT_EQ(count("list"), lists) << "no list of the API server for a subscriber";
  EXPECT_EQ(count("watch"), 6) << "no watch of the API server for a subscriber";
  // A stopped subscription is handed nothing more.
  (*all)->stop();
  ASSERT_TRUE(bindPod(server_.store(), "default", "r", "", "n2").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  {
    std::lock_guard lock(mutex);
    EXPECT_EQ(seen.size(), 2u);
  }
  // A watch of a cached kind: the API server's own.
  auto watch = b->watch(host::Kind::kPod, "1");
  ASSERT_TRUE(watch.ok());
  for (int i = 0; i < 50 && count("watch") == 6; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(count("watch"), 7);
  b->stop();
}

// A kind with no cache (BindRequests), or a namespace the cache does not hold, is followed by
// an informer of the subscription's own.
TEST_F(KubeBackendTest, SubscribersOfOtherKindsListAndWatchThemselves) {
  auto b = backend(/*caches=*/true);
  ASSERT_TRUE(b->startCaches(std::chrono::seconds(10)).ok());
  const auto lists = server_.requestCounts().at("list");
  std::atomic<int> added{0};
  auto requests = b->subscribe(host::Kind::kBindRequest, "default", [&](const host::WatchEvent& e) {
    if (e.type == host::WatchEvent::Type::kAdded) ++added;
  });
  ASSERT_TRUE(requests.ok());
  ASSERT_TRUE((*requests)->waitForSync().ok());
  EXPECT_GE(added.load(), 1);
  EXPECT_EQ(server_.requestCounts().at("list"), lists + 1);
  b->stop();
}

TEST(KubeBackendDemoTest, TheControllerBindsTheDemoClusterOverHttps) {
  std::ifstream in(std::string(KBINDER_SOURCE_DIR) + "/config/examples/demo-cluster.yaml");
  std::stringstream text;
  text << in.rdbuf();
  TestApiServer server(storeFrom(text.str()));
  host::VolumeController volumes(server.store());  // the cluster's own controller
  volumes.start();
  host::KubeConfig config;
  config.server = server.url();
  config.ca_pem = server.caPem();
  config.token = "test-token";
  auto client = host::KubeClient::create(config, {});
  ASSERT_TRUE(client.ok());
  KubernetesBackend backend(std::move(client).value(), {});
  ASSERT_TRUE(backend.startCaches(std::chrono::seconds(10)).ok());
  auto profile =
      host::parseProfile(std::string(KBINDER_SOURCE_DIR) + "/config/profiles/default.toml");
  ASSERT_TRUE(profile.ok());
  host::ProfileLoadOptions options;
  options.builtin_plugin_dir = KBINDER_BUILTIN_PLUGIN_DIR;
  auto loaded = LoadedProfile::load(std::move(profile).value(), options);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  host::Controller controller(**loaded, backend, host::ControllerOptions{});
  ASSERT_TRUE(controller.start().ok());
  controller.waitUntilSettled({});
  controller.stop();
  volumes.stop();
  backend.stop();
  int succeeded = 0, failed = 0;
  const auto snapshot = server.raw().snapshot();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().message();
  for (const auto& o : snapshot->objects) {
    if (o.value("kind", "") != "BindRequest") continue;
    const std::string phase = host::rawString(o, {"status", "phase"});
    succeeded += phase == "Succeeded";
    failed += phase == "Failed";
  }
  EXPECT_EQ(succeeded, 7);
  EXPECT_EQ(failed, 29);
  EXPECT_EQ(host::rawString(*server.raw().getRaw("PersistentVolumeClaim", "ml", "db-data"),
                            {"spec", "volumeName"}),
            "local-cpu-1-a");
  EXPECT_EQ(host::rawString(*server.raw().getRaw("Pod", "ml", "frac"),
                            {"metadata", "labels", "runai-gpu-group"}),
            "3f8c2d1e-frac");
}

}  // namespace
}  // namespace kbinder::testing
