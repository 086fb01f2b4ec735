// SPDX-License-Identifier: Apache-2.0
#include "host/kube/kube_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "host/base/backoff.h"
#include "host/base/logging.h"
#include "host/model/manifest.h"

namespace kbinder::host {
namespace {

using Clock = std::chrono::steady_clock;

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

size_t collectBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

size_t collectHeader(char* data, size_t size, size_t count, void* user) {
  auto& headers = *static_cast<std::map<std::string, std::string>*>(user);
  std::string line(data, size * count);
  const size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
    headers[name] = value;
  }
  return size * count;
}

struct StreamContext {
  const std::function<bool(std::string_view)>* on_data;
  const std::atomic<bool>* cancel;
  CURL* handle;
  std::string* error_body;  // where the body of a non-200 answer goes (a Status, not a stream)
  bool stopped = false;
};

int streamProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto& context = *static_cast<StreamContext*>(user);
  if (context.cancel != nullptr && context.cancel->load()) {
    context.stopped = true;
    return 1;  // aborts the transfer
  }
  return 0;
}

size_t streamBody(char* data, size_t size, size_t count, void* user) {
  auto& context = *static_cast<StreamContext*>(user);
  long status = 0;
  curl_easy_getinfo(context.handle, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) {
    context.error_body->append(data, size * count);
    return size * count;
  }
  if (!(*context.on_data)(std::string_view(data, size * count))) {
    context.stopped = true;
    return 0;  // aborts the transfer
  }
  return size * count;
}

std::string readToken(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  return token;
}

}  // namespace

class KubeClient::Impl {
 public:
  Impl(const KubeConfig& config, const KubeClientOptions& options)
      : config_(config), options_(options), tokens_(options.burst) {
    token_ = config.token.empty() && !config.token_file.empty() ? readToken(config.token_file)
                                                                : config.token;
    token_read_ = Clock::now();
    url_ = config.server;
    if (!config.tls_server_name.empty()) {
      // Connect to the configured address but verify (and send SNI for) the given name.
      const size_t scheme = url_.find("://") + 3;
      const size_t end = url_.find_first_of(":/", scheme);
      const std::string host = url_.substr(scheme, end - scheme);
      std::string port = "443";
      if (end != std::string::npos && url_[end] == ':') port = url_.substr(end + 1);
      connect_to_ = curl_slist_append(
          nullptr, (config.tls_server_name + ":" + port + ":" + host + ":" + port).c_str());
      url_ = url_.substr(0, scheme) + config.tls_server_name + url_.substr(end);
    }
  }

  ~Impl() {
    for (CURL* handle : idle_) curl_easy_cleanup(handle);
    curl_slist_free_all(connect_to_);
  }

  std::string token() {
    std::lock_guard lock(mutex_);
    if (!config_.token_file.empty() && Clock::now() - token_read_ > options_.token_reread) {
      token_ = readToken(config_.token_file);
      token_read_ = Clock::now();
    }
    return token_;
  }
  // Re-reads the token file (after a 401); true when it changed.
  bool rereadToken() {
    if (config_.token_file.empty()) return false;
    std::lock_guard lock(mutex_);
    const std::string fresh = readToken(config_.token_file);
    token_read_ = Clock::now();
    const bool changed = fresh != token_;
    token_ = fresh;
    return changed;
  }

  // Client-side rate limit: a token bucket of `burst`, refilled at `qps`.
  void throttle() {
    if (options_.qps <= 0) return;
    std::unique_lock lock(mutex_);
    while (true) {
      const auto now = Clock::now();
      tokens_ = std::min<double>(
          options_.burst,
          tokens_ + std::chrono::duration<double>(now - refilled_).count() * options_.qps);
      refilled_ = now;
      if (tokens_ >= 1) {
        tokens_ -= 1;
        return;
      }
      const auto wait = std::chrono::duration<double>((1 - tokens_) / options_.qps);
      lock.unlock();
      std::this_thread::sleep_for(wait);
      lock.lock();
    }
  }

  void enter() {
    std::unique_lock lock(mutex_);
    slots_.wait(lock, [&] { return in_flight_ < options_.max_in_flight; });
    ++in_flight_;
  }
  void leave() {
    std::lock_guard lock(mutex_);
    --in_flight_;
    slots_.notify_one();
  }

