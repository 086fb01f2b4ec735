// SPDX-License-Identifier: Apache-2.0
// The controller's work queue: one worker per key, no key before its time, changes while a key
// is processed queue it again, holds are not cut short, shutdown wakes every worker.
#include "host/cycle/work_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>
#include <vector>

namespace kbinder::host {
namespace {

using Clock = WorkQueue::Clock;
using After = WorkQueue::After;
using namespace std::chrono_literals;

TEST(WorkQueueTest, TakesKeysInTheOrderOfTheirTimesAndEachOnce) {
  WorkQueue queue;
  const auto now = Clock::now();
  queue.add("b", now - 1ms);
  queue.add("a", now - 2ms);
  queue.add("b", now - 3ms);  // queued already: not brought forward, not queued twice
  EXPECT_EQ(queue.depth(), 2u);
  EXPECT_EQ(queue.get(), "a");
  EXPECT_EQ(queue.get(), "b");
  EXPECT_EQ(queue.depth(), 0u);
  EXPECT_EQ(queue.processing(), 2);
}

TEST(WorkQueueTest, AKeyIsNotTakenBeforeItsTime) {
  WorkQueue queue;
  const auto due = Clock::now() + 50ms;
  queue.add("a", due);
  EXPECT_EQ(queue.get(), "a");
  EXPECT_GE(Clock::now(), due);
}

TEST(WorkQueueTest, AKeyChangedWhileProcessedIsQueuedAgainOnlyWhenDone) {
  WorkQueue queue;
  queue.add("a");
  ASSERT_EQ(queue.get(), "a");
  queue.add("a");  // while processed: not queued, so no second worker can take it
  EXPECT_EQ(queue.depth(), 0u);
  queue.done("a", After::kAgainIfChanged);
  EXPECT_EQ(queue.depth(), 1u);
  ASSERT_EQ(queue.get(), "a");
  queue.done("a", After::kAgainIfChanged);  // unchanged this time
  EXPECT_EQ(queue.depth(), 0u);
  EXPECT_EQ(queue.processing(), 0);
}

TEST(WorkQueueTest, ASettledKeyDropsWhatChangedWhileItWasProcessed) {
  WorkQueue queue;
  queue.add("a");
  ASSERT_EQ(queue.get(), "a");
  queue.add("a");
  queue.done("a", After::kSettled);
  EXPECT_EQ(queue.depth(), 0u);
  queue.add("a");  // a change after it settled queues it again
  EXPECT_EQ(queue.depth(), 1u);
}

TEST(WorkQueueTest, AHoldIsNotCutShortByLaterChanges) {
  WorkQueue queue;
  queue.add("a");
  ASSERT_EQ(queue.get(), "a");
  const auto until = Clock::now() + 80ms;
  queue.holdUntil("a", until);  // a backoff: look again then
  queue.done("a", After::kAgainIfChanged);
  EXPECT_EQ(queue.depth(), 1u);
  queue.add("a");  // the request changed meanwhile
  EXPECT_EQ(queue.get(), "a");
  EXPECT_GE(Clock::now(), until);
}

TEST(WorkQueueTest, AHeldKeyNotProcessedIsQueuedForTheHold) {
  WorkQueue queue;
  const auto until = Clock::now() + 30ms;
  queue.holdUntil("a", until);
  EXPECT_EQ(queue.depth(), 1u);
  EXPECT_EQ(queue.get(), "a");
  EXPECT_GE(Clock::now(), until);
}

TEST(WorkQueueTest, AForgottenKeyIsNotTakenAndItsWorkerFinishesQuietly) {
  WorkQueue queue;
  queue.add("a");
  queue.add("b");
  queue.forget("a");
  EXPECT_EQ(queue.depth(), 1u);
  ASSERT_EQ(queue.get(), "b");
  queue.forget("b");
  queue.done("b", After::kAgainIfChanged);
  EXPECT_EQ(queue.depth(), 0u);
  EXPECT_EQ(queue.processing(), 0);
}

TEST(WorkQueueTest, ShutDownWakesEveryWaitingWorker) {
  WorkQueue queue;
  std::vector<std::future<std::optional<std::string>>> workers;
  for (int i = 0; i < 4; ++i) {
    workers.push_back(std::async(std::launch::async, [&] { return queue.get(); }));
  }
  queue.add("later", Clock::now() + std::chrono::hours(1));  // due too late to matter
  queue.shutDown();
  for (auto& worker : workers) EXPECT_EQ(worker.get(), std::nullopt);
  EXPECT_EQ(queue.get(), std::nullopt);  // nothing is taken after shutdown
}

TEST(WorkQueueTest, WaitIdleWaitsForTheKeysInProcess) {
  WorkQueue queue;
  queue.add("a");
  ASSERT_EQ(queue.get(), "a");
  EXPECT_FALSE(queue.waitIdle(10ms));
  std::thread finisher([&] {
    std::this_thread::sleep_for(20ms);
    queue.done("a", After::kSettled);
  });
  EXPECT_TRUE(queue.waitIdle(10s));
  finisher.join();
}

TEST(WorkQueueTest, ManyWorkersNeverHoldOneKeyAtOnce) {
  WorkQueue queue;
  constexpr int kKeys = 20, kRounds = 200;
  std::vector<std::atomic<int>> holders(kKeys);
  std::atomic<bool> overlap{false};
  std::atomic<int> processed{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      while (auto key = queue.get()) {
        const int i = std::stoi(*key);
        if (holders[i].fetch_add(1) != 0) overlap = true;
        std::this_thread::yield();
        holders[i].fetch_sub(1);
        ++processed;
        queue.done(*key, After::kAgainIfChanged);
      }
    });
  }
  for (int round = 0; round < kRounds; ++round) {
    for (int i = 0; i < kKeys; ++i) queue.add(std::to_string(i));
  }
  while (queue.depth() > 0 || queue.processing() > 0) std::this_thread::sleep_for(1ms);
  queue.shutDown();
  for (auto& worker : workers) worker.join();
  EXPECT_FALSE(overlap);
  EXPECT_GE(processed.load(), kKeys);
}

}  // namespace
}  // namespace kbinder::host
