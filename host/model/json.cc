// SPDX-License-Identifier: Apache-2.0
#include "host/model/json.h"

#include <utility>

namespace kbinder::host {
namespace {

// Gives `fields` room for `capacity` members. vector::reserve and shrink_to_fit would copy
// every value whole (a key is const, so an element's move may throw); the values are moved
// here, and only the keys copied.
void refit(Json::object_t& fields, size_t capacity) {
  Json::object_t fitted;
  fitted.reserve(capacity);
  for (auto& field : fields) fitted.emplace_back(field.first, std::move(field.second));
  fields.swap(fitted);
}

}  // namespace

Json& member(Json& object, const std::string& key) {
  if (!object.is_object()) object = Json::object();
  auto& fields = object.get_ref<Json::object_t&>();
  for (auto& field : fields) {
    if (field.first == key) return field.second;
  }
  if (fields.size() == fields.capacity()) refit(fields, fields.size() + 1);
  return fields.emplace_back(key, nullptr).second;
}

void shrinkToFit(Json& value) {
  if (value.is_object()) {
    auto& fields = value.get_ref<Json::object_t&>();
    for (auto& field : fields) shrinkToFit(field.second);
    if (fields.capacity() > fields.size()) refit(fields, fields.size());
  } else if (value.is_array()) {
    auto& items = value.get_ref<Json::array_t&>();
    for (Json& item : items) shrinkToFit(item);
    items.shrink_to_fit();  // a Json moves without throwing: nothing is copied
  }
}

}  // namespace kbinder::host
