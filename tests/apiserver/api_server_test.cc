// SPDX-License-Identifier: Apache-2.0
// The test API server's behaviour, as a client sees it over HTTPS.
#include "api_server.h"

#include <gtest/gtest.h>

#include "cluster_support.h"
#include "host/kube/kube_client.h"

namespace kbinder::testing {
namespace {

using host::Json;

class ApiServerTest : public ::testing::Test {
 protected:
  ApiServerTest() : server_(storeFrom(Cluster{MakeNode("n1").cpu("4"), MakePod("p").cpu("1")})) {
    host::KubeConfig config;
    config.server = server_.url();
    config.ca_pem = server_.caPem();
    config.token = "test-token";
    host::KubeClientOptions options;
    options.max_retries = 0;
    client_ = std::move(host::KubeClient::create(config, options)).value();
  }
  host::HttpResult call(const std::string& method, const std::string& path,
                        const Json& body = nullptr, const std::string& type = "application/json") {
    return client_->request(method, path, body.is_null() ? "" : body.dump(), type);
  }
  static Json json(const host::HttpResult& r) { return Json::parse(r.body); }

  TestApiServer server_;
  std::unique_ptr<host::KubeClient> client_;
};

TEST_F(ApiServerTest, FinalizersHoldADeletedObjectUntilRemoved) {
  const auto created = call("POST", "/api/v1/namespaces/default/configmaps",
                            {{"metadata", {{"name", "c"}, {"finalizers", {"example.com/keep"}}}},
                             {"data", {{"k", "v"}}}});
  ASSERT_EQ(created.status, 201) << created.body;
  const auto deleted = call("DELETE", "/api/v1/namespaces/default/configmaps/c");
  ASSERT_EQ(deleted.status, 200);
  EXPECT_FALSE(host::rawString(json(deleted), {"metadata", "deletionTimestamp"}).empty());
  EXPECT_EQ(call("GET", "/api/v1/namespaces/default/configmaps/c").status, 200);  // still there
  const auto patched =
      call("PATCH", "/api/v1/namespaces/default/configmaps/c",
           {{"metadata", {{"finalizers", nullptr}}}}, "application/merge-patch+json");
  EXPECT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(call("GET", "/api/v1/namespaces/default/configmaps/c").status, 404);  // now gone
}

// What kubectl reads before it writes; the protobuf form is covered by openapi_test.cc and,
// with kubectl 1.20, by apiserver.kubectl_fidelity.
TEST_F(ApiServerTest, ServesTheOpenApiDocuments) {
  const auto v2 = call("GET", "/openapi/v2");
  ASSERT_EQ(v2.status, 200) << v2.body;
  EXPECT_EQ(json(v2)["swagger"], "2.0");
  EXPECT_TRUE(json(v2)["definitions"].contains("io.kbinder.test.core.v1.Binding"));
  const auto v3 = call("GET", "/openapi/v3/apis/scheduling.run.ai/v1alpha2");
  ASSERT_EQ(v3.status, 200) << v3.body;
  EXPECT_TRUE(json(v3)["components"]["schemas"].contains(
      "io.kbinder.test.scheduling.run.ai.v1alpha2.BindRequest"));
  EXPECT_EQ(call("GET", "/openapi/v3/apis/apps/v1").status, 404);
}

TEST_F(ApiServerTest, UpdatesAndPatchesHonourResourceVersions) {
  const Json pod = json(call("GET", "/api/v1/namespaces/default/pods/p"));
  Json changed = pod;
  changed["metadata"]["labels"]["a"] = "1";
  ASSERT_EQ(call("PUT", "/api/v1/namespaces/default/pods/p", changed).status, 200);
  const auto stale = call("PUT", "/api/v1/namespaces/default/pods/p", changed);  // old rv
  EXPECT_EQ(stale.status, 409);
  EXPECT_EQ(json(stale)["reason"], "Conflict");
  EXPECT_EQ(json(stale)["message"],
            "Operation cannot be fulfilled on pods \"p\": the object has been modified; please "
            "apply your changes to the latest version and try again");
  const auto patch = call("PATCH", "/api/v1/namespaces/default/pods/p",
                          {{"metadata", {{"resourceVersion", "1"}, {"labels", {{"b", "2"}}}}}},
                          "application/merge-patch+json");
  EXPECT_EQ(patch.status, 409);
  EXPECT_EQ(
      call("PATCH", "/api/v1/namespaces/default/pods/p", {{"metadata", {{"labels", {{"b", "2"}}}}}},
           "application/strategic-merge-patch+json")
          .status,
      415);
}

// A Binding's annotations must be strings, as the API server decodes them; a refused Binding
// binds nothing.
TEST_F(ApiServerTest, ABindingWithAnnotationsThatAreNotStringsIsRefused) {
  for (const Json& annotations : {Json::parse(R"(["a"])"), Json::parse(R"({"a": 1})")}) {
    const auto refused = call("POST", "/api/v1/namespaces/default/pods/p/binding",
                              {{"metadata", {{"name", "p"}, {"annotations", annotations}}},
                               {"target", {{"name", "n1"}}}});
    EXPECT_EQ(refused.status, 400) << annotations.dump();
    EXPECT_NE(json(refused)["message"].get<std::string>().find("Binding.metadata.annotations"),
              std::string::npos);
  }
  const Json pod = json(call("GET", "/api/v1/namespaces/default/pods/p"));
  EXPECT_EQ(host::rawString(pod, {"spec", "nodeName"}), "");
}

TEST_F(ApiServerTest, NamesAreGeneratedAndTaken) {
  const auto a = call("POST", "/apis/events.k8s.io/v1/namespaces/default/events",
                      {{"metadata", {{"generateName", "p."}}}, {"reason", "Bound"}});
  ASSERT_EQ(a.status, 201);
  EXPECT_EQ(host::rawString(json(a), {"metadata", "name"}).rfind("p.", 0), 0u);
  const auto taken =
      call("POST", "/api/v1/namespaces/default/pods",
           {{"metadata", {{"name", "p"}}}, {"spec", {{"containers", Json::array()}}}});
  EXPECT_EQ(taken.status, 409);
  EXPECT_EQ(json(taken)["reason"], "AlreadyExists");
  EXPECT_EQ(json(taken)["message"], "pods \"p\" already exists");
}

TEST_F(ApiServerTest, WatchesSendBookmarks) {
  std::string seen;
  client_->stream(
      "/api/v1/namespaces/default/pods?watch=true&allowWatchBookmarks=true&resourceVersion=" +
          std::to_string(server_.store().resourceVersion()),
      [&](std::string_view data) {
        seen.append(data);
        return seen.find("BOOKMARK") == std::string::npos;
      },
      std::chrono::seconds(10));
  EXPECT_NE(seen.find("\"type\":\"BOOKMARK\""), std::string::npos) << seen;
}

TEST_F(ApiServerTest, ForbiddenResourcesGetTheApiServersMessage) {
  server_.setForbidden({"nodes"});
  const auto r = call("GET", "/api/v1/nodes");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(json(r)["message"],
            "nodes is forbidden: User \"system:serviceaccount:kbinder-system:kbinder\" "
            "cannot list resource \"nodes\" in API group \"\" at the cluster scope");
}

}  // namespace
}  // namespace kbinder::testing
