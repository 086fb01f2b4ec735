// SPDX-License-Identifier: Apache-2.0
// Test-time TLS material and an HTTPS/1.1 server for the test API server: a CA made on the
// spot, a server certificate for 127.0.0.1 and localhost signed by it, client certificates, and
// a small threaded HTTPS server with keep-alive and chunked (streaming) responses.
//
// Thread-safety: HttpsServer's handler runs on one thread per connection.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kbinder::testing {

struct Pem {
  std::string certificate;
  std::string key;
};

// A certificate authority made at test time, and certificates it signs.
class TestCa {
 public:
  TestCa();
  ~TestCa();
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  const std::string& certificatePem() const { return ca_.certificate; }
  // A server certificate for 127.0.0.1, ::1 and localhost.
  Pem serverCertificate() const;
  // A client certificate with this common name (the user) and organization (a group).
  Pem clientCertificate(const std::string& common_name, const std::string& organization = "") const;

 private:
  Pem issue(const std::string& common_name, const std::string& organization, bool server) const;
  Pem ca_;
  void* key_ = nullptr;   // EVP_PKEY
  void* cert_ = nullptr;  // X509
};

struct HttpRequest {
  std::string method;
  std::string target;  // path and query, as sent
  std::string path;
  std::map<std::string, std::string> query;    // decoded
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
  std::string client_common_name;  // from a verified client certificate, or empty
};

// How a handler answers: either respond() once, or start() then write() chunks then finish().
class HttpResponder {
 public:
  virtual ~HttpResponder() = default;
  virtual void respond(int status, const std::string& content_type, const std::string& body,
                       const std::map<std::string, std::string>& headers = {}) = 0;
  virtual bool start(int status, const std::string& content_type) = 0;  // chunked
  virtual bool write(const std::string& data) = 0;  // false: the client went away
  virtual void finish() = 0;
  // Cuts the connection at once, without ending the response (fault injection).
  virtual void drop() = 0;
};

class HttpsServer {
 public:
  using Handler = std::function<void(const HttpRequest&, HttpResponder&)>;

  // Listens on 127.0.0.1 at an ephemeral port. Client certificates signed by `client_ca_pem`
  // are verified when presented (never required).
  HttpsServer(const Pem& server, const std::string& client_ca_pem, Handler handler);
  ~HttpsServer();
  HttpsServer(const HttpsServer&) = delete;
  HttpsServer& operator=(const HttpsServer&) = delete;

  int port() const { return port_; }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  void stop();
  // Closes every open connection (watch streams included), as a restarting server would.
  void dropConnections();

 private:
  void acceptLoop();
  void serve(int fd);

  Handler handler_;
  SSL_CTX* ctx_ = nullptr;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<std::thread> connections_;
  std::vector<int> open_fds_;
};

}  // namespace kbinder::testing
