// SPDX-License-Identifier: Apache-2.0
// Kubernetes manifests: the YAML or JSON text `kubectl get -o yaml|json` prints, read into JSON
// values and written back in the same form. This is the host's one JSON/YAML conversion path
// (YAML itself: yaml.h).
//
// Reading keeps every field and the order of keys; `kind: List` (and `*List` kinds with items)
// is flattened into its items and remembered, so writing gives back the same shape.
// YAML scalars follow the YAML 1.2 core schema: unquoted true/false, null/~, integers and
// floats are typed, everything quoted or else is a string.
//
// Thread-safety: free functions over values.
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "host/base/status.h"
#include "host/model/json.h"
#include "host/model/yaml.h"

namespace kbinder::host {

enum class ManifestFormat { kYaml, kJson };

struct Manifest {
  ManifestFormat format = ManifestFormat::kYaml;
  bool as_list = false;  // the text was one List object wrapping the items
  std::string list_api_version = "v1";
  std::string list_kind = "List";
  std::vector<Json> objects;  // each has apiVersion, kind and metadata.name
};

// `source` names the text in messages ("cluster.yaml"). Fails on syntax errors (with line and
// column) and on documents that are not Kubernetes objects.
StatusOr<Manifest> parseManifest(std::string_view text, std::string_view source);
std::string writeManifest(const Manifest& manifest);
// The same for `objects` (in place of manifest.objects, which is ignored), streamed to `out`:
// nothing is copied, so a store can write a large snapshot without holding it twice.
void writeManifest(const Manifest& form, const std::vector<const Json*>& objects,
                   std::ostream& out);
// The same for `count` objects handed over by `object`, which is called for each index once,
// from several threads at once (the objects are written to text on every core, a few
// thousand at a time): what it returns is let go once written to text, so objects made for
// the writing are held a few at a time. The first error `object` returns (in index order)
// ends the writing after the objects before it, and is returned.
using ManifestItem = std::function<StatusOr<std::shared_ptr<const Json>>(size_t index)>;
Status writeManifest(const Manifest& form, size_t count, const ManifestItem& object,
                     std::ostream& out);

}  // namespace kbinder::host
