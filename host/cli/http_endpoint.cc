// SPDX-License-Identifier: Apache-2.0
#include "host/cli/http_endpoint.h"

#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace kbinder::host {
namespace {

constexpr time_t kTimeoutSeconds = 2;  // reading a request, writing an answer, keep-alive idle
constexpr size_t kThreads = 8;         // connections served at once

// Address reuse after a restart, but never two listeners on one port (cpp-httplib's default
// would set SO_REUSEPORT); IPv6 sockets take IPv4 too, whatever the system's default.
void listenerOptions(int fd) {
  const int yes = 1, no = 0;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  int domain = 0;
  socklen_t length = sizeof domain;
  if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length) == 0 && domain == AF_INET6) {
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &no, sizeof no);
  }
}

// Binds `server` to host:port; returns the port bound, or -1 with errno's text in `why`.
int bindTo(httplib::Server& server, const std::string& host, int port, std::string& why) {
  errno = 0;
  const int bound =
      port == 0 ? server.bind_to_any_port(host) : (server.bind_to_port(host, port) ? port : -1);
  if (bound < 0) why = errno != 0 ? std::strerror(errno) : "the address cannot be used here";
  return bound;
}

}  // namespace

StatusOr<ListenAddress> parseListenAddress(const std::string& address) {
  auto refuse = [&](const std::string& why) {
    return invalidArgument("listen address \"" + address + "\": " + why +
                           " (use HOST:PORT, [IPV6]:PORT or :PORT, e.g. \":8080\")");
  };
  ListenAddress result;
  std::string port;
  if (!address.empty() && address[0] == '[') {
    const size_t close = address.find(']');
    if (close == std::string::npos) return refuse("the IPv6 address has no closing ']'");
    if (close + 1 >= address.size() || address[close + 1] != ':') {
      return refuse("needs a port after ']'");
    }
    result.host = address.substr(1, close - 1);
    if (result.host.empty()) return refuse("the brackets hold no address");
    port = address.substr(close + 2);
  } else {
    const size_t colon = address.rfind(':');
    if (colon == std::string::npos) return refuse("needs a port");
    result.host = address.substr(0, colon);
    if (result.host.find(':') != std::string::npos) {
      return refuse("an IPv6 address goes in brackets");
    }
    port = address.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535) {
    return refuse("the port \"" + port + "\" is not a number from 0 to 65535");
  }
  result.port = std::stoi(port);
  return result;
}

StatusOr<std::unique_ptr<HttpEndpoint>> HttpEndpoint::start(const std::string& address,
                                                            Handler handler) {
  auto where = parseListenAddress(address);
  if (!where.ok()) return where.status();
  auto server = std::make_unique<httplib::Server>();
  server->new_task_queue = [] { return new httplib::ThreadPool(kThreads); };
  server->set_socket_options(listenerOptions);
  server->set_read_timeout(kTimeoutSeconds, 0);
  server->set_write_timeout(kTimeoutSeconds, 0);
  server->set_keep_alive_timeout(kTimeoutSeconds);
  server->set_payload_max_length(size_t{64} * 1024);
  auto answer = [handler = std::move(handler)](const httplib::Request& request,
                                               httplib::Response& response) {
    const HttpAnswer a = handler(request.path);
    response.status = a.status;
    response.set_content(a.body, a.content_type.c_str());
  };
  server->Get(".*", answer);
  auto refuse_method = [](const httplib::Request&, httplib::Response& response) {
    response.status = 405;
    response.set_header("Allow", "GET, HEAD");
    response.set_content("only GET\n", "text/plain; charset=utf-8");
  };
  server->Post(".*", refuse_method);
  server->Put(".*", refuse_method);
  server->Patch(".*", refuse_method);
  server->Delete(".*", refuse_method);
  server->Options(".*", refuse_method);

  std::string why;
  int port = -1;
  if (where->host.empty()) {
    // Every interface: IPv6 and IPv4 on one socket, or IPv4 alone where IPv6 is off.
    port = bindTo(*server, "::", where->port, why);
    if (port < 0) port = bindTo(*server, "0.0.0.0", where->port, why);
  } else {
    // "localhost" is IPv4's loopback, as it always was here, whatever the resolver prefers.
    port =
        bindTo(*server, where->host == "localhost" ? "127.0.0.1" : where->host, where->port, why);
  }
  if (port < 0) return invalidArgument("cannot listen on " + address + ": " + why);
  return std::unique_ptr<HttpEndpoint>(new HttpEndpoint(std::move(server), port));
}

HttpEndpoint::HttpEndpoint(std::unique_ptr<httplib::Server> server, int port)
    : server_(std::move(server)), port_(port) {
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    listen_returned_ = true;
  });
  // stop() acts only on a running server: wait until it runs, so the destructor can stop it.
  while (!server_->is_running() && !listen_returned_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

HttpEndpoint::~HttpEndpoint() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace kbinder::host