  CURL* acquire() {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        CURL* handle = idle_.back();
        idle_.pop_back();
        curl_easy_reset(handle);
        return handle;
      }
    }
    return curl_easy_init();
  }
  void release(CURL* handle) {
    std::lock_guard lock(mutex_);
    idle_.push_back(handle);
  }

  void configure(CURL* handle, curl_slist** headers, const std::string& path,
                 const std::string& bearer) {
    curl_easy_setopt(handle, CURLOPT_URL, (url_ + path).c_str());
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    if (connect_to_ != nullptr) curl_easy_setopt(handle, CURLOPT_CONNECT_TO, connect_to_);
    if (config_.insecure_skip_tls_verify) {
      curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (!config_.ca_pem.empty()) {
      curl_blob ca{const_cast<char*>(config_.ca_pem.data()), config_.ca_pem.size(), CURL_BLOB_COPY};
      curl_easy_setopt(handle, CURLOPT_CAINFO_BLOB, &ca);
    }
    if (!config_.client_cert_pem.empty()) {
      curl_blob cert{const_cast<char*>(config_.client_cert_pem.data()),
                     config_.client_cert_pem.size(), CURL_BLOB_COPY};
      curl_blob key{const_cast<char*>(config_.client_key_pem.data()), config_.client_key_pem.size(),
                    CURL_BLOB_COPY};
      curl_easy_setopt(handle, CURLOPT_SSLCERT_BLOB, &cert);
      curl_easy_setopt(handle, CURLOPT_SSLCERTTYPE, "PEM");
      curl_easy_setopt(handle, CURLOPT_SSLKEY_BLOB, &key);
      curl_easy_setopt(handle, CURLOPT_SSLKEYTYPE, "PEM");
    }
    *headers = curl_slist_append(*headers, "Accept: application/json");
    *headers = curl_slist_append(*headers, "User-Agent: kbinder");
    if (!bearer.empty())
      *headers = curl_slist_append(*headers, ("Authorization: Bearer " + bearer).c_str());
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, *headers);
  }

  void count(std::string_view method, long status) {
    std::lock_guard lock(mutex_);
    ++counts_[std::string(method) + " " + std::to_string(status)];
  }

  KubeConfig config_;
  KubeClientOptions options_;
  std::string url_;
  curl_slist* connect_to_ = nullptr;  // tls-server-name: where to connect instead
  std::mutex mutex_;
  std::condition_variable slots_;
  int in_flight_ = 0;
  double tokens_;
  Clock::time_point refilled_ = Clock::now();
  std::string token_;
  Clock::time_point token_read_;
  std::vector<CURL*> idle_;
  std::map<std::string, long> counts_;
};

KubeClient::KubeClient(KubeConfig config, KubeClientOptions options)
    : config_(std::move(config)),
      options_(options),
      impl_(std::make_unique<Impl>(config_, options_)) {}

KubeClient::~KubeClient() = default;

StatusOr<std::unique_ptr<KubeClient>> KubeClient::create(KubeConfig config,
                                                         KubeClientOptions options) {
  static CurlGlobal global;
  if (config.server.empty()) return invalidArgument(config.source + ": no API server URL");
  if (options.burst < 1) options.burst = 1;
  if (options.max_in_flight < 1) options.max_in_flight = 1;
  return std::unique_ptr<KubeClient>(new KubeClient(std::move(config), options));
}

std::string KubeClient::escape(std::string_view text) {
  // libcurl ignores the handle here (since 7.82).
  std::unique_ptr<char, decltype(&curl_free)> escaped(
      curl_easy_escape(nullptr, text.data(), static_cast<int>(text.size())), curl_free);
  return escaped == nullptr ? std::string() : std::string(escaped.get());
}

