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

#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kbinder/host/field_selector.h"
#include "kbinder/host/objects.h"

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
// the cache's lock once per cycle (host alone on two cores: 122,000 -> 80,000 cycles/s), for
// lists by node that no built-in plugin makes. Such a list looks at every pod.
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

  FieldIndex(FieldPath path, const IndexedField& field) : path_(std::move(path)), read_(field.read) {}

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

// Every index kept for one kind.
template <typename Key, typename Less = std::less<Key>>
class KindIndexes {
 public:
  using Keys = typename FieldIndex<Key, Less>::Keys;

  explicit KindIndexes(Kind kind) {
    for (const IndexedField& field : kIndexedFields) {
      if (field.kind != kind) continue;
      auto path = FieldPath::parse(field.path, kind);
      if (path.ok()) indexes_.emplace_back(std::move(path).value(), field);  // tested
    }
  }

  void update(const Key& key, const kbinder::v1::Object* before, const kbinder::v1::Object* after) {
    for (auto& index : indexes_) index.update(key, before, after);
  }
  void clear() {
    for (auto& index : indexes_) index.clear();
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
};

}  // namespace kbinder::host
