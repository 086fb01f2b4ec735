// SPDX-License-Identifier: Apache-2.0
// HTTPS to the Kubernetes API server (libcurl): authentication from a KubeConfig, client-side
// rate limits, a bounded number of requests in flight, timeouts, and retries where the API
// server asks for them.
//
// - 429 and 5xx answers are retried up to `max_retries` times, waiting Retry-After when the
//   server gives it (else a doubling delay), and so are broken connections (kbinder's writes
//   are guarded by resourceVersions, so a repeat is safe). TLS verification failures are not.
// - A 401 re-reads the token file once and tries again before it is reported.
// - A token file is re-read every `token_reread` (service-account tokens rotate).
//
// Thread-safety: request() and stream() may be called from many threads at once.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "host/base/status.h"
#include "host/kube/kube_config.h"

namespace kbinder::host {

struct KubeClientOptions {
  double qps = 50;         // sustained requests per second; <= 0: no limit
  int burst = 100;         // requests allowed at once above the rate
  int max_in_flight = 64;  // requests open at once (watches not counted)
  std::chrono::milliseconds request_timeout{30000};
  int max_retries = 5;
  std::chrono::milliseconds token_reread{60000};
};

struct HttpResult {
  long status = 0;  // 0: no HTTP answer (see error)
  std::string body;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string error;                           // transport error, when status is 0
};

class KubeClient {
 public:
  static StatusOr<std::unique_ptr<KubeClient>> create(KubeConfig config, KubeClientOptions options);
  ~KubeClient();
  KubeClient(const KubeClient&) = delete;
  KubeClient& operator=(const KubeClient&) = delete;

  // `path` includes the query ("/api/v1/pods?limit=500").
  HttpResult request(std::string_view method, const std::string& path, const std::string& body = "",
                     const std::string& content_type = "application/json");

  // A long-lived GET (watch): `on_data` gets the body as it arrives and returns false to stop.
  // Ends when the server ends the response, on an error, after `timeout`, when `on_data` says
  // so, or soon after `*cancel` becomes true.
  HttpResult stream(const std::string& path, const std::function<bool(std::string_view)>& on_data,
                    std::chrono::milliseconds timeout, const std::atomic<bool>* cancel = nullptr);

  const KubeConfig& config() const { return config_; }
  // `text` percent-encoded for a URL's query: every byte but A-Z a-z 0-9 - . _ ~, as libcurl
  // encodes it.
  static std::string escape(std::string_view text);
  // Answers by verb and HTTP code ("GET 200", "PATCH 409", "GET 0" for transport errors).
  std::map<std::string, long> requestCounts() const;

 private:
  class Impl;
  KubeClient(KubeConfig config, KubeClientOptions options);

  KubeConfig config_;
  KubeClientOptions options_;
  std::unique_ptr<Impl> impl_;
};

// The Status an API answer means: OK for 2xx; NOT_FOUND (404), ABORTED (409: conflict or
// already exists), INVALID_ARGUMENT (400, 422), PERMISSION_DENIED (401, 403), UNAVAILABLE
// (429, 5xx, transport errors) with the Status body's message.
Status statusOf(const HttpResult& result, std::string_view what);

}  // namespace kbinder::host
