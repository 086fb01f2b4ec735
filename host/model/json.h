// SPDX-License-Identifier: Apache-2.0
// The JSON values kbinder keeps objects in (nlohmann's, with key order kept, so that what is
// written back diffs cleanly against what was read), and the two helpers that keep them small.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace kbinder::host {

using Json = nlohmann::ordered_json;

// Gives back what `value`'s objects and arrays hold beyond their size, at every depth. Parsing
// and adding keys grow them by doubling, so a stored object would otherwise carry up to as much
// unused room as it has content.
void shrinkToFit(Json& value);
// `object[key]`, `object` made an object first when it is not one. A new key grows the object
// by moving its values: operator[] on a full object (as shrinkToFit leaves it) copies every
// value whole, since an element's key is const and its move may throw.
Json& member(Json& object, const std::string& key);

}  // namespace kbinder::host
