// SPDX-License-Identifier: Apache-2.0
#include "host/cli/http_endpoint.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kbinder::host {

StatusOr<std::unique_ptr<HttpEndpoint>> HttpEndpoint::start(const std::string& address,
                                                            Handler handler) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    return invalidArgument("listen address \"" + address + "\" needs a port, e.g. \":8080\"");
  }
  const std::string host = address.substr(0, colon);
  int port = 0;
  try {
    port = std::stoi(address.substr(colon + 1));
  } catch (...) {
    return invalidArgument("listen address \"" + address + "\": the port is not a number");
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (host.empty() || host == "0.0.0.0") {
    sa.sin_addr.s_addr = htonl(INADDR_ANY);
  } else if (::inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host.c_str(), &sa.sin_addr) !=
             1) {
    return invalidArgument("listen address \"" + address + "\": not an IPv4 address");
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, 64) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    return invalidArgument("cannot listen on " + address + ": " + why);
  }
  socklen_t length = sizeof sa;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &length);
  return std::unique_ptr<HttpEndpoint>(
      new HttpEndpoint(fd, ntohs(sa.sin_port), std::move(handler)));
}

HttpEndpoint::HttpEndpoint(int fd, int port, Handler handler)
    : fd_(fd), port_(port), handler_(std::move(handler)) {
  thread_ = std::thread([this] { run(); });
}

HttpEndpoint::~HttpEndpoint() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  ::close(fd_);
}

void HttpEndpoint::run() {
  while (!stopping_) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    timeval timeout{2, 0};
    ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    std::string request;
    char buffer[4096];
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < 65536) {
      const ssize_t n = ::recv(client, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      request.append(buffer, static_cast<size_t>(n));
    }
    HttpAnswer answer;
    const size_t space = request.find(' ');
    const size_t end = request.find(' ', space + 1);
    if (space == std::string::npos || end == std::string::npos) {
      answer = {400, "text/plain; charset=utf-8", "bad request\n"};
    } else if (request.compare(0, space, "GET") != 0) {
      answer = {405, "text/plain; charset=utf-8", "only GET\n"};
    } else {
      std::string path = request.substr(space + 1, end - space - 1);
      path = path.substr(0, path.find('?'));
      answer = handler_(path);
    }
    const std::string head = "HTTP/1.1 " + std::to_string(answer.status) + " " +
                             (answer.status == 200 ? "OK" : "Error") +
                             "\r\nContent-Type: " + answer.content_type +
                             "\r\nContent-Length: " + std::to_string(answer.body.size()) +
                             "\r\nConnection: close\r\n\r\n";
    const std::string out = head + answer.body;
    size_t sent = 0;
    while (sent < out.size()) {
      const ssize_t n = ::send(client, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    ::close(client);
  }
}

}  // namespace kbinder::host
