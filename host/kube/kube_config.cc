// SPDX-License-Identifier: Apache-2.0
#include "host/kube/kube_config.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "host/model/manifest.h"

namespace kbinder::host {
namespace fs = std::filesystem;
namespace {

StatusOr<std::string> readText(const fs::path& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return notFound(what + " " + path.string() + " cannot be read: " + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The named entry of a kubeconfig list ("clusters", "users", "contexts"): its inner mapping.
const Json* namedEntry(const Json& config, const char* list, const char* inner,
                       const std::string& name) {
  const auto it = config.find(list);
  if (it == config.end() || !it->is_array()) return nullptr;
  for (const auto& entry : *it) {
    if (entry.is_object() && entry.value("name", "") == name) {
      const auto value = entry.find(inner);
      return value != entry.end() && value->is_object() ? &*value : nullptr;
    }
  }
  return nullptr;
}

std::string stringField(const Json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

StatusOr<std::string> decodeBase64(std::string_view text) {
  // OpenSSL's decoder, as PEM is read: line breaks and spaces are passed over, "=" may only pad
  // the end, and the text must come in whole groups of four characters.
  std::unique_ptr<EVP_ENCODE_CTX, decltype(&EVP_ENCODE_CTX_free)> ctx(EVP_ENCODE_CTX_new(),
                                                                      EVP_ENCODE_CTX_free);
  if (ctx == nullptr) return internalError("cannot set up a base64 decoder");
  EVP_DecodeInit(ctx.get());
  std::string out(text.size() + 3, '\0');  // what decodes is shorter than the text
  auto* at = reinterpret_cast<unsigned char*>(out.data());
  int decoded = 0, tail = 0;
  if (EVP_DecodeUpdate(ctx.get(), at, &decoded, reinterpret_cast<const unsigned char*>(text.data()),
                       static_cast<int>(text.size())) < 0 ||
      EVP_DecodeFinal(ctx.get(), at + decoded, &tail) < 0) {
    return invalidArgument(
        "not base64: expected the standard alphabet (A-Z a-z 0-9 + /) in groups of four, "
        "padded with '=' at the end");
  }
  out.resize(static_cast<size_t>(decoded) + static_cast<size_t>(tail));
  return out;
}

StatusOr<KubeConfig> loadKubeconfig(const fs::path& path, const std::string& context_name) {
  auto text = readText(path, "kubeconfig");
  if (!text.ok()) return text.status();
  auto parsed = parseYaml(*text, path.string());
  if (!parsed.ok()) return parsed.status();
  const Json& config = *parsed;
  if (!config.is_object())
    return invalidArgument("kubeconfig " + path.string() + ": not a mapping");
  const fs::path dir = path.parent_path();
  auto fail = [&](const std::string& why) {
    return invalidArgument("kubeconfig " + path.string() + ": " + why);
  };

  const std::string name =
      context_name.empty() ? stringField(config, "current-context") : context_name;
  if (name.empty()) {
    return fail("no current-context; name one with --context or `kubectl config use-context`");
  }
  const Json* context = namedEntry(config, "contexts", "context", name);
  if (context == nullptr) return fail("context \"" + name + "\" not found");
  KubeConfig out;
  out.source = "kubeconfig " + path.string() + " (context " + name + ")";
  if (const std::string ns = stringField(*context, "namespace"); !ns.empty()) out.namespace_ = ns;

  const std::string cluster_name = stringField(*context, "cluster");
  const Json* cluster = namedEntry(config, "clusters", "cluster", cluster_name);
  if (cluster == nullptr) {
    return fail("context \"" + name + "\" names cluster \"" + cluster_name +
                "\", which is not defined");
  }
  out.server = stringField(*cluster, "server");
  while (!out.server.empty() && out.server.back() == '/') out.server.pop_back();
  if (out.server.rfind("https://", 0) != 0 && out.server.rfind("http://", 0) != 0) {
    return fail("cluster \"" + cluster_name + "\" has no server URL (https://host:port)");
  }
  out.tls_server_name = stringField(*cluster, "tls-server-name");
  out.insecure_skip_tls_verify = cluster->value("insecure-skip-tls-verify", false);

  // A PEM given inline (base64 "-data") or as a file; `what` names it in messages.
  auto pem = [&](const Json& entry, const char* key, const std::string& what,
                 std::string& into) -> Status {
    const std::string data = stringField(entry, (std::string(key) + "-data").c_str());
    if (!data.empty()) {
      auto decoded = decodeBase64(data);
      if (!decoded.ok()) return fail(what + "-data is " + decoded.status().message());
      into = std::move(decoded).value();
      return okStatus();
    }
    const std::string file = stringField(entry, key);
    if (file.empty()) return okStatus();
    const fs::path resolved = fs::path(file).is_absolute() ? fs::path(file) : dir / file;
    auto read = readText(resolved, "kubeconfig " + path.string() + ": " + what);
    if (!read.ok()) return read.status();
    into = std::move(read).value();
    return okStatus();
  };
  if (Status s = pem(*cluster, "certificate-authority", "certificate-authority", out.ca_pem);
      !s.ok()) {
    return s;
  }

  const std::string user_name = stringField(*context, "user");
  if (!user_name.empty()) {
    const Json* user = namedEntry(config, "users", "user", user_name);
    if (user == nullptr) {
      return fail("context \"" + name + "\" names user \"" + user_name +
                  "\", which is not defined");
    }
    if (user->contains("exec") || user->contains("auth-provider")) {
      return fail("user \"" + user_name +
                  "\" authenticates through an exec or auth-provider "
                  "plugin, which kbinder does not run; give it a token, token file or client "
                  "certificate");
    }
    if (Status s = pem(*user, "client-certificate", "client-certificate", out.client_cert_pem);
        !s.ok()) {
      return s;
    }
    if (Status s = pem(*user, "client-key", "client-key", out.client_key_pem); !s.ok()) return s;
    if (out.client_cert_pem.empty() != out.client_key_pem.empty()) {
      return fail("user \"" + user_name +
                  "\" has a client certificate without a key, or a key "
                  "without a certificate");
    }
    out.token = stringField(*user, "token");
    if (const std::string file = stringField(*user, "tokenFile");
        !file.empty() && out.token.empty()) {
      out.token_file = fs::path(file).is_absolute() ? fs::path(file) : dir / file;
      auto read = readText(out.token_file, "kubeconfig " + path.string() + ": tokenFile");
      if (!read.ok()) return read.status();
    }
  }
  return out;
}

InClusterEnvironment InClusterEnvironment::fromProcess() {
  InClusterEnvironment env;
  if (const char* h = std::getenv("KUBERNETES_SERVICE_HOST")) env.host = h;
  if (const char* p = std::getenv("KUBERNETES_SERVICE_PORT")) env.port = p;
  return env;
}

StatusOr<KubeConfig> inClusterConfig(const InClusterEnvironment& env) {
  if (env.host.empty() || env.port.empty()) {
    return failedPrecondition(
        "not running in a cluster (KUBERNETES_SERVICE_HOST and "
        "KUBERNETES_SERVICE_PORT are unset); give --kubeconfig");
  }
  KubeConfig out;
  out.source = "in-cluster configuration";
  const bool ipv6 = env.host.find(':') != std::string::npos;
  out.server = "https://" + (ipv6 ? "[" + env.host + "]" : env.host) + ":" + env.port;
  out.token_file = env.account_dir / "token";
  auto token = readText(out.token_file, "service account token");
  if (!token.ok()) return token.status();
  auto ca = readText(env.account_dir / "ca.crt", "service account CA");
  if (!ca.ok()) return ca.status();
  out.ca_pem = std::move(ca).value();
  if (auto ns = readText(env.account_dir / "namespace", "service account namespace"); ns.ok()) {
    std::string value = *ns;
    while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.pop_back();
    if (!value.empty()) out.namespace_ = value;
  }
  return out;
}

StatusOr<KubeConfig> resolveKubeConfig(const std::string& flag, const std::string& context) {
  if (!flag.empty()) return loadKubeconfig(flag, context);
  if (const char* env = std::getenv("KUBECONFIG"); env != nullptr && *env != '\0') {
    std::string first(env);
    first = first.substr(0, first.find(':'));
    return loadKubeconfig(first, context);
  }
  if (const char* home = std::getenv("HOME"); home != nullptr) {
    const fs::path path = fs::path(home) / ".kube" / "config";
    std::error_code ec;
    if (fs::exists(path, ec)) return loadKubeconfig(path, context);
  }
  if (!context.empty()) {
    return invalidArgument("--context " + context +
                           " given, but no kubeconfig was found "
                           "(--kubeconfig, $KUBECONFIG or ~/.kube/config)");
  }
  return inClusterConfig(InClusterEnvironment::fromProcess());
}

}  // namespace kbinder::host
