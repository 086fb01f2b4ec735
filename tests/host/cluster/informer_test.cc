// SPDX-License-Identifier: Apache-2.0
// The informer: the first list goes to the handler, then every change in order; a handler of
// encoded changes takes them where the watch serves them so; when the watch ends it lists
// again (a failed list is tried again), and a list handler is told where each list begins and
// how it ended.
#include "host/cluster/informer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cluster_support.h"

namespace kbinder::testing {
namespace {

using host::Informer;
using host::WatchEvent;

// What a handler was given, in order: "decoded NAME" or "encoded NAME" (read from the bytes).
class Seen {
 public:
  void add(std::string what) {
    std::lock_guard lock(mutex_);
    seen_.push_back(std::move(what));
  }
  // Waits (generously) until `count` were seen.
  std::vector<std::string> awaitCount(size_t count) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard lock(mutex_);
        if (seen_.size() >= count) return seen_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> seen_;
};

std::string nameIn(std::string_view encoded) {
  kbinder::v1::Object object;
  if (!object.ParseFromArray(encoded.data(), static_cast<int>(encoded.size()))) return "?";
  return host::metadataOf(object).name();
}

TEST(InformerTest, ChangesGoToTheEncodedHandlerWhereTheWatchServesThem) {
  auto store = storeFrom(Cluster{MakePod("p").cpu("1"), MakePod("q").cpu("1"),
                                 MakeNode("n1").cpu("4"), MakeVolume("v1").storageClass("local")});
  Seen pods, pods_of_default, volumes;
  const auto decoded = [](Seen& seen) {
    return
        [&seen](const WatchEvent& e) { seen.add("decoded " + host::metadataOf(e.object).name()); };
  };
  const auto encoded = [](Seen& seen) {
    return [&seen](WatchEvent::Type type, std::string_view bytes) {
      seen.add(std::string(type == WatchEvent::Type::kDeleted ? "deleted " : "encoded ") +
               nameIn(bytes));
    };
  };
  Informer pod_informer(*store, host::Kind::kPod, "", decoded(pods));
  pod_informer.handleEncoded(encoded(pods));
  // One namespace: filtered by decoded metadata, so changes come decoded.
  Informer default_informer(*store, host::Kind::kPod, "default", decoded(pods_of_default));
  default_informer.handleEncoded(encoded(pods_of_default));
  // Volumes are kept as messages: their watch decodes.
  Informer volume_informer(*store, host::Kind::kPersistentVolume, "", decoded(volumes));
  volume_informer.handleEncoded(encoded(volumes));
  for (Informer* informer : {&pod_informer, &default_informer, &volume_informer}) {
    informer->start();
    ASSERT_TRUE(informer->waitForSync().ok());
  }
  ASSERT_TRUE(bindPod(*store, "default", "q", "", "n1").ok());
  using Edit = host::MetadataEdit;
  ASSERT_TRUE(store
                  ->patchMetadata(host::Kind::kPersistentVolume, "", "v1", "",
                                  {{Edit::Map::kLabels, "x", std::string("y")}})
                  .ok());
  ASSERT_TRUE(RawStore(*store).remove("Pod", "default", "p").ok());

  const std::vector<std::string> first_list{"decoded p", "decoded q"};
  auto all = first_list;
  all.insert(all.end(), {"encoded q", "deleted p"});
  EXPECT_EQ(pods.awaitCount(4), all);
  auto in_default = first_list;
  in_default.insert(in_default.end(), {"decoded q", "decoded p"});
  EXPECT_EQ(pods_of_default.awaitCount(4), in_default);
  EXPECT_EQ(volumes.awaitCount(2), (std::vector<std::string>{"decoded v1", "decoded v1"}));
  for (Informer* informer : {&pod_informer, &default_informer, &volume_informer}) informer->stop();
}

// A source scripted by the test: each list() hands over `pods` (failing after the first
// object when `fail_lists` says so), and each watch() yields one change, then ends as Gone.
class ScriptedSource final : public host::ListWatch {
 public:
  explicit ScriptedSource(int fail_lists) : fail_lists_(fail_lists) {}
  host::StatusOr<std::string> list(const std::function<void(WatchEvent&&)>& item) override {
    ++lists_;
    for (const char* name : {"a", "b"}) {
      WatchEvent event;
      event.object.mutable_pod()->mutable_metadata()->set_name(name);
      item(std::move(event));
      if (fail_lists_ > 0) {
        --fail_lists_;
        return host::Status(host::StatusCode::kUnavailable, "the server went away mid-list");
      }
    }
    return std::to_string(lists_);
  }
  host::StatusOr<std::unique_ptr<host::Watch>> watch(const std::string& rv) override {
    class OneChange final : public host::Watch {
     public:
      explicit OneChange(std::string rv) : rv_(std::move(rv)) {}
      host::StatusOr<std::optional<WatchEvent>> next(std::chrono::milliseconds) override {
        if (given_) return host::Status(host::StatusCode::kAborted, "too old resource version");
        given_ = true;
        WatchEvent event;
        event.type = WatchEvent::Type::kModified;
        event.object.mutable_pod()->mutable_metadata()->set_name("from-watch-" + rv_);
        return std::optional<WatchEvent>(std::move(event));
      }

     private:
      std::string rv_;
      bool given_ = false;
    };
    return std::unique_ptr<host::Watch>(std::make_unique<OneChange>(rv));
  }

 private:
  int fail_lists_;
  int lists_ = 0;
};

TEST(InformerTest, ListsAgainWhenTheWatchEndsAndTellsHowEachListEnded) {
  Seen seen;
  Informer informer(std::make_unique<ScriptedSource>(/*fail_lists=*/1), host::Kind::kPod, "",
                    [&](const WatchEvent& e) { seen.add(e.object.pod().metadata().name()); });
  informer.handleLists([&](Informer::ListPhase phase, const std::string& rv) {
    seen.add(phase == Informer::ListPhase::kBegin      ? "begin"
             : phase == Informer::ListPhase::kComplete ? "complete " + rv
                                                       : "failed");
  });
  informer.start();
  ASSERT_TRUE(informer.waitForSync().ok());
  const auto lines = seen.awaitCount(14);
  informer.stop();
  ASSERT_GE(lines.size(), 14u);
  // The first list fails after one object and is tried again (after a backoff); the watch
  // from the complete list's version gives one change and ends; the informer lists again.
  EXPECT_EQ(std::vector<std::string>(lines.begin(), lines.begin() + 14),
            (std::vector<std::string>{"begin", "a", "failed", "begin", "a", "b", "complete 2",
                                      "from-watch-2", "begin", "a", "b", "complete 3",
                                      "from-watch-3", "begin"}));
}

}  // namespace
}  // namespace kbinder::testing
