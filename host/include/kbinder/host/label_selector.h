// Kubernetes label selectors in their string form ("app=web,tier!=db,env in (a,b),!legacy"),
// as a list request carries them.
//
// Thread-safety: a LabelSelector is an immutable value.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "kbinder/host/status.h"

namespace kbinder::host {

class LabelSelector {
 public:
  // The empty string selects everything. Errors name the offending term.
  static StatusOr<LabelSelector> parse(std::string_view text);

  bool matches(const std::map<std::string, std::string>& labels) const;
  template <class Map>
  bool matches(const Map& labels) const {
    return matches(std::map<std::string, std::string>(labels.begin(), labels.end()));
  }

 private:
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist };
  struct Requirement {
    std::string key;
    Op op;
    std::vector<std::string> values;
  };
  std::vector<Requirement> requirements_;
};

}  // namespace kbinder::host
