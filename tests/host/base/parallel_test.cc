// SPDX-License-Identifier: Apache-2.0
// Work shared over the cores: every item once, in its chunk, and failures handed back.
#include "host/base/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

namespace kbinder::host {
namespace {

TEST(ParallelTest, EveryItemIsWorkedOnOnceInChunksOfTheSizeAsked) {
  for (const size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{256}, size_t{10'001}}) {
    std::vector<std::atomic<int>> seen(count);
    std::mutex mutex;
    std::set<std::pair<size_t, size_t>> chunks;
    std::set<std::thread::id> threads;
    forEachChunk(count, 100, [&](size_t begin, size_t end) {
      for (size_t i = begin; i < end; ++i) ++seen[i];
      std::lock_guard lock(mutex);
      chunks.insert({begin, end});
      threads.insert(std::this_thread::get_id());
    });
    for (size_t i = 0; i < count; ++i) EXPECT_EQ(seen[i], 1) << "item " << i << " of " << count;
    EXPECT_EQ(chunks.size(), (count + 99) / 100);
    for (const auto& [begin, end] : chunks) {
      EXPECT_EQ(begin % 100, 0u);
      EXPECT_EQ(end, std::min(count, begin + 100));
    }
    EXPECT_LE(threads.size(), std::max(1u, std::thread::hardware_concurrency()));
  }
}

TEST(ParallelTest, AFailureStopsTheWorkAndIsThrownOnceTheChunksUnderWayHaveFinished) {
  // Chunk 50 fails. A chunk after it may already be taken by another thread while the
  // exception travels to the catch; those chunks are slow, so the failure is recorded long
  // before any of them can finish and hand the thread another.
  std::atomic<int> running{0}, finishedBefore{0}, finishedAfter{0};
  EXPECT_THROW(forEachChunk(1000, 10,
                            [&](size_t begin, size_t) {
                              ++running;
                              if (begin == 500) throw std::runtime_error("item 500 is bad");
                              if (begin < 500) {
                                std::this_thread::sleep_for(std::chrono::microseconds(200));
                                ++finishedBefore;
                              } else {
                                std::this_thread::sleep_for(std::chrono::milliseconds(100));
                                ++finishedAfter;
                              }
                              --running;
                            }),
               std::runtime_error);
  EXPECT_EQ(running, 1);  // only the chunk that threw is left unfinished
  // Chunks are taken in order: the 50 before the failing one all finish, and of those after
  // it at most one per other thread, taken before the failure was recorded.
  const int others = static_cast<int>(std::max(1u, std::thread::hardware_concurrency())) - 1;
  EXPECT_EQ(finishedBefore, 50);
  EXPECT_LE(finishedAfter, others);
}

}  // namespace
}  // namespace kbinder::host
