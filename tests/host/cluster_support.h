// SPDX-License-Identifier: Apache-2.0
// Helpers for tests that run the binding cycle: small clusters (built with fixtures.h), profiles
// of the recording test plugins, and the recorded call log.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "fixtures.h"
#include "host/cycle/assume_cache.h"
#include "host/model/manifest.h"
#include "host/plugin/loaded_profile.h"
#include "host/store/embedded_store.h"
#include "raw_store.h"
#include "test_support.h"

namespace kbinder::testing {

using host::EmbeddedStore;
using host::LoadedProfile;

// Binds the pod namespace_/name to `node` through `backend`; `uid`, when not empty, is the
// binding's precondition.
inline host::Status bindPod(host::ClusterBackend& backend, const std::string& namespace_,
                            const std::string& name, const std::string& uid,
                            const std::string& node) {
  return backend.bindPod(host::PodBinding{namespace_, name, uid, node, "", {}});
}

// Two storage classes, both binding when a pod is scheduled: "local" (static volumes) and "fast"
// (provisioned by csi.example.com).
inline std::string storageClassesYaml() {
  return "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: local}\n"
         "provisioner: kubernetes.io/no-provisioner\nvolumeBindingMode: WaitForFirstConsumer\n---\n"
         "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: fast}\n"
         "provisioner: csi.example.com\nvolumeBindingMode: WaitForFirstConsumer\n---\n";
}

// Two labelled nodes and three volumes of class "local": one whose node affinity admits nodes
// labelled zone=a, one admitting node n2 by name, one without node affinity.
inline Cluster volumesWithNodeAffinity() {
  const auto affinity = [](const char* match, const char* key, const char* value) {
    return Json{{"required",
                 {{"nodeSelectorTerms",
                   Json::array({{{match, Json::array({{{"key", key},
                                                       {"operator", "In"},
                                                       {"values", Json::array({value})}}})}}})}}}};
  };
  Json in_zone_a = MakeVolume("in-zone-a").storageClass("local");
  in_zone_a["spec"]["nodeAffinity"] = affinity("matchExpressions", "zone", "a");
  Json on_n2 = MakeVolume("on-n2").storageClass("local");
  on_n2["spec"]["nodeAffinity"] = affinity("matchFields", "metadata.name", "n2");
  return Cluster{MakeNode("n1").label("zone", "a"), MakeNode("n2").label("zone", "b"), in_zone_a,
                 on_n2, MakeVolume("anywhere").storageClass("local")};
}

inline std::unique_ptr<EmbeddedStore> storeFrom(const Cluster& cluster,
                                                EmbeddedStore::Options options = {}) {
  auto store = EmbeddedStore::load(cluster.manifest(), options);
  EXPECT_TRUE(store.ok()) << store.status().message();
  return std::move(store).value();
}
inline std::unique_ptr<EmbeddedStore> storeFrom(const std::string& yaml,
                                                EmbeddedStore::Options options = {}) {
  return storeFrom(Cluster::fromYaml(yaml), options);
}

// A profile of the given [[plugins]] tables (TOML text), searched in the test plugin directory,
// with quick retries.
inline std::unique_ptr<LoadedProfile> profileFrom(const TempDir& dir, const std::string& plugins,
                                                  const std::string& cycle = "") {
  std::string settings = cycle;
  if (cycle.find("backoff_base_seconds") == std::string::npos) {
    settings += "\nbackoff_base_seconds = 0.01\nbackoff_cap_seconds = 0.05\n";
  }
  const auto path =
      writeFile(dir.path() / "profile.toml", "name = \"test\"\nplugin_dirs = [\"" +
                                                 std::string(KBINDER_TEST_PLUGIN_DIR) + "\"]\n" +
                                                 "[cycle]\n" + settings + "\n" + plugins);
  auto profile = host::parseProfile(path);
  EXPECT_TRUE(profile.ok()) << profile.status().message();
  auto loaded = LoadedProfile::load(std::move(profile).value());
  EXPECT_TRUE(loaded.ok()) << loaded.status().message();
  return std::move(loaded).value();
}

// A [[plugins]] table for a recording plugin ("rec-a", ...) logging to `log`.
inline std::string recorder(const std::string& name, const std::filesystem::path& log,
                            const std::string& args = "") {
  std::string library = name;
  std::replace(library.begin(), library.end(), '-', '_');
  return "[[plugins]]\nname = \"" + name + "\"\nlibrary = \"" + library +
         ".so\"\n[plugins.args]\nlog = \"" + log.string() + "\"\n" + args + "\n";
}

// Hands the store's nodes and pods to the assume cache, as the controller's informers do.
inline void feed(host::AssumeCache& cache, EmbeddedStore& store) {
  for (const char* kind : {"Node", "Pod"}) {
    kbinder::v1::ListRequest list;
    list.set_kind(kind);
    auto items = store.list(list);
    ASSERT_TRUE(items.ok());
    for (const auto& item : items->items()) {
      if (item.has_node()) cache.upsertNode(item.node());
      if (item.has_pod()) cache.upsertPod(item.pod());
    }
  }
}

// The BindRequest default/`name`, as the store holds it.
inline kbinder::v1::BindRequest request(EmbeddedStore& store, const std::string& name) {
  kbinder::v1::GetRequest get;
  get.set_kind("BindRequest");
  get.set_namespace_("default");
  get.set_name(name);
  auto got = store.get(get);
  EXPECT_TRUE(got.ok()) << got.status().message();
  return got->bind_request();
}

// The node the pod default/`pod` is bound to: "" when none, "<missing>" when there is no pod.
inline std::string boundNode(EmbeddedStore& store, const std::string& pod) {
  auto raw = RawStore(store).getRaw("Pod", "default", pod);
  return raw.ok() ? host::rawString(*raw, {"spec", "nodeName"}) : "<missing>";
}
// The object of `kind` named `name` (in `ns`), as the store holds it; an empty Object when it
// cannot be read (the test fails then).
inline kbinder::v1::Object getObject(EmbeddedStore& store, const std::string& kind,
                                     const std::string& name, const std::string& ns = "default") {
  kbinder::v1::GetRequest get;
  get.set_kind(kind);
  get.set_namespace_(ns);
  get.set_name(name);
  auto got = store.get(get);
  EXPECT_TRUE(got.ok()) << got.status().message();
  return got.ok() ? *got : kbinder::v1::Object();
}

// Patches `object` into the store (its `subresource`, when given).
inline host::Status patchObject(EmbeddedStore& store, const kbinder::v1::Object& object,
                                const std::string& subresource = "") {
  kbinder::v1::PatchRequest patch;
  *patch.mutable_object() = object;
  patch.set_subresource(subresource);
  auto written = store.patch(patch);
  return written.ok() ? host::okStatus() : written.status();
}

inline std::vector<std::string> readLines(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace kbinder::testing
