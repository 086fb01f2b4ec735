// SPDX-License-Identifier: Apache-2.0
#include "tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace kbinder::testing {
namespace {

std::string opensslError(const char* what) {
  char text[256];
  ERR_error_string_n(ERR_get_error(), text, sizeof text);
  return std::string(what) + ": " + text;
}

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(opensslError(what));
}

EVP_PKEY* newKey() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  check(key != nullptr, "generating a key");
  return key;
}

std::string pemOf(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(size));
  BIO_free(bio);
  return out;
}

std::string pemOf(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(size));
  BIO_free(bio);
  return out;
}

void addExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  check(ext != nullptr, "making a certificate extension");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

X509* newCertificate(EVP_PKEY* key, const std::string& cn, const std::string& org) {
  static std::atomic<long> serial{1};
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 7 * 24 * 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  if (!org.empty()) {
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(org.c_str()), -1, -1, 0);
  }
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  return cert;
}

// Splits "a=b&c=d" and decodes %XX and '+'.
std::map<std::string, std::string> parseQuery(const std::string& query) {
  auto decode = [](const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '%' && i + 2 < s.size()) {
        out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
        i += 2;
      } else {
        out.push_back(s[i] == '+' ? ' ' : s[i]);
      }
    }
    return out;
  };
  std::map<std::string, std::string> out;
  std::stringstream in(query);
  for (std::string pair; std::getline(in, pair, '&');) {
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    out[decode(pair.substr(0, eq))] = eq == std::string::npos ? "" : decode(pair.substr(eq + 1));
  }
  return out;
}

const char* reasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

class Connection final : public HttpResponder {
 public:
  explicit Connection(SSL* ssl) : ssl_(ssl) {}

  bool send(const std::string& data) {
    if (dropped_) return false;
    size_t offset = 0;
    while (offset < data.size()) {
      const int n = SSL_write(ssl_, data.data() + offset, static_cast<int>(data.size() - offset));
      if (n <= 0) {
        dropped_ = true;
        return false;
      }
      offset += static_cast<size_t>(n);
    }
    return true;
  }

  void respond(int status, const std::string& content_type, const std::string& body,
               const std::map<std::string, std::string>& headers) override {
    std::string head = "HTTP/1.1 " + std::to_string(status) + " " + reasonPhrase(status) + "\r\n";
    head += "Content-Type: " + content_type + "\r\nContent-Length: " + std::to_string(body.size()) +
            "\r\n";
    for (const auto& [k, v] : headers) head += k + ": " + v + "\r\n";
    send(head + "\r\n" + body);
    answered_ = true;
  }
  bool start(int status, const std::string& content_type) override {
    answered_ = true;
    streaming_ = true;
    return send("HTTP/1.1 " + std::to_string(status) + " " + reasonPhrase(status) +
                "\r\nContent-Type: " + content_type + "\r\nTransfer-Encoding: chunked\r\n\r\n");
  }
  bool write(const std::string& data) override {
    if (data.empty()) return !dropped_;
    char size[20];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    return send(size + data + "\r\n");
  }
  void finish() override { send("0\r\n\r\n"); }
  void drop() override {
    dropped_ = true;
    answered_ = true;
  }

  bool dropped() const { return dropped_; }
  bool answered() const { return answered_; }
  bool streaming() const { return streaming_; }

 private:
  SSL* ssl_;
  bool dropped_ = false;
  bool answered_ = false;
  bool streaming_ = false;
};

}  // namespace

