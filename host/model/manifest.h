// SPDX-License-Identifier: Apache-2.0
// Kubernetes manifests: the YAML or JSON text `kubectl get -o yaml|json` prints, read into JSON
// values and written back in the same form. This is the host's one JSON/YAML conversion path.
//
// Reading keeps every field and the order of keys; `kind: List` (and `*List` kinds with items)
// is flattened into its items and remembered, so writing gives back the same shape.
// YAML scalars follow the YAML 1.2 core schema: unquoted true/false, null/~, integers and
// floats are typed, everything quoted or else is a string.
//
// Thread-safety: free functions over values.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "host/base/status.h"

namespace kbinder::host {

// Key order is kept so written manifests diff cleanly against what was read.
using Json = nlohmann::ordered_json;

enum class ManifestFormat { kYaml, kJson };

struct Manifest {
  ManifestFormat format = ManifestFormat::kYaml;
  bool as_list = false;       // the text was one List object wrapping the items
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
void writeManifest(const Manifest& form, const std::vector<const Json*>& objects, std::ostream& out);
// The same for `count` objects handed over by `object`, which is called for each index once,
// from several threads at once (the objects are written to text on every core, a few
// thousand at a time): what it returns is let go once written to text, so objects made for
// the writing are held a few at a time. The first error `object` returns (in index order)
// ends the writing after the objects before it, and is returned.
using ManifestItem = std::function<StatusOr<std::shared_ptr<const Json>>(size_t index)>;
Status writeManifest(const Manifest& form, size_t count, const ManifestItem& object,
                     std::ostream& out);

// Gives back what `value`'s objects and arrays hold beyond their size, at every depth. Parsing
// and adding keys grow them by doubling, so a stored object would otherwise carry up to as much
// unused room as it has content.
void shrinkToFit(Json& value);
// `object[key]`, `object` made an object first when it is not one. A new key grows the object
// by moving its values: operator[] on a full object (as shrinkToFit leaves it) copies every
// value whole, since an element's key is const and its move may throw.
Json& member(Json& object, const std::string& key);

// One YAML document or JSON text to a value, and a value to block-style YAML.
StatusOr<Json> parseYaml(std::string_view text, std::string_view source);
std::string toYaml(const Json& value);

}  // namespace kbinder::host
