// SPDX-License-Identifier: Apache-2.0
// The test API server: the Kubernetes API server behaviour kbinder relies on, over HTTPS, for
// the resources the binder uses, backed by the embedded store (which already has the API
// server's semantics for resourceVersions, conflicts, Binding and watches).
//
// Serves: discovery (/api, /apis, /version, resource lists), OpenAPI v2 (JSON and protobuf)
// and v3 (openapi.h); get, list (paging with limit/continue, label selectors), watch
// (bookmarks, an in-stream 410 ERROR after compaction), create (generateName), merge patch and
// update (resourceVersion preconditions, status subresources), delete (finalizers and
// deletionTimestamp), pods/binding; bearer-token authentication (401) and client certificates,
// forbidden resources (403); Status bodies with the API server's reasons and messages. Faults can
// be injected at run time.
//
// Thread-safety: all methods may be called from any thread while it serves.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>

#include "host/store/embedded_store.h"
#include "raw_store.h"
#include "tls.h"

namespace kbinder::testing {

struct ApiFaults {
  std::chrono::milliseconds latency{0};  // added to every request
  double conflict_share = 0;             // writes answered 409 Conflict without being applied
  double throttle_share = 0;             // requests answered 429 with Retry-After: 1
  double error_share = 0;                // requests answered 500
  double drop_share = 0;                 // connections dropped before answering
  int cut_watch_after = 0;        // > 0: watch streams cut in the middle of this many-th event
  bool gone_as_http_410 = false;  // a watch from a compacted version: HTTP 410, not an ERROR event
  double garbled_share = 0;  // answers that would succeed given as HTML instead (a broken proxy)
  // Faults hit only clients whose User-Agent starts with this (kbinder's is "kbinder"), so a
  // test can inspect the cluster with kubectl while kbinder meets the faults. Empty: everyone.
  std::string user_agent_prefix = "kbinder";
};

class TestApiServer {
 public:
  struct Options {
    std::set<std::string> tokens = {"test-token"};  // accepted bearer tokens
    std::set<std::string> forbidden;                // resources (plural) every user is denied
    std::chrono::milliseconds bookmark_interval{1000};
  };

  TestApiServer(std::unique_ptr<host::EmbeddedStore> store, Options options);
  explicit TestApiServer(std::unique_ptr<host::EmbeddedStore> store)
      : TestApiServer(std::move(store), Options{}) {}
  ~TestApiServer();

  std::string url() const { return server_->url(); }
  const std::string& caPem() const { return ca_.certificatePem(); }
  const TestCa& ca() const { return ca_; }
  host::EmbeddedStore& store() { return *store_; }
  // The same store, as JSON objects of any kind: what the server serves.
  RawStore& raw() { return raw_; }

  // A kubeconfig for this server (CA data, the first token) written into `dir`; its path.
  std::filesystem::path writeKubeconfig(const std::filesystem::path& dir,
                                        const std::string& token = "") const;

  void setFaults(const ApiFaults& faults);
  void setTokens(std::set<std::string> tokens);
  void setForbidden(std::set<std::string> resources);
  // Forgets the watch history up to now: watches from older resourceVersions get 410.
  void compact();
  void dropConnections() { server_->dropConnections(); }
  // How many requests were answered, by verb ("get", "list", "watch", "patch", ...).
  std::map<std::string, int> requestCounts() const;
  void stop() { server_->stop(); }

 private:
  void handle(const HttpRequest& request, HttpResponder& responder);

  TestCa ca_;
  std::unique_ptr<host::EmbeddedStore> store_;
  RawStore raw_{*store_};
  Options options_;
  mutable std::mutex mutex_;
  ApiFaults faults_;
  std::mt19937_64 random_{12345};
  std::map<std::string, int> counts_;
  std::unique_ptr<HttpsServer> server_;  // last: stops before the rest goes
};

}  // namespace kbinder::testing
