// SPDX-License-Identifier: Apache-2.0
// Exponential backoff, the one way kbinder waits after a failure before trying again: a base
// delay doubled for each further failure, capped, optionally spread by jitter.
#pragma once

#include <chrono>

namespace kbinder::host {

// The delay before attempt `failures + 1` (`failures` >= 1; less counts as 1):
// base * 2^(failures - 1), capped at `cap`, then scaled by 1 + jitter * (2 * random_unit - 1),
// a factor in [1 - jitter, 1 + jitter] for `random_unit` in [0, 1]. Never negative.
std::chrono::milliseconds backoffDelay(std::chrono::milliseconds base,
                                       std::chrono::milliseconds cap, double jitter, int failures,
                                       double random_unit);

// The delays of a loop that retries until it succeeds: next() gives base, then twice that, and
// so on up to cap; reset() after a success starts again from base. Not thread-safe: one per
// loop.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap) : base_(base), cap_(cap) {}
  std::chrono::milliseconds next() { return backoffDelay(base_, cap_, 0, ++failures_, 0.5); }
  void reset() { failures_ = 0; }

 private:
  std::chrono::milliseconds base_, cap_;
  int failures_ = 0;
};

}  // namespace kbinder::host
