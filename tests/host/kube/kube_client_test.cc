// SPDX-License-Identifier: Apache-2.0
// HTTPS to the API server: TLS and authentication choices, retries, streams, rate limits.
#include "host/kube/kube_client.h"

#include <gtest/gtest.h>

#include "api_server.h"
#include "cluster_support.h"

namespace kbinder::testing {
namespace {

using host::KubeClient;
using host::KubeClientOptions;
using host::KubeConfig;

class KubeClientTest : public ::testing::Test {
 protected:
  KubeClientTest()
      : server_(storeFrom(
            Cluster{MakeNode("n1").cpu("4"), MakePod("p").cpu("1"), MakePod("q").cpu("1")})) {}

  KubeConfig config(const std::string& token = "test-token") {
    KubeConfig c;
    c.source = "test";
    c.server = server_.url();
    c.ca_pem = server_.caPem();
    c.token = token;
    return c;
  }
  std::unique_ptr<KubeClient> client(KubeConfig c, KubeClientOptions options = {}) {
    auto made = KubeClient::create(std::move(c), options);
    EXPECT_TRUE(made.ok());
    return std::move(made).value();
  }

  TestApiServer server_;
  TempDir dir_;
};

TEST_F(KubeClientTest, ReadsWithTheCaAndAToken) {
  auto c = client(config());
  const auto r = c->request("GET", "/api/v1/namespaces/default/pods");
  ASSERT_EQ(r.status, 200) << r.error << r.body;
  const auto body = host::Json::parse(r.body);
  EXPECT_EQ(body["items"].size(), 2u);
  EXPECT_EQ(c->requestCounts().at("GET 200"), 1);
}

TEST_F(KubeClientTest, RefusesAServerItCannotVerifyUnlessToldToSkip) {
  TestCa other;
  auto wrong = config();
  wrong.ca_pem = other.certificatePem();
  const auto r = client(wrong)->request("GET", "/api/v1/nodes");
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.error.empty());
  EXPECT_EQ(host::statusOf(r, "listing nodes").code(), host::StatusCode::kUnavailable);
  wrong.insecure_skip_tls_verify = true;
  EXPECT_EQ(client(wrong)->request("GET", "/api/v1/nodes").status, 200);
}

TEST_F(KubeClientTest, ClientCertificatesAuthenticate) {
  auto c = config("");
  const Pem pem = server_.ca().clientCertificate("kbinder", "system:masters");
  c.client_cert_pem = pem.certificate;
  c.client_key_pem = pem.key;
  EXPECT_EQ(client(c)->request("GET", "/api/v1/nodes").status, 200);
  EXPECT_EQ(client(config(""))->request("GET", "/api/v1/nodes").status, 401);
}

TEST_F(KubeClientTest, A401RereadsTheTokenFileOnce) {
  auto c = config("");
  c.token_file = writeFile(dir_.path() / "token", "old-token\n");
  auto kube = client(c);
  server_.setTokens({"new-token"});
  writeFile(dir_.path() / "token", "new-token\n");  // rotated after the client read it
  EXPECT_EQ(kube->request("GET", "/api/v1/nodes").status, 200);
  EXPECT_EQ(kube->requestCounts().at("GET 401"), 1);
  server_.setTokens({"another"});
  const auto r = kube->request("GET", "/api/v1/nodes");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(host::statusOf(r, "listing nodes").message(), "listing nodes: Unauthorized");
}

TEST_F(KubeClientTest, ARotatedTokenFileIsReadAgainWithoutWaitingForA401) {
  auto c = config("");
  c.token_file = writeFile(dir_.path() / "token", "old-token\n");
  KubeClientOptions options;
  options.token_reread = std::chrono::milliseconds(50);
  server_.setTokens({"old-token", "new-token"});
  auto kube = client(c, options);
  ASSERT_EQ(kube->request("GET", "/api/v1/nodes").status, 200);
  writeFile(dir_.path() / "token", "new-token\n");  // the kubelet rotates the projected token
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server_.setTokens({"new-token"});
  EXPECT_EQ(kube->request("GET", "/api/v1/nodes").status, 200);
  EXPECT_EQ(kube->requestCounts().count("GET 401"), 0u);
}

TEST_F(KubeClientTest, ThrottledAndFailedAnswersAreRetriedABoundedNumberOfTimes) {
  KubeClientOptions options;
  options.max_retries = 2;
  auto kube = client(config(), options);
  ApiFaults faults;
  faults.error_share = 1.0;
  server_.setFaults(faults);
  EXPECT_EQ(kube->request("GET", "/api/v1/nodes").status, 500);
  EXPECT_EQ(kube->requestCounts().at("GET 500"), 3);  // one try and two retries
  faults = {};
  faults.throttle_share = 1.0;
  server_.setFaults(faults);
  const auto started = std::chrono::steady_clock::now();
  const auto r = kube->request("GET", "/api/v1/nodes");
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.headers.at("retry-after"), "1");
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));  // waited twice
  faults = {};
  faults.conflict_share = 1.0;  // a conflict is the caller's to handle: no retry
  server_.setFaults(faults);
  const auto conflict = kube->request("PATCH", "/api/v1/namespaces/default/pods/p", "{}",
                                      "application/merge-patch+json");
  EXPECT_EQ(conflict.status, 409);
  EXPECT_EQ(kube->requestCounts().at("PATCH 409"), 1);
  EXPECT_EQ(host::statusOf(conflict, "patching pod p").code(), host::StatusCode::kAborted);
}

TEST_F(KubeClientTest, StreamsAWatchUntilTheCallerStops) {
  auto kube = client(config());
  std::string seen;
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ASSERT_TRUE(bindPod(server_.store(), "default", "p", "", "n1").ok());
  });
  const auto r = kube->stream(
      "/api/v1/namespaces/default/pods?watch=true&resourceVersion=" +
          std::to_string(server_.store().resourceVersion()),
      [&](std::string_view data) {
        seen.append(data);
        return seen.find("MODIFIED") == std::string::npos;
      },
      std::chrono::seconds(20));
  writer.join();
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(seen.find("\"nodeName\":\"n1\""), std::string::npos) << seen;
}

TEST_F(KubeClientTest, RateLimitSpacesRequests) {
  KubeClientOptions options;
  options.qps = 20;
  options.burst = 1;
  auto kube = client(config(), options);
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 6; ++i) ASSERT_EQ(kube->request("GET", "/api/v1/nodes").status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(240));
}

TEST_F(KubeClientTest, StatusBodiesGiveTheMessage) {
  auto kube = client(config());
  const auto r = kube->request("GET", "/api/v1/namespaces/default/pods/nope");
  EXPECT_EQ(r.status, 404);
  const auto s = host::statusOf(r, "reading pod nope");
  EXPECT_EQ(s.code(), host::StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "reading pod nope: pods \"nope\" not found");
}

}  // namespace
}  // namespace kbinder::testing
