// SPDX-License-Identifier: Apache-2.0
// What deploy/ gives an operator: manifests that parse, a profile that loads, RBAC that grants
// exactly what kbinder uses, and a Deployment whose arguments kbinder accepts.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

#include "host/model/manifest.h"
#include "host/model/objects.h"
#include "host/plugin/loaded_profile.h"
#include "test_support.h"

namespace kbinder::testing {
namespace {

using host::Json;

std::vector<Json> load(const std::string& file) {
  std::ifstream in(std::string(KBINDER_SOURCE_DIR) + "/deploy/" + file);
  std::stringstream text;
  text << in.rdbuf();
  auto manifest = host::parseManifest(text.str(), file);
  EXPECT_TRUE(manifest.ok()) << manifest.status().message();
  return manifest.ok() ? manifest->objects : std::vector<Json>{};
}

const Json& find(const std::vector<Json>& objects, const std::string& kind,
                 const std::string& name) {
  for (const auto& o : objects) {
    if (o.value("kind", "") == kind && host::rawString(o, {"metadata", "name"}) == name) return o;
  }
  static const Json none;
  ADD_FAILURE() << kind << " " << name << " not found";
  return none;
}

TEST(DeployTest, TheConfigMapsProfileLoadsTheBuiltins) {
  const auto objects = load("profile-configmap.yaml");
  const Json& map = find(objects, "ConfigMap", "kbinder-profile");
  auto profile = host::parseProfileText(map["data"]["profile.toml"].get<std::string>(),
                                        "/etc/kbinder/profile.toml");
  ASSERT_TRUE(profile.ok()) << profile.status().message();
  host::ProfileLoadOptions options;
  options.builtin_plugin_dir = KBINDER_BUILTIN_PLUGIN_DIR;
  auto loaded = host::LoadedProfile::load(std::move(profile).value(), options);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ((*loaded)->plugins().size(), 3u);
}

TEST(DeployTest, RbacGrantsExactlyWhatKbinderUses) {
  const auto objects = load("rbac.yaml");
  std::set<std::tuple<std::string, std::string, std::string>> granted;
  for (const char* role : {"kbinder", "kbinder-leader-election"}) {
    const Json& r = find(objects, role == std::string("kbinder") ? "ClusterRole" : "Role", role);
    for (const auto& rule : r["rules"]) {
      for (const auto& group : rule["apiGroups"]) {
        for (const auto& resource : rule["resources"]) {
          for (const auto& verb : rule["verbs"]) {
            granted.insert(
                {group.get<std::string>(), resource.get<std::string>(), verb.get<std::string>()});
          }
        }
      }
    }
  }
  const std::set<std::tuple<std::string, std::string, std::string>> used = {
      {"", "pods", "get"},
      {"", "pods", "list"},
      {"", "pods", "watch"},
      {"", "pods", "patch"},
      {"", "pods/binding", "create"},
      {"", "nodes", "get"},
      {"", "nodes", "list"},
      {"", "nodes", "watch"},
      {"storage.k8s.io", "storageclasses", "get"},
      {"storage.k8s.io", "storageclasses", "list"},
      {"storage.k8s.io", "storageclasses", "watch"},
      {"", "persistentvolumeclaims", "get"},
      {"", "persistentvolumeclaims", "list"},
      {"", "persistentvolumeclaims", "watch"},
      {"", "persistentvolumeclaims", "patch"},
      {"", "persistentvolumes", "get"},
      {"", "persistentvolumes", "list"},
      {"", "persistentvolumes", "watch"},
      {"", "persistentvolumes", "patch"},
      {"resource.k8s.io", "resourceclaims", "get"},
      {"resource.k8s.io", "resourceclaims", "list"},
      {"resource.k8s.io", "resourceclaims", "watch"},
      {"resource.k8s.io", "resourceclaims/status", "patch"},
      {"scheduling.run.ai", "bindrequests", "get"},
      {"scheduling.run.ai", "bindrequests", "list"},
      {"scheduling.run.ai", "bindrequests", "watch"},
      {"scheduling.run.ai", "bindrequests/status", "patch"},
      {"events.k8s.io", "events", "create"},
      {"coordination.k8s.io", "leases", "get"},
      {"coordination.k8s.io", "leases", "create"},
      {"coordination.k8s.io", "leases", "update"},
  };
  EXPECT_EQ(granted, used);
  // The Lease permission is namespaced to kbinder's own namespace.
  EXPECT_EQ(
      host::rawString(find(objects, "Role", "kbinder-leader-election"), {"metadata", "namespace"}),
      "kbinder-system");
}

TEST(DeployTest, TheCrdMatchesTheSchemaAndHasAStatusSubresource) {
  const auto objects = load("bindrequest-crd.yaml");
  const Json& crd = find(objects, "CustomResourceDefinition", "bindrequests.scheduling.run.ai");
  const Json& version = crd["spec"]["versions"][0];
  EXPECT_EQ(version["name"], "v1alpha2");
  EXPECT_TRUE(version["subresources"].contains("status"));
  const Json& spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"];
  for (const char* field : {"podName", "selectedNode", "receivedResourceType", "receivedGPU",
                            "selectedGPUGroups", "resourceClaimAllocations", "backoffLimit"}) {
    EXPECT_TRUE(spec.contains(field)) << field;
  }
}

TEST(DeployTest, TwoReplicasLeadByLeaseWithProbesAndMetrics) {
  const auto objects = load("deployment.yaml");
  const Json& deployment = find(objects, "Deployment", "kbinder");
  EXPECT_EQ(deployment["spec"]["replicas"], 2);
  const Json& container = deployment["spec"]["template"]["spec"]["containers"][0];
  std::set<std::string> args;
  for (const auto& a : container["args"]) args.insert(a.get<std::string>());
  EXPECT_TRUE(args.count("--leader-elect"));
  EXPECT_TRUE(args.count("--profile=/etc/kbinder/profile.toml"));
  EXPECT_EQ(container["livenessProbe"]["httpGet"]["path"], "/healthz");
  EXPECT_EQ(container["readinessProbe"]["httpGet"]["path"], "/readyz");
  EXPECT_EQ(deployment["spec"]["template"]["spec"]["serviceAccountName"], "kbinder");
}

}  // namespace
}  // namespace kbinder::testing
