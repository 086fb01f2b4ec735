// SPDX-License-Identifier: Apache-2.0
#include "host/kube/watch_stream.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "host/base/backoff.h"
#include "host/base/logging.h"

namespace kbinder::host {
namespace {

using kbinder::v1::Object;

class ApiWatch final : public Watch {
 public:
  ApiWatch(KubeClient& client, Kind kind, std::string namespace_, std::string rv,
           std::chrono::seconds timeout)
      : client_(client),
        kind_(kind),
        namespace_(std::move(namespace_)),
        timeout_(timeout),
        rv_(std::move(rv)) {
    thread_ = std::thread([this] { run(); });
  }
  ~ApiWatch() override {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
  }

  StatusOr<std::optional<WatchEvent>> next(std::chrono::milliseconds timeout) override {
    std::unique_lock lock(mutex_);
    ready_.wait_for(lock, timeout, [&] { return !queue_.empty() || !ended_.ok(); });
    if (!queue_.empty()) {
      WatchEvent event = std::move(queue_.front());
      queue_.pop_front();
      return std::optional<WatchEvent>(std::move(event));
    }
    if (!ended_.ok()) return ended_;
    return std::optional<WatchEvent>();
  }

 private:
  void end(Status why) {
    std::lock_guard lock(mutex_);
    ended_ = std::move(why);
    ready_.notify_all();
  }

  // Queues a change (ADDED, MODIFIED or DELETED) for next().
  void deliver(const std::string& type, Object object) {
    WatchEvent e;
    e.type = type == "ADDED"     ? WatchEvent::Type::kAdded
             : type == "DELETED" ? WatchEvent::Type::kDeleted
                                 : WatchEvent::Type::kModified;
    e.object = std::move(object);
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(e));
    ready_.notify_all();
  }

  // A watch event's type that carries a change (or a bookmark), as opposed to ERROR.
  static bool isChange(const std::string& type) {
    return type == "ADDED" || type == "MODIFIED" || type == "DELETED" || type == "BOOKMARK";
  }

  // A watch event read as a JSON tree; false (with `error` set) when the stream must end.
  bool handleTree(const std::string& text, std::string& error, bool& gone) {
    Json event = Json::parse(text, nullptr, false);
    if (event.is_discarded()) {
      error = "a watch event is not JSON";
      return false;
    }
    const std::string type = event.value("type", "");
    if (!isChange(type) && type != "ERROR") {
      error = "a watch event of unknown type \"" + type + "\"";
      return false;
    }
    const Json& object = event["object"];
    if (type == "ERROR") {
      gone = object.value("code", 0) == 410;
      error = object.value("message", "watch error");
      return false;
    }
    const std::string rv = rawString(object, {"metadata", "resourceVersion"});
    if (type != "BOOKMARK") {
      auto typed = objectFromJson(kind_, object);
      if (!typed.ok()) {
        hostLogger().warn("watch of {}: skipping an object that does not convert: {}",
                          kindResource(kind_), typed.status().message());
      } else {
        deliver(type, std::move(typed).value());
      }
    }
    if (!rv.empty()) rv_ = rv;
    return true;
  }

