// SPDX-License-Identifier: Apache-2.0
// The resources the test API server serves, one row each: what discovery lists, what paths
// resolve to, and what the OpenAPI documents describe.
#pragma once

#include <string>

namespace kbinder::testing {

struct Resource {
  const char* group;  // "" for the core group
  const char* version;
  const char* plural;
  const char* kind;
  bool namespaced;
  bool status;  // has a status subresource
  const char* short_name;
  // The kind's top-level fields besides apiVersion, kind and metadata, space-separated, as the
  // Kubernetes API defines them; a trailing '!' marks a required one.
  const char* fields;
};

inline constexpr Resource kResources[] = {
    {"", "v1", "pods", "Pod", true, true, "po", "spec status"},
    {"", "v1", "nodes", "Node", false, true, "no", "spec status"},
    {"", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true, true, "pvc", "spec status"},
    {"", "v1", "persistentvolumes", "PersistentVolume", false, true, "pv", "spec status"},
    {"", "v1", "namespaces", "Namespace", false, true, "ns", "spec status"},
    {"", "v1", "configmaps", "ConfigMap", true, false, "cm", "binaryData data immutable"},
    {"", "v1", "events", "Event", true, false, "ev",
     "action count eventTime firstTimestamp involvedObject! lastTimestamp message reason related "
     "reportingComponent reportingInstance series source type"},
    {"", "v1", "bindings", "Binding", true, false, "", "target!"},  // create only
    {"storage.k8s.io", "v1", "storageclasses", "StorageClass", false, false, "sc",
     "allowVolumeExpansion allowedTopologies mountOptions parameters provisioner! reclaimPolicy "
     "volumeBindingMode"},
    {"resource.k8s.io", "v1", "resourceclaims", "ResourceClaim", true, true, "", "spec! status"},
    {"scheduling.run.ai", "v1alpha2", "bindrequests", "BindRequest", true, true, "", "spec status"},
    {"events.k8s.io", "v1", "events", "Event", true, false, "",
     "action deprecatedCount deprecatedFirstTimestamp deprecatedLastTimestamp deprecatedSource "
     "eventTime! note reason regarding related reportingController reportingInstance series "
     "type"},
    {"coordination.k8s.io", "v1", "leases", "Lease", true, false, "", "spec"},
};

inline std::string groupVersion(const Resource& r) {
  return *r.group == '\0' ? r.version : std::string(r.group) + "/" + r.version;
}

// "api/v1" or "apis/<group>/<version>": where the resource's group-version is served.
inline std::string groupVersionPath(const Resource& r) {
  return *r.group == '\0' ? std::string("api/") + r.version : "apis/" + groupVersion(r);
}

}  // namespace kbinder::testing
