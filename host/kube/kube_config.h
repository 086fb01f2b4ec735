// SPDX-License-Identifier: Apache-2.0
// Where the Kubernetes API server is and how to authenticate: from a kubeconfig file (its
// current or a named context) or from the in-cluster environment of a pod.
//
// Supported: server, tls-server-name, certificate-authority(-data), insecure-skip-tls-verify;
// client-certificate(-data) and client-key(-data); token and tokenFile. Relative file paths are
// relative to the kubeconfig's directory, as kubectl reads them. Exec and auth-provider plugins
// are refused with a message saying so.
//
// Thread-safety: values.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "host/base/status.h"

namespace kbinder::host {

struct KubeConfig {
  std::string source;  // for messages: "kubeconfig /x (context ctx)", "in-cluster configuration"
  std::string server;  // "https://host:port", no trailing slash
  std::string tls_server_name;
  std::string ca_pem;  // empty: the system's trusted CAs
  bool insecure_skip_tls_verify = false;
  std::string client_cert_pem, client_key_pem;
  std::string token;                   // a static bearer token
  std::filesystem::path token_file;    // a token read from a file (re-read as it rotates)
  std::string namespace_ = "default";  // the context's namespace
};

StatusOr<KubeConfig> loadKubeconfig(const std::filesystem::path& path, const std::string& context);

// The in-cluster configuration: KUBERNETES_SERVICE_HOST/PORT and the service account's token,
// CA and namespace under `account_dir` (normally /var/run/secrets/kubernetes.io/serviceaccount).
struct InClusterEnvironment {
  std::string host, port;
  std::filesystem::path account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
  static InClusterEnvironment fromProcess();
};
StatusOr<KubeConfig> inClusterConfig(const InClusterEnvironment& environment);

// --kubeconfig if given; else $KUBECONFIG (its first file); else ~/.kube/config if it exists;
// else the in-cluster configuration.
StatusOr<KubeConfig> resolveKubeConfig(const std::string& kubeconfig_flag,
                                       const std::string& context);

// Standard base64 as kubectl reads kubeconfig data: in groups of four, padded with "=" at the
// end only; line breaks and spaces are passed over.
StatusOr<std::string> decodeBase64(std::string_view text);

}  // namespace kbinder::host
