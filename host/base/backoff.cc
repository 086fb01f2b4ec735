// SPDX-License-Identifier: Apache-2.0
#include "host/base/backoff.h"

#include <algorithm>
#include <cmath>

namespace kbinder::host {

std::chrono::milliseconds backoffDelay(std::chrono::milliseconds base,
                                       std::chrono::milliseconds cap, double jitter, int failures,
                                       double random_unit) {
  const double exponent = std::min(std::max(failures - 1, 0), 62);
  double delay = std::min(static_cast<double>(cap.count()),
                          static_cast<double>(base.count()) * std::pow(2.0, exponent));
  delay *= 1.0 + jitter * (2.0 * random_unit - 1.0);
  return std::chrono::milliseconds(std::llround(std::max(delay, 0.0)));
}

}  // namespace kbinder::host
