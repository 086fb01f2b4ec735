// SPDX-License-Identifier: Apache-2.0
// The store's mutex: one holder at a time however many threads spin and sleep for it, and a
// condition variable waits on it as on any mutex.
#include "host/base/adaptive_mutex.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace kbinder::host {
namespace {

TEST(AdaptiveMutexTest, OneHolderAtATimeUnderContention) {
  AdaptiveMutex mutex;
  // More threads than cores, holding the lock long enough for others to spin out and sleep.
  const int threads = static_cast<int>(std::thread::hardware_concurrency()) * 4 + 2;
  constexpr int kRounds = 2'000;
  int inside = 0;
  long counter = 0;
  bool overlapped = false;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        std::lock_guard lock(mutex);
        if (++inside != 1) overlapped = true;
        const long seen = counter;
        if (i % 16 == 0) std::this_thread::yield();  // held while off the core: others sleep
        counter = seen + 1;
        --inside;
      }
    });
  }
  for (auto& t : pool) t.join();
  EXPECT_FALSE(overlapped);
  EXPECT_EQ(counter, static_cast<long>(threads) * kRounds);
}

TEST(AdaptiveMutexTest, TryLockFailsWhileHeldAndConditionVariablesWaitOnIt) {
  AdaptiveMutex mutex;
  std::condition_variable_any changed;
  bool ready = false;
  std::unique_lock lock(mutex);
  EXPECT_FALSE(mutex.try_lock());  // held
  std::thread other([&] {
    std::lock_guard hold(mutex);  // taken once the wait below lets it go
    ready = true;
    changed.notify_one();
  });
  EXPECT_TRUE(changed.wait_for(lock, std::chrono::seconds(10), [&] { return ready; }));
  lock.unlock();
  other.join();
  EXPECT_TRUE(mutex.try_lock());
  mutex.unlock();
}

}  // namespace
}  // namespace kbinder::host