  void run() {
    Backoff backoff(std::chrono::milliseconds(100), std::chrono::milliseconds(5000));
    while (!stopping_) {
      const std::string path = resourcePath(kind_, namespace_) +
                               "?watch=true&allowWatchBookmarks=true" +
                               "&timeoutSeconds=" + std::to_string(timeout_.count()) +
                               "&resourceVersion=" + client_.escape(rv_);
      JsonStreamSplitter splitter;  // a cut event is dropped; it comes again after reconnecting
      bool gone = false;
      std::string error;
      const HttpResult result = client_.stream(
          path,
          [&](std::string_view data) {
            for (const std::string& text : splitter.feed(data)) {
              // A change is read straight from the text. Anything else (an ERROR, text that is
              // not JSON or an object that does not convert) is read again as a tree.
              auto event = watchEventFromJsonText(kind_, text);
              if (!event.ok() || !isChange(event->type)) {
                if (!handleTree(text, error, gone)) return false;
                continue;
              }
              const std::string& type = event->type;
              const std::string rv = metadataOf(event->object).resource_version();
              if (type != "BOOKMARK") deliver(type, std::move(event->object));
              if (!rv.empty()) rv_ = rv;
            }
            return !stopping_.load();
          },
          timeout_ + std::chrono::seconds(30), &stopping_);
      if (stopping_) break;
      if (gone || result.status == 410) {
        end(Status(StatusCode::kAborted, "too old resource version: " + rv_));
        return;
      }
      if (result.status >= 400) {
        const Status s = statusOf(result, "watching " + std::string(kindResource(kind_)));
        if (result.status == 401 || result.status == 403 || result.status == 404) {
          end(s);
          return;
        }
        hostLogger().warn("{}; reconnecting", s.message());
      } else if (!error.empty()) {
        hostLogger().warn("watch of {}: {}; reconnecting", kindResource(kind_), error);
      }
      const bool failed = result.status != 200 || !error.empty();
      if (failed) {
        std::this_thread::sleep_for(backoff.next());
      } else {
        backoff.reset();
      }
    }
    end(Status(StatusCode::kUnavailable, "watch stopped"));
  }

  KubeClient& client_;
  Kind kind_;
  std::string namespace_;
  std::chrono::seconds timeout_;
  std::string rv_;  // the last resourceVersion seen: where a reconnect resumes
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<WatchEvent> queue_;
  Status ended_;
  std::thread thread_;
};

}  // namespace

std::string resourcePath(Kind kind, const std::string& namespace_, const std::string& name) {
  const std::string api_version(kindApiVersion(kind));
  std::string path = api_version == "v1" ? "/api/v1" : "/apis/" + api_version;
  if (kindNamespaced(kind) && !namespace_.empty()) path += "/namespaces/" + namespace_;
  path += "/" + std::string(kindResource(kind));
  if (!name.empty()) path += "/" + name;
  return path;
}

std::vector<std::string> JsonStreamSplitter::feed(std::string_view data) {
  std::vector<std::string> out;
  for (char c : data) {
    if (depth_ == 0) {
      if (c != '{') continue;  // whitespace (or keep-alive bytes) between objects
    }
    current_.push_back(c);
    if (in_string_) {
      if (escaped_) {
        escaped_ = false;
      } else if (c == '\\') {
        escaped_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
      continue;
    }
    if (c == '"') {
      in_string_ = true;
    } else if (c == '{') {
      ++depth_;
    } else if (c == '}' && --depth_ == 0) {
      out.push_back(std::move(current_));
      current_.clear();
    }
  }
  return out;
}

std::unique_ptr<Watch> watchApi(KubeClient& client, Kind kind, const std::string& namespace_,
                                const std::string& resource_version, std::chrono::seconds timeout) {
  return std::make_unique<ApiWatch>(client, kind, namespace_, resource_version, timeout);
}

StatusOr<std::string> ApiListWatch::list(const std::function<void(WatchEvent&&)>& item) {
  const std::string what = "listing " + std::string(kindResource(kind_));
  std::string rv, cont;
  do {
    std::string path = resourcePath(kind_, namespace_) + "?limit=" + std::to_string(page_size_);
    if (!cont.empty()) path += "&continue=" + KubeClient::escape(cont);
    const HttpResult r = client_.request("GET", path);
    if (r.status != 200) return statusOf(r, what);
    Json page = Json::parse(r.body, nullptr, false);
    if (page.is_discarded() || !page.is_object()) {
      return Status(StatusCode::kUnavailable, what + ": the API server's answer is not JSON");
    }
    if (rv.empty()) rv = rawString(page, {"metadata", "resourceVersion"});
    cont = rawString(page, {"metadata", "continue"});
    const auto items = page.find("items");
    if (items == page.end() || !items->is_array()) continue;
    for (auto& raw : *items) {
      auto typed = objectFromJson(kind_, raw);
      if (!typed.ok()) {
        hostLogger().warn("{}: skipping an object that does not convert: {}", what,
                          typed.status().message());
        continue;
      }
      item(WatchEvent{WatchEvent::Type::kAdded, std::move(typed).value(),
                      std::make_shared<Json>(std::move(raw))});
    }
  } while (!cont.empty());
  return rv;
}

}  // namespace kbinder::host
