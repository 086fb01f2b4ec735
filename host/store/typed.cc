// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <iterator>
#include <memory>
#include <utility>

#include "host/store/store_state.h"

namespace kbinder::host::store_internal {

using kbinder::v1::Object;

namespace {
bool indexed(Kind kind) {
  return std::any_of(std::begin(kIndexedFields), std::end(kIndexedFields),
                     [&](const IndexedField& field) { return field.kind == kind; });
}
}  // namespace

bool StoreState::Typed::encoded(Kind kind) {
  return !indexed(kind);
}

StoreState::Typed::Typed(Kind kind, const Object& object) {
  if (encoded(kind)) {
    encoded_ = std::make_shared<const std::string>(object.SerializeAsString());
    whole_ = encoded_->size();
  } else {
    message_ = std::make_shared<const Object>(object);
  }
}

StoreState::Typed StoreState::Typed::stamped(Kind kind, std::string encoded,
                                             const std::string& resource_version, size_t whole) {
  Typed typed;
  typed.whole_ = std::min(whole, encoded.size());
  appendResourceVersionStamp(kind, resource_version, encoded);  // made under the lock: no message
  typed.encoded_ = std::make_shared<const std::string>(std::move(encoded));
  return typed;
}

std::optional<std::string> StoreState::Typed::merged(const Object& fragment) const {
  if (encoded_ == nullptr) return std::nullopt;
  const size_t size = fragment.ByteSizeLong();
  if (encoded_->size() + size > 2 * whole_) return std::nullopt;
  std::string out;
  out.reserve(encoded_->size() + size + 32);  // room for the stamp
  out = *encoded_;
  fragment.AppendToString(&out);
  return out;
}

StoreState::Typed StoreState::Typed::restamped(Kind kind,
                                               const std::string& resource_version) const {
  if (encoded_ != nullptr) return stamped(kind, *encoded_, resource_version, whole_);
  Typed typed;
  if (message_ != nullptr) {
    auto copy = std::make_shared<Object>(*message_);
    mutableMetadataOf(*copy).set_resource_version(resource_version);
    typed.message_ = std::move(copy);
  }
  return typed;
}

void StoreState::encodeAhead(Kind kind, Version& version) {
  if (!version.typed || !Typed::encoded(kind)) return;
  mutableMetadataOf(*version.typed).clear_resource_version();
  version.encoded.reserve(version.typed->ByteSizeLong() + 32);  // room for the stamp
  version.typed->AppendToString(&version.encoded);
}

StatusOr<Object> StoreState::Typed::get() const {
  if (message_ != nullptr) return *message_;
  Object object;
  if (encoded_ == nullptr || !object.ParseFromString(*encoded_)) {
    return internalError("a stored object's schema form does not decode; the store is corrupt");
  }
  return object;
}

std::string StoreState::Typed::encode() const {
  if (encoded_ != nullptr) return *encoded_;
  return message_ != nullptr ? message_->SerializeAsString() : std::string();
}

}  // namespace kbinder::host::store_internal
