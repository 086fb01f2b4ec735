// SPDX-License-Identifier: Apache-2.0
// The HTTP endpoint: what it listens on, what it answers, and that a stalled client does not
// hold up the others.
#include "host/cli/http_endpoint.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <string>

namespace kbinder::testing {
namespace {

using host::HttpAnswer;
using host::HttpEndpoint;

std::unique_ptr<HttpEndpoint> startEndpoint(const std::string& address,
                                            std::atomic<int>* calls = nullptr) {
  auto endpoint = HttpEndpoint::start(address, [calls](const std::string& path) -> HttpAnswer {
    if (calls != nullptr) ++*calls;
    if (path == "/healthz") return {200, "text/plain; charset=utf-8", "ok\n"};
    return {404, "text/plain; charset=utf-8", "not found\n"};
  });
  EXPECT_TRUE(endpoint.ok()) << endpoint.status().message();
  return endpoint.ok() ? std::move(endpoint).value() : nullptr;
}

// Asserts that GET /healthz at host:port is answered 200.
void expectHealthy(const std::string& host, int port) {
  httplib::Client client(host, port);
  auto answer = client.Get("/healthz");
  ASSERT_TRUE(answer) << host << ": " << httplib::to_string(answer.error());
  EXPECT_EQ(answer->status, 200) << host;
}

bool hasIpv6Loopback() {
  std::ifstream interfaces("/proc/net/if_inet6");
  std::string line;
  while (std::getline(interfaces, line)) {
    if (line.rfind("00000000000000000000000000000001", 0) == 0) return true;
  }
  return false;
}

// A connected socket to 127.0.0.1:port.
int connectTo(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  return fd;
}

std::string readAll(int fd) {
  std::string out;
  char buffer[4096];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) out.append(buffer, n);
  return out;
}

TEST(HttpEndpointTest, ParsesListenAddresses) {
  auto every = host::parseListenAddress(":8080");
  ASSERT_TRUE(every.ok());
  EXPECT_EQ(every->host, "");
  EXPECT_EQ(every->port, 8080);
  auto v4 = host::parseListenAddress("127.0.0.1:0");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 0);
  auto v6 = host::parseListenAddress("[::1]:9090");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 9090);

  const std::pair<std::string, std::string> bad[] = {
      {"8080", "needs a port"},
      {"::1:8080", "an IPv6 address goes in brackets"},
      {"[::1:8080", "no closing ']'"},
      {"[::1]8080", "needs a port after ']'"},
      {"[]:8080", "the brackets hold no address"},
      {":http", "the port \"http\" is not a number from 0 to 65535"},
      {":65536", "the port \"65536\" is not a number from 0 to 65535"},
      {"host:", "the port \"\" is not a number from 0 to 65535"},
  };
  for (const auto& [address, why] : bad) {
    const auto parsed = host::parseListenAddress(address);
    ASSERT_FALSE(parsed.ok()) << address;
    EXPECT_NE(parsed.status().message().find(why), std::string::npos)
        << address << ": " << parsed.status().message();
    EXPECT_NE(parsed.status().message().find("\"" + address + "\""), std::string::npos);
  }
}

TEST(HttpEndpointTest, AnswersGetAndRefusesOtherMethods) {
  auto endpoint = startEndpoint("127.0.0.1:0");
  ASSERT_NE(endpoint, nullptr);
  ASSERT_GT(endpoint->port(), 0);
  httplib::Client client("127.0.0.1", endpoint->port());
  auto ok = client.Get("/healthz?verbose=1");  // the query is not part of the path
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, "ok\n");
  EXPECT_EQ(ok->get_header_value("Content-Type"), "text/plain; charset=utf-8");
  auto missing = client.Get("/nowhere");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  auto post = client.Post("/healthz", "x", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->get_header_value("Allow"), "GET, HEAD");
}

TEST(HttpEndpointTest, EveryInterfaceMeansIpv4AndIpv6) {
  auto endpoint = startEndpoint(":0");
  ASSERT_NE(endpoint, nullptr);
  expectHealthy("127.0.0.1", endpoint->port());
  if (!hasIpv6Loopback()) {
    GTEST_SKIP() << "this machine has no IPv6 loopback (::1); IPv4 was checked";
  }
  expectHealthy("::1", endpoint->port());
}

TEST(HttpEndpointTest, LocalhostIsTheIpv4Loopback) {
  auto endpoint = startEndpoint("localhost:0");
  ASSERT_NE(endpoint, nullptr);
  expectHealthy("127.0.0.1", endpoint->port());
}

TEST(HttpEndpointTest, ListensOnIpv6Only) {
  if (!hasIpv6Loopback()) GTEST_SKIP() << "this machine has no IPv6 loopback (::1)";
  auto endpoint = startEndpoint("[::1]:0");
  ASSERT_NE(endpoint, nullptr);
  expectHealthy("::1", endpoint->port());
}

// A client that sends half a request holds one connection; another is answered meanwhile, and
// the first is answered too once it finishes (a server taking one connection at a time would
// have served neither until the first timed out, and then closed it).
TEST(HttpEndpointTest, AStalledClientDoesNotBlockOthers) {
  std::atomic<int> calls{0};
  auto endpoint = startEndpoint("127.0.0.1:0", &calls);
  ASSERT_NE(endpoint, nullptr);
  const int stalled = connectTo(endpoint->port());
  const std::string first_half = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  ASSERT_EQ(::send(stalled, first_half.data(), first_half.size(), 0),
            static_cast<ssize_t>(first_half.size()));

  httplib::Client other("127.0.0.1", endpoint->port());
  auto answer = other.Get("/healthz");
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200);
  EXPECT_EQ(calls.load(), 1);

  const std::string rest = "Connection: close\r\n\r\n";
  ASSERT_EQ(::send(stalled, rest.data(), rest.size(), 0), static_cast<ssize_t>(rest.size()));
  const std::string reply = readAll(stalled);
  ::close(stalled);
  EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply;
  EXPECT_EQ(calls.load(), 2);
}

TEST(HttpEndpointTest, APortInUseIsNamed) {
  auto first = startEndpoint("127.0.0.1:0");
  ASSERT_NE(first, nullptr);
  const std::string address = "127.0.0.1:" + std::to_string(first->port());
  auto second = HttpEndpoint::start(address, [](const std::string&) { return HttpAnswer{}; });
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().message(), "cannot listen on " + address + ": Address already in use");
}

}  // namespace
}  // namespace kbinder::testing
