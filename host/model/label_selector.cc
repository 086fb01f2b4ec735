// SPDX-License-Identifier: Apache-2.0
#include "host/model/label_selector.h"

#include <algorithm>

namespace kbinder::host {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

bool validToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
           c == '/';
  });
}

// Splits on commas outside parentheses.
std::vector<std::string_view> terms(std::string_view text) {
  std::vector<std::string_view> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || (text[i] == ',' && depth == 0)) {
      out.push_back(trim(text.substr(start, i - start)));
      start = i + 1;
    } else if (text[i] == '(') {
      ++depth;
    } else if (text[i] == ')') {
      --depth;
    }
  }
  return out;
}

}  // namespace

StatusOr<LabelSelector> LabelSelector::parse(std::string_view text) {
  LabelSelector selector;
  if (trim(text).empty()) return selector;
  for (std::string_view term : terms(text)) {
    auto bad = [&](const std::string& why) {
      return invalidArgument("label selector \"" + std::string(text) + "\": term \"" +
                             std::string(term) + "\" " + why);
    };
    Requirement r;
    if (term.empty()) return bad("is empty; separate terms with single commas");
    if (term.front() == '!') {
      r.key = std::string(trim(term.substr(1)));
      r.op = Op::kDoesNotExist;
    } else if (size_t at = term.find("!="); at != std::string_view::npos) {
      r.key = std::string(trim(term.substr(0, at)));
      r.op = Op::kNotEquals;
      r.values.emplace_back(trim(term.substr(at + 2)));
    } else if (size_t eq = term.find('='); eq != std::string_view::npos) {
      const size_t skip = term.substr(eq, 2) == "==" ? 2 : 1;
      r.key = std::string(trim(term.substr(0, eq)));
      r.op = Op::kEquals;
      r.values.emplace_back(trim(term.substr(eq + skip)));
    } else if (size_t open = term.find('('); open != std::string_view::npos) {
      if (term.back() != ')') return bad("has no closing parenthesis");
      std::string_view head = trim(term.substr(0, open));
      const size_t space = head.rfind(' ');
      if (space == std::string_view::npos) return bad("needs 'in' or 'notin' before the values");
      const std::string_view op = head.substr(space + 1);
      if (op == "in") {
        r.op = Op::kIn;
      } else if (op == "notin") {
        r.op = Op::kNotIn;
      } else {
        return bad("has unknown operator '" + std::string(op) + "'; use in or notin");
      }
      r.key = std::string(trim(head.substr(0, space)));
      std::string_view list = term.substr(open + 1, term.size() - open - 2);
      if (trim(list).empty()) {
        return bad("has an empty set of values; 'in' and 'notin' need one or more");
      }
      for (std::string_view v : terms(list)) {
        if (!v.empty() && !validToken(v)) return bad("has invalid value '" + std::string(v) + "'");
        r.values.emplace_back(v);
      }
    } else {
      r.key = std::string(term);
      r.op = Op::kExists;
    }
    if (!validToken(r.key)) return bad("has an invalid key");
    for (const auto& v : r.values) {
      if (!v.empty() && !validToken(v)) return bad("has an invalid value '" + v + "'");
    }
    selector.requirements_.push_back(std::move(r));
  }
  return selector;
}

bool LabelSelector::holds(const Requirement& r, const std::string* value) {
  const bool in_values =
      value != nullptr && std::find(r.values.begin(), r.values.end(), *value) != r.values.end();
  switch (r.op) {
    case Op::kEquals:
    case Op::kIn: return in_values;
    case Op::kNotEquals:
    case Op::kNotIn: return !in_values;
    case Op::kExists: return value != nullptr;
    case Op::kDoesNotExist: return value == nullptr;
  }
  return false;
}

}  // namespace kbinder::host
