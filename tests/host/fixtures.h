// SPDX-License-Identifier: Apache-2.0
// Builders for the objects of test clusters, in the manner of kube-scheduler's
// pkg/scheduler/testing/wrappers.go: MakePod("p").cpu("1").node("n1") starts from the smallest
// valid object and each call sets one thing. A Cluster holds objects in order and loads into an
// embedded store (storeFrom in cluster_support.h).
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "host/model/json.h"
#include "host/model/manifest.h"

namespace kbinder::testing {

using host::Json;

// The common part of the builders: the object, and the metadata every kind has.
template <typename Self>
class ObjectWrapper {
 public:
  Self& namespace_(const std::string& ns) { return set(json_["metadata"]["namespace"], ns); }
  Self& uid(const std::string& uid) { return set(json_["metadata"]["uid"], uid); }
  Self& label(const std::string& key, const std::string& value) {
    return set(json_["metadata"]["labels"][key], value);
  }
  // A builder stands wherever an object is wanted: Cluster{MakeNode("n1"), MakePod("p")}.
  operator Json() const { return json_; }  // NOLINT(google-explicit-constructor)

 protected:
  ObjectWrapper(const std::string& api_version, const std::string& kind, const std::string& name) {
    json_["apiVersion"] = api_version;
    json_["kind"] = kind;
    json_["metadata"]["name"] = name;
  }
  Self& set(Json& field, const Json& value) {
    field = value;
    return static_cast<Self&>(*this);
  }
  Json json_;
};

// A Ready node with 64Gi of memory and room for 110 pods.
class NodeWrapper : public ObjectWrapper<NodeWrapper> {
 public:
  explicit NodeWrapper(const std::string& name) : ObjectWrapper("v1", "Node", name) {
    json_["status"]["allocatable"] = {{"memory", "64Gi"}, {"pods", "110"}};
    json_["status"]["conditions"] = Json::array({{{"type", "Ready"}, {"status", "True"}}});
  }
  NodeWrapper& cpu(const std::string& quantity) { return allocatable("cpu", quantity); }
  NodeWrapper& allocatable(const std::string& resource, const std::string& quantity) {
    return set(json_["status"]["allocatable"][resource], quantity);
  }
  NodeWrapper& unschedulable() { return set(json_["spec"]["unschedulable"], true); }
};
inline NodeWrapper MakeNode(const std::string& name) {
  return NodeWrapper(name);
}

// A pod in namespace "default" with one container, "main".
class PodWrapper : public ObjectWrapper<PodWrapper> {
 public:
  explicit PodWrapper(const std::string& name) : ObjectWrapper("v1", "Pod", name) {
    json_["metadata"]["namespace"] = "default";
    json_["spec"]["containers"] = Json::array({{{"name", "main"}, {"image", "busybox"}}});
  }
  // The main container's request for `resource`.
  PodWrapper& request(const std::string& resource, const std::string& quantity) {
    return set(json_["spec"]["containers"][0]["resources"]["requests"][resource], quantity);
  }
  PodWrapper& cpu(const std::string& quantity) { return request("cpu", quantity); }
  PodWrapper& node(const std::string& name) { return set(json_["spec"]["nodeName"], name); }
  PodWrapper& deletionTimestamp(const std::string& time) {
    return set(json_["metadata"]["deletionTimestamp"], time);
  }
};
inline PodWrapper MakePod(const std::string& name) {
  return PodWrapper(name);
}

// A BindRequest in namespace "default".
class RequestWrapper : public ObjectWrapper<RequestWrapper> {
 public:
  explicit RequestWrapper(const std::string& name)
      : ObjectWrapper("scheduling.run.ai/v1alpha2", "BindRequest", name) {
    json_["metadata"]["namespace"] = "default";
  }
  RequestWrapper& pod(const std::string& name) { return set(json_["spec"]["podName"], name); }
  RequestWrapper& node(const std::string& name) { return set(json_["spec"]["selectedNode"], name); }
  RequestWrapper& backoffLimit(int limit) { return set(json_["spec"]["backoffLimit"], limit); }
};
inline RequestWrapper MakeRequest(const std::string& name) {
  return RequestWrapper(name);
}

// A PersistentVolumeClaim in namespace "default" asking for 1Gi.
class ClaimWrapper : public ObjectWrapper<ClaimWrapper> {
 public:
  explicit ClaimWrapper(const std::string& name)
      : ObjectWrapper("v1", "PersistentVolumeClaim", name) {
    json_["metadata"]["namespace"] = "default";
    json_["spec"]["accessModes"] = Json::array({"ReadWriteOnce"});
    json_["spec"]["resources"]["requests"]["storage"] = "1Gi";
  }
  ClaimWrapper& storageClass(const std::string& name) {
    return set(json_["spec"]["storageClassName"], name);
  }
  ClaimWrapper& storage(const std::string& quantity) {
    return set(json_["spec"]["resources"]["requests"]["storage"], quantity);
  }
};
inline ClaimWrapper MakeClaim(const std::string& name) {
  return ClaimWrapper(name);
}

// A PersistentVolume of 1Gi, ReadWriteOnce.
class VolumeWrapper : public ObjectWrapper<VolumeWrapper> {
 public:
  explicit VolumeWrapper(const std::string& name) : ObjectWrapper("v1", "PersistentVolume", name) {
    json_["spec"]["capacity"]["storage"] = "1Gi";
    json_["spec"]["accessModes"] = Json::array({"ReadWriteOnce"});
  }
  VolumeWrapper& capacity(const std::string& quantity) {
    return set(json_["spec"]["capacity"]["storage"], quantity);
  }
  VolumeWrapper& csi(const std::string& driver, const std::string& handle) {
    return set(json_["spec"]["csi"], Json{{"driver", driver}, {"volumeHandle", handle}});
  }
  VolumeWrapper& storageClass(const std::string& name) {
    return set(json_["spec"]["storageClassName"], name);
  }
};
inline VolumeWrapper MakeVolume(const std::string& name) {
  return VolumeWrapper(name);
}

// The objects of a test cluster, in the order they load.
class Cluster {
 public:
  Cluster() = default;
  Cluster(std::initializer_list<Json> objects) : objects_(objects) {}
  // Objects written out in YAML, for fixtures clearer as a manifest than as builders.
  static Cluster fromYaml(std::string_view yaml) {
    Cluster cluster;
    auto manifest = host::parseManifest(yaml, "test.yaml");
    EXPECT_TRUE(manifest.ok()) << manifest.status().message();
    if (manifest.ok()) cluster.objects_ = std::move(manifest->objects);
    return cluster;
  }

  Cluster& add(const Json& object) {
    objects_.push_back(object);
    return *this;
  }
  Cluster& add(const Cluster& other) {
    objects_.insert(objects_.end(), other.objects_.begin(), other.objects_.end());
    return *this;
  }
  host::Manifest manifest() const {
    host::Manifest manifest;
    manifest.objects = objects_;
    return manifest;
  }

 private:
  std::vector<Json> objects_;
};

inline Cluster operator+(Cluster cluster, const Json& object) {
  return std::move(cluster.add(object));
}
inline Cluster operator+(Cluster cluster, const Cluster& other) {
  return std::move(cluster.add(other));
}

}  // namespace kbinder::testing
