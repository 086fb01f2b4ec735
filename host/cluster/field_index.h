// SPDX-License-Identifier: Apache-2.0
// Indexes of a kind's objects by the value of a field, so that a list whose field selector asks
// for a value of an indexed field ("spec.nodeName=node-7", "spec.storageClassName=local")
// looks only at the objects holding that value instead of every object of the kind. Each cache
// of objects (the embedded store, the Kubernetes backend's informer caches) keeps one
// KindIndexes per kind and tells it of every change; the list still applies the whole selector
// to each candidate, so an index only ever narrows where to look.
//
// The indexed fields are those plugins select on per cycle (kIndexedFields): a volume's class
// and claim, a claim's class and volume.
//
// Thread-safety: none; the owning cache's lock guards its indexes with its objects.
#pragma once

#include <algorithm>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "host/cluster/list_filter.h"
#include "host/model/objects.h"

namespace kbinder::host {

struct IndexedField {
  Kind kind;
  std::string_view path;  // a FieldPath of the kind
  // The field read straight from the generated message: every write of the kind reads it
  // twice (before and after) under the cache's lock, where reflection costs too much.
  // FieldIndexTest.EveryIndexedFieldReadsWhatItsPathNames checks the two agree.
  const std::string& (*read)(const kbinder::v1::Object& object);
};
// A pod's node is not indexed: every binding changes it, so the index would be updated under
// the cache's lock once per cycle (its cost: bench/HISTORY.md), for lists by node that no
// built-in plugin makes. Such a list looks at every pod.
inline constexpr IndexedField kIndexedFields[] = {
    {Kind::kPersistentVolume, "spec.storageClassName",
     [](const kbinder::v1::Object& o) -> const std::string& {
       return o.persistent_volume().spec().storage_class_name();
     }},
    {Kind::kPersistentVolume, "spec.claimRef.name",  // "spec.claimRef.name=": free volumes
     [](const kbinder::v1::Object& o) -> const std::string& {
       return o.persistent_volume().spec().claim_ref().name();
     }},
    {Kind::kPersistentVolumeClaim, "spec.storageClassName",
     [](const kbinder::v1::Object& o) -> const std::string& {
       return o.persistent_volume_claim().spec().storage_class_name();
     }},
    {Kind::kPersistentVolumeClaim, "spec.volumeName",
     [](const kbinder::v1::Object& o) -> const std::string& {
       return o.persistent_volume_claim().spec().volume_name();
     }},
};

// One field's index: value → the keys of the objects holding it. `Key` is whatever names an
// object in the owning cache, ordered by `Less` as the cache orders its objects (so that an
// indexed list comes out in the same order as a scan).
template <typename Key, typename Less = std::less<Key>>
class FieldIndex {
 public:
  using Keys = std::set<Key, Less>;

  FieldIndex(FieldPath path, const IndexedField& field)
      : path_(std::move(path)), read_(field.read) {}

  const FieldPath& path() const { return path_; }

  // The object named `key` changed from `before` to `after`; nullptr for "did not exist" (a
  // creation) and "no longer exists" (a deletion).
  void update(const Key& key, const kbinder::v1::Object* before, const kbinder::v1::Object* after) {
    const std::string* old_value = before ? &read_(*before) : nullptr;
    const std::string* new_value = after ? &read_(*after) : nullptr;
    if (old_value != nullptr && new_value != nullptr && *old_value == *new_value) return;
    if (old_value != nullptr) {
      if (const auto it = keys_.find(*old_value); it != keys_.end()) {
        it->second.erase(key);
        if (it->second.empty()) keys_.erase(it);
      }
    }
    if (new_value != nullptr) keys_[*new_value].insert(key);
  }

  // The keys of the objects holding `value`; nullptr when none does.
  const Keys* find(const std::string& value) const {
    const auto it = keys_.find(value);
    return it == keys_.end() ? nullptr : &it->second;
  }

  void clear() { keys_.clear(); }

 private:
  FieldPath path_;
  const std::string& (*read_)(const kbinder::v1::Object&);
  std::unordered_map<std::string, Keys> keys_;
};

// PersistentVolumes by the nodes their node affinity confines them to, for lists that ask for
// the volumes a node admits (ListRequest.admits_node). A local volume's affinity names its
// node, by name (matchFields metadata.name In) or by hostname label (matchExpressions
// kubernetes.io/hostname In); such a volume is kept under each value it names. A volume
// whose affinity has a term naming neither (or that has no affinity) could suit any node and
// is kept apart. The volumes a node may admit are then those under its name, those under its
// hostname label, and those kept apart; the list still judges each.
template <typename Key, typename Less = std::less<Key>>
class NodeAffinityIndex {
 public:
  using Keys = std::set<Key, Less>;
  static constexpr std::string_view kHostnameLabel = "kubernetes.io/hostname";

  void update(const Key& key, const kbinder::v1::Object* before, const kbinder::v1::Object* after) {
    const auto old_pins = before ? pins(before->persistent_volume()) : std::nullopt;
    const auto new_pins = after ? pins(after->persistent_volume()) : std::nullopt;
    if (before != nullptr && after != nullptr && old_pins == new_pins) return;
    if (before != nullptr) {
      if (!old_pins) {
        anywhere_.erase(key);
      } else {
        for (const std::string& pin : *old_pins) {
          if (const auto it = pinned_.find(pin); it != pinned_.end()) {
            it->second.erase(key);
            if (it->second.empty()) pinned_.erase(it);
          }
        }
      }
    }
    if (after != nullptr) {
      if (!new_pins) {
        anywhere_.insert(key);
      } else {
        for (const std::string& pin : *new_pins) pinned_[pin].insert(key);
      }
    }
  }

