// SPDX-License-Identifier: Apache-2.0
// The Kubernetes backend's object cache over a scripted source: it mirrors what its informer
// hands over, drops what a complete list no longer has (telling its subscribers), keeps what a
// failed list did not reach, and hands a late subscriber what it holds first.
#include "host/kube/object_cache.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace kbinder::host {
namespace {

// Lists hand over the names the test sets for each list in turn (the last again once they run
// out; a list of "!" fails after what came before it); each watch waits until the test ends it.
class ScriptedPods final : public ListWatch {
 public:
  explicit ScriptedPods(std::vector<std::vector<std::string>> lists) : lists_(std::move(lists)) {}
  StatusOr<std::string> list(const std::function<void(WatchEvent&&)>& item) override {
    std::vector<std::string> names;
    {
      std::lock_guard lock(mutex_);
      names = lists_[std::min(listed_, lists_.size() - 1)];
      ++listed_;
    }
    for (const std::string& name : names) {
      if (name == "!") return Status(StatusCode::kUnavailable, "cut off mid-list");
      WatchEvent event;
      auto& meta = *event.object.mutable_pod()->mutable_metadata();
      meta.set_name(name);
      meta.set_namespace_("default");
      item(std::move(event));
    }
    return std::string("10");
  }
  StatusOr<std::unique_ptr<Watch>> watch(const std::string&) override {
    class Held final : public Watch {
     public:
      explicit Held(ScriptedPods& source) : source_(source) {}
      StatusOr<std::optional<WatchEvent>> next(std::chrono::milliseconds timeout) override {
        std::unique_lock lock(source_.mutex_);
        if (source_.cv_.wait_for(lock, timeout, [&] { return source_.end_watch_; })) {
          source_.end_watch_ = false;
          return Status(StatusCode::kAborted, "too old resource version");
        }
        return std::optional<WatchEvent>();
      }

     private:
      ScriptedPods& source_;
    };
    return std::unique_ptr<Watch>(std::make_unique<Held>(*this));
  }
  void endWatch() {
    std::lock_guard lock(mutex_);
    end_watch_ = true;
    cv_.notify_all();
  }
  size_t listed() {
    std::lock_guard lock(mutex_);
    return listed_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::vector<std::string>> lists_;
  size_t listed_ = 0;
  bool end_watch_ = false;
};

class Seen {
 public:
  void add(const WatchEvent& e) {
    std::lock_guard lock(mutex_);
    lines_.push_back(std::string(e.type == WatchEvent::Type::kDeleted ? "DELETED " : "ADDED ") +
                     e.object.pod().metadata().name());
  }
  std::vector<std::string> lines() {
    std::lock_guard lock(mutex_);
    return lines_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> lines_;
};

bool holds(ObjectCache& cache, const std::string& name) {
  return cache.readTyped("default", name, [](const kbinder::v1::Object&) {});
}

void awaitLists(ScriptedPods& source, size_t lists) {
  for (int i = 0; i < 2000 && source.listed() < lists; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

TEST(ObjectCacheTest, ACompleteListDropsWhatItNoLongerHasAndTellsSubscribers) {
  auto source = std::make_unique<ScriptedPods>(
      std::vector<std::vector<std::string>>{{"a", "b", "c"}, {"a", "!"}, {"a", "c"}});
  ScriptedPods& pods = *source;
  ObjectCache cache(std::move(source), Kind::kPod, "");
  cache.start();
  ASSERT_TRUE(cache.waitSynced(std::chrono::seconds(20)));
  Seen seen;
  auto subscription = cache.subscribe("", [&](const WatchEvent& e) { seen.add(e); });
  ASSERT_TRUE(subscription->waitForSync().ok());
  EXPECT_EQ(seen.lines(), (std::vector<std::string>{"ADDED a", "ADDED b", "ADDED c"}));

  // Gone: the next list is cut off after "a" (nothing is dropped for it), and the one after,
  // complete, no longer has "b", which went while no watch ran.
  pods.endWatch();
  awaitLists(pods, 3);
  for (int i = 0; i < 2000 && seen.lines().size() < 7; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_FALSE(holds(cache, "b"));
  EXPECT_TRUE(holds(cache, "a"));
  EXPECT_TRUE(holds(cache, "c"));
  // Handed on: the first list, the cut list's "a", the complete list, and b's deletion; no
  // deletion for what the cut list did not reach.
  EXPECT_EQ(seen.lines(), (std::vector<std::string>{"ADDED a", "ADDED b", "ADDED c", "ADDED a",
                                                    "ADDED a", "ADDED c", "DELETED b"}));
  subscription->stop();
  cache.stop();
}

}  // namespace
}  // namespace kbinder::host
