// SPDX-License-Identifier: Apache-2.0
// YAML as kbinder reads and writes it, with libyaml: a stream's documents read into JSON values
// (on every core, for long streams), and values written as block-style YAML, as kubectl
// writes it.
//
// Reading: plain scalars follow the YAML 1.2 core schema (unquoted true/false, null/~,
// integers and floats are typed); quoted, block and explicitly tagged scalars are strings;
// aliases copy their anchor's value; a non-string key is written as its JSON text; of
// duplicate keys the last wins. Writing quotes a string wherever a YAML 1.1 reader (much of
// the Kubernetes tooling) would read it as something else.
//
// Thread-safety: free functions over values.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "host/base/status.h"
#include "host/model/json.h"

namespace kbinder::host {

struct YamlDocument {
  Json value;       // null for an empty document
  size_t line = 0;  // where it starts, from 1
};
// Every document of a YAML stream. Errors give the line and column.
StatusOr<std::vector<YamlDocument>> readYamlDocuments(std::string_view text);

// One YAML document to a value; `source` names the text in messages.
StatusOr<Json> parseYaml(std::string_view text, std::string_view source);
// A value appended to `out` as block-style YAML, every line indented by `indent` spaces.
void appendYaml(std::string& out, const Json& value, int indent);

}  // namespace kbinder::host
