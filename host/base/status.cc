// SPDX-License-Identifier: Apache-2.0
#include "host/base/status.h"

namespace kbinder::host {

Status Status::withContext(std::string_view context) const {
  if (ok()) return *this;
  return Status(code_, std::string(context) + ": " + message_);
}

}  // namespace kbinder::host