TestCa::TestCa() {
  EVP_PKEY* key = newKey();
  X509* cert = newCertificate(key, "kbinder test CA", "kbinder");
  X509_set_issuer_name(cert, X509_get_subject_name(cert));
  addExtension(cert, cert, NID_basic_constraints, "critical,CA:TRUE");
  addExtension(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
  addExtension(cert, cert, NID_subject_key_identifier, "hash");
  check(X509_sign(cert, key, EVP_sha256()) > 0, "signing the CA");
  ca_ = Pem{pemOf(cert), pemOf(key)};
  key_ = key;
  cert_ = cert;
}

TestCa::~TestCa() {
  EVP_PKEY_free(static_cast<EVP_PKEY*>(key_));
  X509_free(static_cast<X509*>(cert_));
}

Pem TestCa::issue(const std::string& cn, const std::string& org, bool server) const {
  EVP_PKEY* key = newKey();
  X509* cert = newCertificate(key, cn, org);
  X509* ca = static_cast<X509*>(cert_);
  X509_set_issuer_name(cert, X509_get_subject_name(ca));
  addExtension(cert, ca, NID_basic_constraints, "critical,CA:FALSE");
  addExtension(cert, ca, NID_key_usage, "critical,digitalSignature,keyEncipherment");
  addExtension(cert, ca, NID_ext_key_usage, server ? "serverAuth" : "clientAuth");
  addExtension(cert, ca, NID_authority_key_identifier, "keyid:always");
  if (server) addExtension(cert, ca, NID_subject_alt_name, "IP:127.0.0.1,IP:::1,DNS:localhost");
  check(X509_sign(cert, static_cast<EVP_PKEY*>(key_), EVP_sha256()) > 0, "signing a certificate");
  Pem out{pemOf(cert), pemOf(key)};
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

Pem TestCa::serverCertificate() const {
  return issue("kbinder-test-apiserver", "", true);
}
Pem TestCa::clientCertificate(const std::string& cn, const std::string& org) const {
  return issue(cn, org, false);
}

HttpsServer::HttpsServer(const Pem& server, const std::string& client_ca_pem, Handler handler)
    : handler_(std::move(handler)) {
  // A client that hangs up mid-response must not kill the server with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  ctx_ = SSL_CTX_new(TLS_server_method());
  check(ctx_ != nullptr, "making the TLS context");
  BIO* bio =
      BIO_new_mem_buf(server.certificate.data(), static_cast<int>(server.certificate.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  bio = BIO_new_mem_buf(server.key.data(), static_cast<int>(server.key.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  check(cert != nullptr && key != nullptr, "reading the server certificate");
  check(SSL_CTX_use_certificate(ctx_, cert) == 1 && SSL_CTX_use_PrivateKey(ctx_, key) == 1,
        "using the server certificate");
  X509_free(cert);
  EVP_PKEY_free(key);
  if (!client_ca_pem.empty()) {
    X509_STORE* store = SSL_CTX_get_cert_store(ctx_);
    bio = BIO_new_mem_buf(client_ca_pem.data(), static_cast<int>(client_ca_pem.size()));
    X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    check(ca != nullptr && X509_STORE_add_cert(store, ca) == 1, "trusting the client CA");
    X509_free(ca);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);  // verified when presented, not required
  }

  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listen_fd_, 128) != 0) {
    throw std::runtime_error(std::string("listening on 127.0.0.1: ") + std::strerror(errno));
  }
  socklen_t length = sizeof address;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { acceptLoop(); });
}

HttpsServer::~HttpsServer() {
  stop();
  SSL_CTX_free(ctx_);
}

void HttpsServer::stop() {
  if (stopping_.exchange(true)) return;
  ::shutdown(listen_fd_, SHUT_RDWR);
  ::close(listen_fd_);
  if (acceptor_.joinable()) acceptor_.join();
  dropConnections();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    threads.swap(connections_);
  }
  for (auto& t : threads) t.join();
}

void HttpsServer::dropConnections() {
  std::lock_guard lock(mutex_);
  for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
}

void HttpsServer::acceptLoop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard lock(mutex_);
    open_fds_.push_back(fd);
    connections_.emplace_back([this, fd] { serve(fd); });
  }
}

void HttpsServer::serve(int fd) {
  SSL* ssl = SSL_new(ctx_);
  SSL_set_fd(ssl, fd);
  std::string buffer;
  if (SSL_accept(ssl) == 1) {
    std::string common_name;
    if (X509* peer = SSL_get1_peer_certificate(ssl)) {
      if (SSL_get_verify_result(ssl) == X509_V_OK) {
        char cn[256] = {};
        X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
        common_name = cn;
      }
      X509_free(peer);
    }
    char chunk[16384];
    while (!stopping_) {
      // Read until a whole request (headers and Content-Length body) is buffered.
      size_t header_end;
      while ((header_end = buffer.find("\r\n\r\n")) == std::string::npos) {
        const int n = SSL_read(ssl, chunk, sizeof chunk);
        if (n <= 0) goto done;
        buffer.append(chunk, static_cast<size_t>(n));
      }
      HttpRequest request;
      request.client_common_name = common_name;
      std::stringstream head(buffer.substr(0, header_end));
      std::string line;
      std::getline(head, line);
      std::stringstream first(line);
      first >> request.method >> request.target;
      while (std::getline(head, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(), ::tolower);
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        request.headers[name] = value;
      }
      const size_t length = request.headers.count("content-length")
                                ? std::stoul(request.headers["content-length"])
                                : 0;
      while (buffer.size() < header_end + 4 + length) {
        const int n = SSL_read(ssl, chunk, sizeof chunk);
        if (n <= 0) goto done;
        buffer.append(chunk, static_cast<size_t>(n));
      }
      request.body = buffer.substr(header_end + 4, length);
      buffer.erase(0, header_end + 4 + length);
      const size_t question = request.target.find('?');
      request.path = request.target.substr(0, question);
      if (question != std::string::npos)
        request.query = parseQuery(request.target.substr(question + 1));

      Connection connection(ssl);
      handler_(request, connection);
      if (!connection.answered()) connection.respond(500, "text/plain", "no answer\n", {});
      if (connection.dropped() || connection.streaming()) break;
      if (request.headers["connection"] == "close") break;
    }
  }
done:
  SSL_shutdown(ssl);
  SSL_free(ssl);
  {
    std::lock_guard lock(mutex_);
    open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
  }
  ::close(fd);
}

}  // namespace kbinder::testing
