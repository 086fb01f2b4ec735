// SPDX-License-Identifier: Apache-2.0
// A small plain-HTTP server for /healthz, /readyz and /metrics: GET only, one short answer per
// connection.
//
// Thread-safety: the handler runs on the endpoint's one thread.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "host/base/status.h"

namespace kbinder::host {

struct HttpAnswer {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class HttpEndpoint {
 public:
  using Handler = std::function<HttpAnswer(const std::string& path)>;

  // `address` is "HOST:PORT" or ":PORT" (all interfaces); port 0 picks a free one.
  static StatusOr<std::unique_ptr<HttpEndpoint>> start(const std::string& address, Handler handler);
  ~HttpEndpoint();

  int port() const { return port_; }

 private:
  HttpEndpoint(int fd, int port, Handler handler);
  void run();

  int fd_;
  int port_;
  Handler handler_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace kbinder::host
