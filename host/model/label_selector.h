// SPDX-License-Identifier: Apache-2.0
// Kubernetes label selectors in their string form ("app=web,tier!=db,env in (a,b),!legacy"),
// as a list request carries them.
//
// Thread-safety: a LabelSelector is an immutable value.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "host/base/status.h"

namespace kbinder::host {

class LabelSelector {
 public:
  // The empty string selects everything. Errors name the offending term.
  static StatusOr<LabelSelector> parse(std::string_view text);

  // Whether it selects everything (the empty selector).
  bool empty() const { return requirements_.empty(); }

  // `labels`: any map from string to string (std::map, protobuf's Map), looked up in place.
  template <class Map>
  bool matches(const Map& labels) const {
    for (const Requirement& r : requirements_) {
      const auto it = labels.find(r.key);
      if (!holds(r, it == labels.end() ? nullptr : &it->second)) return false;
    }
    return true;
  }

 private:
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist };
  struct Requirement {
    std::string key;
    Op op;
    std::vector<std::string> values;
  };
  // Whether `r` holds for a label whose value is `*value` (null: no such label).
  static bool holds(const Requirement& r, const std::string* value);

  std::vector<Requirement> requirements_;
};

}  // namespace kbinder::host