HttpResult KubeClient::request(std::string_view method, const std::string& path,
                               const std::string& body, const std::string& content_type) {
  HttpResult result;
  bool reread = false;
  Backoff backoff(std::chrono::milliseconds(200), std::chrono::milliseconds(5000));
  for (int attempt = 0;; ++attempt) {
    impl_->throttle();
    impl_->enter();
    CURL* handle = impl_->acquire();
    curl_slist* headers = nullptr;
    impl_->configure(handle, &headers, path, impl_->token());
    if (!body.empty() || method == "POST" || method == "PATCH" || method == "PUT") {
      headers = curl_slist_append(headers, ("Content-Type: " + content_type).c_str());
      curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt(handle, CURLOPT_POSTFIELDS, body.c_str());
      curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
    curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, std::string(method).c_str());
    curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(options_.request_timeout.count()));
    result = HttpResult{};
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &collectBody);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &result.body);
    curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, &collectHeader);
    curl_easy_setopt(handle, CURLOPT_HEADERDATA, &result.headers);
    const CURLcode code = curl_easy_perform(handle);
    bool connection_error = false;
    if (code == CURLE_OK) {
      curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &result.status);
    } else {
      result.error = curl_easy_strerror(code);
      // Worth another try: the connection failed or broke. Not: TLS verification, bad URLs.
      connection_error = code == CURLE_COULDNT_CONNECT || code == CURLE_OPERATION_TIMEDOUT ||
                         code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR ||
                         code == CURLE_GOT_NOTHING || code == CURLE_PARTIAL_FILE ||
                         code == CURLE_SSL_CONNECT_ERROR;
    }
    curl_slist_free_all(headers);
    impl_->release(handle);
    impl_->leave();
    impl_->count(method, result.status);

    if (result.status == 401 && !reread) {
      reread = true;
      if (impl_->rereadToken()) continue;
    }
    // A broken connection is retried for every verb: kbinder's writes are guarded by a
    // resourceVersion (a repeat that already applied gets a 409 and the caller reads again)
    // or are a Binding (a repeat gets "already assigned" to the same node).
    const bool transient =
        result.status == 429 || result.status >= 500 || (result.status == 0 && connection_error);
    if (!transient || attempt >= options_.max_retries) return result;
    auto wait = backoff.next();
    if (const auto it = result.headers.find("retry-after"); it != result.headers.end()) {
      try {
        wait = std::chrono::seconds(std::stol(it->second));
      } catch (...) {
      }
    }
    hostLogger().debug("{} {}: {}; retrying in {} ms", method, path,
                       result.status == 0 ? result.error : std::to_string(result.status),
                       wait.count());
    std::this_thread::sleep_for(std::min(wait, std::chrono::milliseconds(30000)));
  }
}

HttpResult KubeClient::stream(const std::string& path,
                              const std::function<bool(std::string_view)>& on_data,
                              std::chrono::milliseconds timeout, const std::atomic<bool>* cancel) {
  impl_->throttle();
  CURL* handle = impl_->acquire();
  curl_slist* headers = nullptr;
  impl_->configure(handle, &headers, path, impl_->token());
  HttpResult result;
  StreamContext context{&on_data, cancel, handle, &result.body};
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, &streamProgress);
  curl_easy_setopt(handle, CURLOPT_XFERINFODATA, &context);
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &streamBody);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &context);
  curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, &collectHeader);
  curl_easy_setopt(handle, CURLOPT_HEADERDATA, &result.headers);
  const CURLcode code = curl_easy_perform(handle);
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &result.status);
  if (code != CURLE_OK && !context.stopped) result.error = curl_easy_strerror(code);
  curl_slist_free_all(headers);
  curl_easy_cleanup(handle);  // a stream's connection is not reused
  impl_->count("WATCH", result.status);
  if (result.status == 401) impl_->rereadToken();
  return result;
}

std::map<std::string, long> KubeClient::requestCounts() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->counts_;
}

Status statusOf(const HttpResult& result, std::string_view what) {
  if (result.status >= 200 && result.status < 300) return okStatus();
  std::string message;
  if (result.status == 0) {
    message = result.error;
  } else {
    try {
      const Json body = Json::parse(result.body);
      message = body.value("message", "");
    } catch (...) {
    }
    if (message.empty()) message = "HTTP " + std::to_string(result.status);
  }
  const std::string text = std::string(what) + ": " + message;
  switch (result.status) {
    case 404: return notFound(text);
    case 409: return {StatusCode::kAborted, text};
    case 400:
    case 422: return invalidArgument(text);
    case 401:
    case 403: return permissionDenied(text);
    default: return {StatusCode::kUnavailable, text};
  }
}

}  // namespace kbinder::host
