// SPDX-License-Identifier: Apache-2.0
#include "host/base/parallel.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <system_error>
#include <thread>
#include <vector>

namespace kbinder::host {

void forEachChunk(size_t count, size_t chunk,
                  const std::function<void(size_t begin, size_t end)>& work) {
  chunk = std::max<size_t>(1, chunk);
  const size_t chunks = (count + chunk - 1) / chunk;
  const size_t threads =
      std::clamp<size_t>(std::thread::hardware_concurrency(), 1, std::max<size_t>(1, chunks));
  std::atomic<size_t> next{0};
  std::vector<std::exception_ptr> errors(threads);
  auto run = [&](size_t thread) {
    try {
      for (size_t at = next.fetch_add(1); at < chunks; at = next.fetch_add(1)) {
        work(at * chunk, std::min(count, (at + 1) * chunk));
      }
    } catch (...) {
      errors[thread] = std::current_exception();
      next = chunks;  // no chunk starts after a failure
    }
  };
  std::vector<std::thread> started;
  for (size_t thread = 1; thread < threads; ++thread) {
    try {
      started.emplace_back(run, thread);
    } catch (const std::system_error&) {
      break;  // the threads running take its chunks
    }
  }
  run(0);
  for (auto& thread : started) thread.join();
  for (const auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
}

}  // namespace kbinder::host
