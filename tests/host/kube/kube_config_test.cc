// SPDX-License-Identifier: Apache-2.0
// Reading kubeconfig files and the in-cluster environment.
#include "host/kube/kube_config.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace kbinder::testing {
namespace {

using host::KubeConfig;

const char* kConfig = R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev-cluster
  cluster:
    server: https://10.0.0.1:6443/
    certificate-authority: certs/ca.pem
- name: prod-cluster
  cluster:
    server: https://prod.example.com
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCmNhCg==
    tls-server-name: api.prod
- name: lab-cluster
  cluster: {server: "https://lab:6443", insecure-skip-tls-verify: true}
users:
- name: dev-user
  user: {tokenFile: token}
- name: prod-user
  user:
    client-certificate-data: Y2VydA==
    client-key-data: a2V5
- name: lab-user
  user: {token: abc123}
- name: sso-user
  user: {exec: {command: aws}}
contexts:
- name: dev
  context: {cluster: dev-cluster, user: dev-user, namespace: scheduling}
- name: prod
  context: {cluster: prod-cluster, user: prod-user}
- name: lab
  context: {cluster: lab-cluster, user: lab-user}
- name: sso
  context: {cluster: lab-cluster, user: sso-user}
- name: broken
  context: {cluster: nowhere, user: lab-user}
)";

class KubeConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.path() / "certs");
    writeFile(dir_.path() / "certs/ca.pem", "CA PEM");
    writeFile(dir_.path() / "token", "dev-token\n");
    path_ = writeFile(dir_.path() / "config", kConfig);
  }
  TempDir dir_;
  std::filesystem::path path_;
};

TEST_F(KubeConfigTest, CurrentContextWithFilesRelativeToTheKubeconfig) {
  auto c = host::loadKubeconfig(path_, "");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->server, "https://10.0.0.1:6443");
  EXPECT_EQ(c->ca_pem, "CA PEM");
  EXPECT_EQ(c->token_file, dir_.path() / "token");
  EXPECT_EQ(c->namespace_, "scheduling");
  EXPECT_EQ(c->source, "kubeconfig " + path_.string() + " (context dev)");
}

TEST_F(KubeConfigTest, NamedContextWithInlineData) {
  auto c = host::loadKubeconfig(path_, "prod");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->ca_pem, "-----BEGIN CERTIFICATE-----\nca\n");
  EXPECT_EQ(c->client_cert_pem, "cert");
  EXPECT_EQ(c->client_key_pem, "key");
  EXPECT_EQ(c->tls_server_name, "api.prod");
  EXPECT_EQ(c->namespace_, "default");
  auto lab = host::loadKubeconfig(path_, "lab");
  ASSERT_TRUE(lab.ok());
  EXPECT_TRUE(lab->insecure_skip_tls_verify);
  EXPECT_EQ(lab->token, "abc123");
}

TEST_F(KubeConfigTest, InlineDataThatIsNotBase64IsNamed) {
  std::string text = kConfig;
  text.replace(text.find("client-key-data: a2V5"), 21, "client-key-data: a2V");  // unpadded
  const auto path = writeFile(dir_.path() / "bad-data", text);
  const auto c = host::loadKubeconfig(path, "prod");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("client-key-data is not base64"), std::string::npos)
      << c.status().message();
  EXPECT_NE(c.status().message().find(path.string()), std::string::npos) << c.status().message();
}

TEST_F(KubeConfigTest, ErrorsNameTheFileAndTheFix) {
  const std::string where = "kubeconfig " + path_.string() + ": ";
  EXPECT_EQ(host::loadKubeconfig(path_, "nope").status().message(),
            where + "context \"nope\" not found");
  EXPECT_EQ(host::loadKubeconfig(path_, "broken").status().message(),
            where + "context \"broken\" names cluster \"nowhere\", which is not defined");
  EXPECT_NE(host::loadKubeconfig(path_, "sso")
                .status()
                .message()
                .find("exec or auth-provider plugin, which kbinder does not run"),
            std::string::npos);
  std::filesystem::remove(dir_.path() / "certs/ca.pem");
  EXPECT_NE(host::loadKubeconfig(path_, "dev").status().message().find("certificate-authority"),
            std::string::npos);
  EXPECT_EQ(host::loadKubeconfig(dir_.path() / "missing", "").status().code(),
            host::StatusCode::kNotFound);
}

TEST_F(KubeConfigTest, InClusterReadsTheServiceAccount) {
  host::InClusterEnvironment env;
  EXPECT_NE(host::inClusterConfig(env).status().message().find("not running in a cluster"),
            std::string::npos);
  env.host = "10.96.0.1";
  env.port = "443";
  env.account_dir = dir_.path() / "sa";
  std::filesystem::create_directories(env.account_dir);
  writeFile(env.account_dir / "token", "sa-token");
  writeFile(env.account_dir / "ca.crt", "SA CA");
  writeFile(env.account_dir / "namespace", "kbinder-system\n");
  auto c = host::inClusterConfig(env);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->server, "https://10.96.0.1:443");
  EXPECT_EQ(c->token_file, env.account_dir / "token");
  EXPECT_EQ(c->ca_pem, "SA CA");
  EXPECT_EQ(c->namespace_, "kbinder-system");
  env.host = "fd00::1";
  EXPECT_EQ(host::inClusterConfig(env)->server, "https://[fd00::1]:443");
}

// Kubeconfig data is read as kubectl reads it: standard base64, padded, across lines.
TEST(Base64Test, DecodesStrictlyPaddedBase64AcrossLines) {
  EXPECT_EQ(*host::decodeBase64("aGVsbG8="), "hello");
  EXPECT_EQ(*host::decodeBase64("aGVs\nbG8="), "hello");
  EXPECT_EQ(*host::decodeBase64("aGVs\r\nbG8=\n"), "hello");
  EXPECT_EQ(*host::decodeBase64("aGk="), "hi");
  EXPECT_EQ(*host::decodeBase64(""), "");
  EXPECT_FALSE(host::decodeBase64("a$b=").ok());
  EXPECT_FALSE(host::decodeBase64("aGVsbG8").ok());   // not padded to a group of four
  EXPECT_FALSE(host::decodeBase64("aGV=sbG8").ok());  // '=' before the end
  EXPECT_FALSE(host::decodeBase64("aGVsbG8=aGk=").ok());
  const auto refused = host::decodeBase64("a$b=");
  EXPECT_NE(refused.status().message().find("padded with '='"), std::string::npos)
      << refused.status().message();
}

}  // namespace
}  // namespace kbinder::testing
