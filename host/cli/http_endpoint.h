// SPDX-License-Identifier: Apache-2.0
// The plain-HTTP server for /healthz, /readyz and /metrics, on cpp-httplib: answers GET (HEAD
// too), refuses other methods with 405, and serves connections concurrently from a small pool
// of threads, so a client that stalls holds one thread for at most the read timeout and never
// blocks the others.
//
// Thread-safety: the handler is called from several threads at once.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "host/base/status.h"

namespace httplib {
class Server;
}

namespace kbinder::host {

struct HttpAnswer {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Where to listen, from "HOST:PORT", "[IPV6]:PORT" or ":PORT". An empty host means every
// interface, IPv6 and IPv4.
struct ListenAddress {
  std::string host;
  int port = 0;
};
StatusOr<ListenAddress> parseListenAddress(const std::string& address);

class HttpEndpoint {
 public:
  using Handler = std::function<HttpAnswer(const std::string& path)>;

  // Listens on `address` (see parseListenAddress; port 0 picks a free one) and serves until
  // destroyed. INVALID_ARGUMENT names the address and what is wrong with it.
  static StatusOr<std::unique_ptr<HttpEndpoint>> start(const std::string& address, Handler handler);
  // Stops listening and waits for the answers being written.
  ~HttpEndpoint();
  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;

  int port() const { return port_; }

 private:
  HttpEndpoint(std::unique_ptr<httplib::Server> server, int port);

  std::unique_ptr<httplib::Server> server_;
  int port_;
  std::atomic<bool> listen_returned_{false};
  std::thread thread_;
};

}  // namespace kbinder::host