  // The sets holding every volume that may admit `node`; at most three, possibly overlapping.
  std::vector<const Keys*> candidates(const kbinder::v1::Node& node) const {
    std::vector<const Keys*> out{&anywhere_};
    const auto add = [&](const std::string& pin) {
      const auto it = pinned_.find(pin);
      if (it != pinned_.end() && std::find(out.begin(), out.end(), &it->second) == out.end()) {
        out.push_back(&it->second);
      }
    };
    add(namePin(node.metadata().name()));
    const auto& labels = node.metadata().labels();
    if (const auto it = labels.find(std::string(kHostnameLabel)); it != labels.end()) {
      add(hostnamePin(it->second));
    }
    return out;
  }

  void clear() {
    pinned_.clear();
    anywhere_.clear();
  }

  // The values `volume`'s affinity confines it to (pins), sorted; nullopt when it could suit
  // any node as far as this index can tell.
  static std::optional<std::vector<std::string>> pins(const kbinder::v1::PersistentVolume& volume) {
    if (!volume.spec().has_node_affinity() || !volume.spec().node_affinity().has_required()) {
      return std::nullopt;
    }
    const auto& terms = volume.spec().node_affinity().required().node_selector_terms();
    if (terms.empty()) return std::nullopt;
    std::vector<std::string> out;
    for (const auto& term : terms) {
      // A term holds only if all its requirements do: one naming the node is enough to pin it.
      bool pinned = false;
      for (const auto& r : term.match_fields()) {
        if (pinned || r.key() != "metadata.name" || r.operator_() != "In") continue;
        for (const auto& v : r.values()) out.push_back(namePin(v));
        pinned = true;
      }
      for (const auto& r : term.match_expressions()) {
        if (pinned || r.key() != kHostnameLabel || r.operator_() != "In") continue;
        for (const auto& v : r.values()) out.push_back(hostnamePin(v));
        pinned = true;
      }
      // A term without requirements matches no node: it pins to nothing.
      if (!pinned && (!term.match_fields().empty() || !term.match_expressions().empty())) {
        return std::nullopt;
      }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

 private:
  static std::string namePin(const std::string& name) { return "name=" + name; }
  static std::string hostnamePin(const std::string& hostname) { return "hostname=" + hostname; }

  std::unordered_map<std::string, Keys> pinned_;
  Keys anywhere_;
};

// Every index kept for one kind.
template <typename Key, typename Less = std::less<Key>>
class KindIndexes {
 public:
  using Keys = typename FieldIndex<Key, Less>::Keys;

  explicit KindIndexes(Kind kind) : by_affinity_(kind == Kind::kPersistentVolume) {
    for (const IndexedField& field : kIndexedFields) {
      if (field.kind != kind) continue;
      auto path = FieldPath::parse(field.path, kind);
      if (path.ok()) indexes_.emplace_back(std::move(path).value(), field);  // tested
    }
  }

  void update(const Key& key, const kbinder::v1::Object* before, const kbinder::v1::Object* after) {
    for (auto& index : indexes_) index.update(key, before, after);
    if (by_affinity_) affinity_.update(key, before, after);
  }
  void clear() {
    for (auto& index : indexes_) index.clear();
    affinity_.clear();
  }

  // Calls `visit(key)` for every object a list with `filter` has to look at, in the cache's
  // order, through whichever index narrows it most: the field selector's (candidates()) or,
  // for volumes a node must admit, the node affinity index. False, visiting nothing, when no
  // index applies and every object must be looked at.
  template <typename Visit>
  bool forEachCandidate(const ListFilter& filter, Visit visit) const {
    const Keys* by_field = candidates(filter.fields);
    std::vector<const Keys*> by_node;
    size_t node_count = 0;
    if (by_affinity_ && filter.node != nullptr) {
      by_node = affinity_.candidates(*filter.node);
      for (const Keys* keys : by_node) node_count += keys->size();
    }
    if (by_field != nullptr && (by_node.empty() || by_field->size() <= node_count)) {
      for (const Key& key : *by_field) visit(key);
      return true;
    }
    if (by_node.empty()) return false;
    if (by_node.size() == 1) {
      for (const Key& key : *by_node.front()) visit(key);
      return true;
    }
    std::vector<Key> keys;
    keys.reserve(node_count);
    for (const Keys* set : by_node) keys.insert(keys.end(), set->begin(), set->end());
    std::sort(keys.begin(), keys.end(), Less());
    const auto equal = [](const Key& a, const Key& b) { return !Less()(a, b) && !Less()(b, a); };
    keys.erase(std::unique(keys.begin(), keys.end(), equal), keys.end());
    for (const Key& key : keys) visit(key);
    return true;
  }

  // Where a list with `selector` has to look: the keys holding the value of its requirement on
  // an indexed field that the fewest objects hold (an empty set when one is held by none), or
  // nullptr when no `=` requirement is on an indexed field and every object must be looked at.
  const Keys* candidates(const FieldSelector& selector) const {
    static const Keys kNone;
    const Keys* best = nullptr;
    for (const auto& requirement : selector.requirements()) {
      if (!requirement.equals) continue;
      for (const auto& index : indexes_) {
        if (!(index.path() == requirement.path)) continue;
        const Keys* keys = index.find(requirement.value);
        if (keys == nullptr) return &kNone;
        if (best == nullptr || keys->size() < best->size()) best = keys;
      }
    }
    return best;
  }

 private:
  std::vector<FieldIndex<Key, Less>> indexes_;
  bool by_affinity_;
  NodeAffinityIndex<Key, Less> affinity_;
};

}  // namespace kbinder::host
