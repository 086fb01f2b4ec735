// SPDX-License-Identifier: Apache-2.0
#include "host/kube/kube_backend.h"

#include <condition_variable>
#include <deque>

#include "host/base/backoff.h"
#include "host/base/logging.h"
#include "host/cluster/field_index.h"
#include "host/cluster/list_filter.h"

namespace kbinder::host {
namespace {

using kbinder::v1::Object;

std::string urlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string keyOf(const std::string& ns, const std::string& name) { return ns + "/" + name; }

// The kinds whose reads come from caches: what a cycle reads on every attempt.
constexpr Kind kCachedKinds[] = {Kind::kPod,          Kind::kNode,
                                 Kind::kPersistentVolumeClaim, Kind::kPersistentVolume,
                                 Kind::kStorageClass, Kind::kResourceClaim};

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

// ---- watches --------------------------------------------------------------------------------

class KubernetesBackend::StreamWatch final : public Watch {
 public:
  StreamWatch(KubernetesBackend& backend, Kind kind, std::string namespace_, std::string rv)
      : backend_(backend), kind_(kind), namespace_(std::move(namespace_)), rv_(std::move(rv)) {
    thread_ = std::thread([this] { run(); });
  }
  ~StreamWatch() override {
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
      const std::string path = resourcePath(kind_, namespace_) + "?watch=true&allowWatchBookmarks=true" +
                               "&timeoutSeconds=" + std::to_string(backend_.options_.watch_timeout.count()) +
                               "&resourceVersion=" + urlEncode(rv_);
      JsonStreamSplitter splitter;  // a cut event is dropped; it comes again after reconnecting
      bool gone = false;
      std::string error;
      const HttpResult result = backend_.client_->stream(
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
          backend_.options_.watch_timeout + std::chrono::seconds(30), &stopping_);
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

  KubernetesBackend& backend_;
  Kind kind_;
  std::string namespace_;
  std::string rv_;  // the last resourceVersion seen: where a reconnect resumes
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<WatchEvent> queue_;
  Status ended_;
  std::thread thread_;
};

// ---- caches ---------------------------------------------------------------------------------

class KubernetesBackend::Cache {
 public:
  Cache(KubernetesBackend& backend, Kind kind, std::string namespace_)
      : backend_(backend), kind_(kind), namespace_(std::move(namespace_)) {}
  ~Cache() { stop(); }

  void start() { thread_ = std::thread([this] { run(); }); }
  void stop() {
    stopping_ = true;
    changed_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  bool waitSynced(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return synced_; });
  }

  struct Entry {
    Json raw;
    Object typed;
  };
  // Hands the object's typed form to `read`, under the cache's lock (what it takes is its
  // own: a copy, or the encoding); false if the object is not here (or the cache is not
  // synced yet).
  bool readTyped(const std::string& ns, const std::string& name,
                 const std::function<void(const Object&)>& read) {
    std::lock_guard lock(mutex_);
    const Entry* entry = findLocked(ns, name);
    if (entry == nullptr) return false;
    read(entry->typed);
    return true;
  }
  // The object's raw form if the cache holds it at `resource_version` (only the raw form is
  // copied: most reads want the typed one alone).
  std::optional<Json> findRaw(const std::string& ns, const std::string& name,
                              const std::string& resource_version) {
    std::lock_guard lock(mutex_);
    const Entry* entry = findLocked(ns, name);
    if (entry == nullptr || entry->raw.is_null() ||
        rawString(entry->raw, {"metadata", "resourceVersion"}) != resource_version) {
      return std::nullopt;
    }
    return entry->raw;
  }
  // nullopt while not synced.
  std::optional<kbinder::v1::ObjectList> list(const std::string& ns, const ListFilter& filter) {
    std::lock_guard lock(mutex_);
    if (!synced_) return std::nullopt;
    kbinder::v1::ObjectList out;
    const auto take = [&](const Entry& entry) {
      if (!ns.empty() && metadataOf(entry.typed).namespace_() != ns) return;
      if (!filter.matches(entry.typed)) return;
      *out.add_items() = entry.typed;
    };
    // A selector on an indexed field, or volumes a node must admit, look only where an index
    // points.
    if (!indexes_.forEachCandidate(filter, [&](const EntryIt& it) { take(it->second); })) {
      for (const auto& [key, entry] : entries_) take(entry);
    }
    out.set_resource_version(rv_);
    return out;
  }
  bool synced() {
    std::lock_guard lock(mutex_);
    return synced_;
  }

  // Watches of a cached kind are served from the changes the cache applied (one stream per
  // kind, each event parsed once), for as long as the cache keeps them: the newest kLogLimit,
  // and only since its last list. Where a watch from `rv` starts, as (generation, the sequence
  // number after which its events are); nullopt when the cache cannot serve `rv` (not one it
  // listed or applied since its last list, or older than what it keeps).
  std::optional<std::pair<uint64_t, uint64_t>> positionOf(const std::string& rv) {
    std::lock_guard lock(mutex_);
    if (!synced_ || rv.empty()) return std::nullopt;
    for (auto it = log_.rbegin(); it != log_.rend(); ++it) {
      if (it->rv == rv) return std::make_pair(generation_, it->seq);
    }
    if (rv == list_rv_ && (log_.empty() || log_.front().seq == list_seq_ + 1)) {
      return std::make_pair(generation_, list_seq_);
    }
    return std::nullopt;
  }
  // The change after `seq` (then advanced), waiting up to `timeout`; ABORTED ("too old
  // resource version", as the API server says it) once the cache listed again or no longer
  // keeps it, UNAVAILABLE once the cache stopped.
  StatusOr<std::optional<WatchEvent>> next(uint64_t generation, uint64_t& seq,
                                           std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::unique_lock lock(mutex_);
    while (true) {
      if (stopping_) return Status(StatusCode::kUnavailable, "watch stopped");
      if (generation != generation_) {
        return Status(StatusCode::kAborted, "too old resource version: the cache of " +
                                                std::string(kindResource(kind_)) + " listed again");
      }
      if (!log_.empty() && log_.back().seq > seq) {
        if (seq + 1 < log_.front().seq) {
          return Status(StatusCode::kAborted, "too old resource version: the watch of " +
                                                  std::string(kindResource(kind_)) + " fell behind");
        }
        const Logged& logged = log_[seq + 1 - log_.front().seq];
        ++seq;
        return std::optional<WatchEvent>(logged.event);
      }
      if (changed_.wait_until(lock, deadline) == std::cv_status::timeout) {
        return std::optional<WatchEvent>();
      }
    }
  }

 private:
  static constexpr size_t kLogLimit = 4096;

  const Entry* findLocked(const std::string& ns, const std::string& name) const {
    if (!synced_) return nullptr;
    const auto it = entries_.find(keyOf(kindNamespaced(kind_) ? ns : "", name));
    return it == entries_.end() ? nullptr : &it->second;
  }

  struct Logged {
    uint64_t seq;
    std::string rv;  // the resourceVersion the change brought the cache to
    WatchEvent event;
  };

  void run() {
    while (!stopping_) {
      // List, raw, page by page.
      std::map<std::string, Entry> fresh;
      std::string rv, cont;
      bool ok = true;
      do {
        std::string path = resourcePath(kind_, namespace_) + "?limit=" +
                           std::to_string(backend_.options_.page_size);
        if (!cont.empty()) path += "&continue=" + urlEncode(cont);
        const HttpResult r = backend_.client_->request("GET", path);
        if (r.status != 200) {
          hostLogger().warn("{}; retrying", statusOf(r, "listing " + std::string(kindResource(kind_))).message());
          ok = false;
          break;
        }
        Json page = Json::parse(r.body, nullptr, false);
        if (page.is_discarded()) {
          ok = false;
          break;
        }
        if (rv.empty()) rv = rawString(page, {"metadata", "resourceVersion"});
        cont = rawString(page, {"metadata", "continue"});
        for (auto& item : page["items"]) {
          auto typed = objectFromJson(kind_, item);
          if (!typed.ok()) continue;
          // The key first: the assignment's right side is evaluated before its left.
          const std::string key =
              keyOf(rawString(item, {"metadata", "namespace"}), rawString(item, {"metadata", "name"}));
          fresh[key] = Entry{std::move(item), std::move(typed).value()};
        }
      } while (!cont.empty() && !stopping_);
      if (!ok) {
        std::unique_lock lock(mutex_);
        changed_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_.load(); });
        continue;
      }
      {
        std::lock_guard lock(mutex_);
        entries_ = std::move(fresh);
        indexes_.clear();
        for (auto it = entries_.begin(); it != entries_.end(); ++it) {
          indexes_.update(it, nullptr, &it->second.typed);
        }
        rv_ = rv;
        synced_ = true;
        ++generation_;  // watches served from before this list are Gone
        log_.clear();
        list_rv_ = rv;
        list_seq_ = next_seq_ - 1;
        changed_.notify_all();
      }
      // Then follow the changes, raw, until the watch is gone.
      StreamWatch watch(backend_, kind_, namespace_, rv);
      while (!stopping_) {
        auto event = watch.next(std::chrono::milliseconds(200));
        if (!event.ok()) break;  // gone: list again
        if (!event->has_value()) continue;
        WatchEvent& e = **event;
        const auto& meta = metadataOf(e.object);
        std::lock_guard lock(mutex_);
        const std::string key = keyOf(meta.namespace_(), meta.name());
        if (e.type == WatchEvent::Type::kDeleted) {
          if (const auto it = entries_.find(key); it != entries_.end()) {
            indexes_.update(it, &it->second.typed, nullptr);
            entries_.erase(it);
          }
        } else {
          // The typed object carries what the cycle needs; the raw form is fetched again when
          // a patch needs it, so a watched change only keeps the typed form current.
          auto [it, created] = entries_.try_emplace(key);
          indexes_.update(it, created ? nullptr : &it->second.typed, &e.object);
          it->second.typed = e.object;
          it->second.raw = Json();
        }
        rv_ = meta.resource_version();
        log_.push_back(Logged{next_seq_++, rv_, std::move(e)});  // `meta` is not read after this
        if (log_.size() > kLogLimit) log_.pop_front();
        changed_.notify_all();
      }
    }
  }

  KubernetesBackend& backend_;
  Kind kind_;
  std::string namespace_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable changed_;
  bool synced_ = false;
  std::string rv_;
  std::map<std::string, Entry> entries_;
  using EntryIt = std::map<std::string, Entry>::const_iterator;
  struct ByKey {
    bool operator()(const EntryIt& a, const EntryIt& b) const { return a->first < b->first; }
  };
  KindIndexes<EntryIt, ByKey> indexes_{kind_};  // see field_index.h
  std::deque<Logged> log_;       // the newest changes applied since the last list
  uint64_t next_seq_ = 1;
  uint64_t generation_ = 0;      // lists so far
  std::string list_rv_;          // the resourceVersion of the last list
  uint64_t list_seq_ = 0;        // the sequence number before the last list's first change
  std::thread thread_;
};

class KubernetesBackend::CacheWatch final : public Watch {
 public:
  CacheWatch(Cache& cache, uint64_t generation, uint64_t seq)
      : cache_(cache), generation_(generation), seq_(seq) {}
  StatusOr<std::optional<WatchEvent>> next(std::chrono::milliseconds timeout) override {
    return cache_.next(generation_, seq_, timeout);
  }

 private:
  Cache& cache_;
  uint64_t generation_;
  uint64_t seq_;
};

// ---- the backend ------------------------------------------------------------------------------

namespace {

Status notJson() { return Status(StatusCode::kUnavailable, "the API server's answer is not JSON"); }

// An answer's object, read straight from its text.
StatusOr<Object> objectFromAnswer(Kind kind, const std::string& text) {
  bool not_json = false;
  auto typed = objectFromJsonText(kind, text, &not_json);
  if (not_json) return notJson();
  return typed;
}

}  // namespace

KubernetesBackend::KubernetesBackend(std::unique_ptr<KubeClient> client, Options options)
    : client_(std::move(client)), options_(std::move(options)) {}

KubernetesBackend::~KubernetesBackend() { stop(); }

Status KubernetesBackend::startCaches(std::chrono::milliseconds timeout) {
  if (!options_.caches) return okStatus();
  for (Kind kind : kCachedKinds) {
    auto cache = std::make_unique<Cache>(*this, kind, kindNamespaced(kind) ? options_.namespace_ : "");
    cache->start();
    caches_[kind] = std::move(cache);
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto& [kind, cache] : caches_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!cache->waitSynced(std::max(left, std::chrono::milliseconds(0)))) {
      return Status(StatusCode::kUnavailable, "listing " + std::string(kindResource(kind)) + " from " +
                                                  client_->config().server + " did not finish in time");
    }
  }
  return okStatus();
}

void KubernetesBackend::stop() {
  for (auto& [kind, cache] : caches_) cache->stop();
}

void KubernetesBackend::rememberText(const std::string& path, std::string text) {
  constexpr size_t kMaxRemembered = 4096;
  auto shared = std::make_shared<const std::string>(std::move(text));
  std::unordered_map<std::string, std::shared_ptr<const std::string>> dropped;  // freed unlocked
  std::lock_guard lock(remembered_mutex_);
  if (remembered_.size() >= kMaxRemembered) dropped.swap(remembered_);
  remembered_[path].swap(shared);  // the text replaced goes with `shared`, after the lock
}

std::optional<Json> KubernetesBackend::rememberedRaw(const std::string& path,
                                                     const std::string& resource_version) {
  std::shared_ptr<const std::string> text;
  {
    std::lock_guard lock(remembered_mutex_);
    const auto it = remembered_.find(path);
    if (it != remembered_.end()) text = it->second;
  }
  if (text == nullptr || resource_version.empty()) return std::nullopt;
  Json raw = Json::parse(*text, nullptr, false);
  if (raw.is_discarded() || rawString(raw, {"metadata", "resourceVersion"}) != resource_version) {
    return std::nullopt;
  }
  return raw;
}

StatusOr<std::string> KubernetesBackend::fetchText(Kind kind, const std::string& ns,
                                                   const std::string& name) {
  const std::string path = resourcePath(kind, ns, name);
  HttpResult r = client_->request("GET", path);
  if (Status s = statusOf(r, "reading " + std::string(kindResource(kind)) + " " + name); !s.ok()) {
    if (s.code() == StatusCode::kNotFound) {
      return notFound(std::string(kindResource(kind)) + " \"" + name + "\" not found");
    }
    return s;
  }
  rememberText(path, r.body);
  return std::move(r.body);
}

StatusOr<Json> KubernetesBackend::fetchRaw(Kind kind, const std::string& ns, const std::string& name) {
  auto text = fetchText(kind, ns, name);
  if (!text.ok()) return text.status();
  Json raw = Json::parse(*text, nullptr, false);
  if (raw.is_discarded()) return notJson();
  return raw;
}

std::optional<Status> KubernetesBackend::readCached(
    const kbinder::v1::GetRequest& request, Kind kind,
    const std::function<void(const Object&)>& read) {
  if (request.fresh()) return std::nullopt;
  const auto cache = caches_.find(kind);
  if (cache == caches_.end() || !cache->second->synced()) return std::nullopt;
  if (cache->second->readTyped(request.namespace_(), request.name(), read)) return okStatus();
  return notFound(std::string(kindResource(kind)) + " \"" + request.name() + "\" not found");
}

StatusOr<Object> KubernetesBackend::get(const kbinder::v1::GetRequest& request) {
  const auto kind = kindFromName(request.kind());
  if (!kind) return invalidArgument("unknown kind \"" + request.kind() + "\"");
  Object object;
  if (auto cached = readCached(request, *kind, [&](const Object& typed) { object = typed; })) {
    if (!cached->ok()) return *cached;
    return object;
  }
  auto text = fetchText(*kind, request.namespace_(), request.name());
  if (!text.ok()) return text.status();
  return objectFromAnswer(*kind, *text);
}

StatusOr<std::string> KubernetesBackend::getEncoded(const kbinder::v1::GetRequest& request) {
  const auto kind = kindFromName(request.kind());
  if (!kind) return ClusterBackend::getEncoded(request);  // get() names the fault
  std::string bytes;
  const auto encode = [&](const Object& typed) { bytes = typed.SerializeAsString(); };
  if (auto cached = readCached(request, *kind, encode)) {
    if (!cached->ok()) return *cached;
    return bytes;
  }
  return ClusterBackend::getEncoded(request);
}

StatusOr<kbinder::v1::ObjectList> KubernetesBackend::list(const kbinder::v1::ListRequest& request) {
  auto filter = ListFilter::parse(request);
  if (!filter.ok()) return filter.status();
  if (Status s = filter->resolveNode(*this); !s.ok()) return s;
  const Kind kind = filter->kind;
  if (const auto cache = caches_.find(kind); cache != caches_.end()) {
    if (auto listed = cache->second->list(request.namespace_(), *filter)) return *listed;
  }
  kbinder::v1::ObjectList out;
  std::string cont;
  do {
    std::string path = resourcePath(kind, request.namespace_()) + "?limit=" +
                       std::to_string(options_.page_size);
    if (!request.label_selector().empty()) path += "&labelSelector=" + urlEncode(request.label_selector());
    if (!cont.empty()) path += "&continue=" + urlEncode(cont);
    const HttpResult r = client_->request("GET", path);
    if (Status s = statusOf(r, "listing " + std::string(kindResource(kind))); !s.ok()) return s;
    const Json page = Json::parse(r.body, nullptr, false);
    if (page.is_discarded()) return Status(StatusCode::kUnavailable, "the API server's answer is not JSON");
    if (out.resource_version().empty()) {
      out.set_resource_version(rawString(page, {"metadata", "resourceVersion"}));
    }
    cont = rawString(page, {"metadata", "continue"});
    for (const auto& item : page.value("items", Json::array())) {
      auto typed = objectFromJson(kind, item);
      if (!typed.ok()) {
        return invalidArgument(std::string(kindName(kind)) + " " +
                               rawString(item, {"metadata", "name"}) + ": " + typed.status().message());
      }
      // The label selector was the server's too; field selectors are the host's alone (see
      // field_selector.h): applied here, never sent.
      if (!filter->matches(*typed)) continue;
      *out.add_items() = std::move(typed).value();
    }
  } while (!cont.empty());
  return out;
}

StatusOr<Object> KubernetesBackend::patch(const kbinder::v1::PatchRequest& request) {
  const auto kind = kindOf(request.object());
  if (!kind) return invalidArgument("patch request carries no object");
  if (!request.subresource().empty() && request.subresource() != "status") {
    return invalidArgument("unknown subresource \"" + request.subresource() + "\"; use \"\" or \"status\"");
  }
  const auto& meta = metadataOf(request.object());
  const std::string ns = kindNamespaced(*kind) ? meta.namespace_() : "";
  // The object as it was at the resourceVersion the caller read: the cache's raw copy if it is
  // that one, else the server's.
  Json raw;
  if (const auto cache = caches_.find(*kind); cache != caches_.end()) {
    if (auto cached = cache->second->findRaw(ns, meta.name(), meta.resource_version())) {
      raw = std::move(*cached);
    }
  }
  if (raw.is_null()) {
    if (auto remembered = rememberedRaw(resourcePath(*kind, ns, meta.name()), meta.resource_version())) {
      raw = std::move(*remembered);
    }
  }
  if (raw.is_null() && *kind == Kind::kBindRequest && request.subresource() == "status") {
    return patchBindRequestStatus(ns, request.object());
  }
  if (raw.is_null()) {
    auto fetched = fetchRaw(*kind, ns, meta.name());
    if (!fetched.ok()) return fetched.status();
    raw = std::move(fetched).value();
  }
  const std::string current_rv = rawString(raw, {"metadata", "resourceVersion"});
  if (!meta.resource_version().empty() && meta.resource_version() != current_rv) {
    return Status(StatusCode::kAborted,
                  "Operation cannot be fulfilled on " + std::string(kindResource(*kind)) + " \"" +
                      meta.name() + "\": the object has been modified; please apply your changes "
                                    "to the latest version and try again");
  }
  auto current = objectFromJson(*kind, raw);
  if (!current.ok()) return current.status();
  const Json next = applySubsetChange(*kind, raw, *current, request.object(), request.subresource());
  Json body = mergePatch(raw, next);
  if (body.empty()) return *current;  // nothing to write
  if (!current_rv.empty()) body["metadata"]["resourceVersion"] = current_rv;  // the precondition
  return sendMergePatch(*kind, ns, meta.name(), request.subresource(), body);
}

StatusOr<std::string> KubernetesBackend::patchMetadata(Kind kind, const std::string& namespace_,
                                                       const std::string& name,
                                                       const std::string& resource_version,
                                                       const std::vector<MetadataEdit>& edits) {
  // The merge patch of the edits alone (null removes a key): no base needs reading or
  // comparing, and the resourceVersion is the precondition. Of the answer only the
  // resourceVersion is read; the text is remembered as a base for later patches.
  Json meta = Json::object();
  for (const MetadataEdit& edit : edits) {
    Json& map = meta[edit.map == MetadataEdit::Map::kLabels ? "labels" : "annotations"];
    map[edit.key] = edit.value ? Json(*edit.value) : Json(nullptr);
  }
  if (!resource_version.empty()) meta["resourceVersion"] = resource_version;
  return patchForVersion(kind, kindNamespaced(kind) ? namespace_ : "", name, "",
                         Json{{"metadata", std::move(meta)}});
}

StatusOr<HttpResult> KubernetesBackend::sendPatch(Kind kind, const std::string& ns,
                                                  const std::string& name,
                                                  const std::string& subresource,
                                                  const Json& body) {
  const std::string path = resourcePath(kind, ns, name);
  HttpResult r = client_->request("PATCH", subresource.empty() ? path : path + "/" + subresource,
                                  body.dump(), "application/merge-patch+json");
  if (Status s = statusOf(r, "patching " + std::string(kindResource(kind)) + " " + name); !s.ok()) {
    return s;
  }
  return r;
}

StatusOr<Object> KubernetesBackend::sendMergePatch(Kind kind, const std::string& ns,
                                                   const std::string& name,
                                                   const std::string& subresource, const Json& body) {
  auto r = sendPatch(kind, ns, name, subresource, body);
  if (!r.ok()) return r.status();
  auto typed = objectFromAnswer(kind, r->body);
  if (typed.ok()) rememberText(resourcePath(kind, ns, name), std::move(r->body));
  return typed;
}

StatusOr<std::string> KubernetesBackend::patchForVersion(Kind kind, const std::string& ns,
                                                         const std::string& name,
                                                         const std::string& subresource,
                                                         const Json& body) {
  auto r = sendPatch(kind, ns, name, subresource, body);
  if (!r.ok()) return r.status();
  bool not_json = false;
  auto written = resourceVersionFromJsonText(r->body, &not_json);
  if (not_json) return notJson();
  if (!written.ok()) {
    return Status(StatusCode::kUnavailable, "the API server's answer to patching " +
                                                std::string(kindResource(kind)) + " " + name +
                                                ": " + written.status().message());
  }
  rememberText(resourcePath(kind, ns, name), std::move(r->body));
  return written;
}

namespace {

// Every field of a BindRequest's status is kbinder's and modeled, so the merge patch that
// sets them all (null for the empty ones) is right whatever the stored status holds: no base
// needs reading first. The request's resourceVersion stays the precondition.
Json statusPatchBody(const kbinder::v1::BindRequest& request) {
  Json status = messageToJson(request.status());  // the rest is not sent
  for (const char* field : {"phase", "reason", "failedAttempts"}) {
    if (!status.contains(field)) status[field] = nullptr;
  }
  Json body = {{"status", std::move(status)}};
  const std::string& rv = request.metadata().resource_version();
  if (!rv.empty()) body["metadata"]["resourceVersion"] = rv;
  return body;
}

}  // namespace

StatusOr<Object> KubernetesBackend::patchBindRequestStatus(const std::string& ns,
                                                           const Object& object) {
  return sendMergePatch(Kind::kBindRequest, ns, object.bind_request().metadata().name(), "status",
                        statusPatchBody(object.bind_request()));
}

StatusOr<std::string> KubernetesBackend::writeBindRequestStatus(kbinder::v1::BindRequest request) {
  return patchForVersion(Kind::kBindRequest, request.metadata().namespace_(),
                         request.metadata().name(), "status", statusPatchBody(request));
}

StatusOr<HttpResult> KubernetesBackend::post(const Object& object) {
  const auto kind = kindOf(object);
  if (!kind) return invalidArgument("create request carries no object");
  Json body = objectToJson(object);
  body["apiVersion"] = std::string(kindApiVersion(*kind));
  body["kind"] = std::string(kindName(*kind));
  const std::string ns = kindNamespaced(*kind) ? metadataOf(object).namespace_() : "";
  HttpResult r = client_->request("POST", resourcePath(*kind, ns), body.dump());
  if (r.status == 409) {
    return Status(StatusCode::kAlreadyExists, statusOf(r, "creating").message());
  }
  if (Status s = statusOf(r, "creating " + std::string(kindResource(*kind))); !s.ok()) return s;
  return r;
}

StatusOr<Object> KubernetesBackend::create(const Object& object) {
  auto posted = post(object);
  if (!posted.ok()) return posted.status();
  return objectFromAnswer(*kindOf(object), posted->body);
}

Status KubernetesBackend::recordEvent(const Object& event) {
  return post(event).status();
}

StatusOr<std::unique_ptr<Watch>> KubernetesBackend::watch(Kind kind, const std::string& resource_version) {
  if (const auto cache = caches_.find(kind); cache != caches_.end()) {
    if (const auto position = cache->second->positionOf(resource_version)) {
      return std::unique_ptr<Watch>(new CacheWatch(*cache->second, position->first, position->second));
    }
  }
  const std::string ns = kindNamespaced(kind) ? options_.namespace_ : "";
  return std::unique_ptr<Watch>(new StreamWatch(*this, kind, ns, resource_version));
}

Status KubernetesBackend::bindPod(const PodBinding& binding) {
  const std::string& ns = binding.namespace_;
  const std::string& name = binding.name;
  const std::string& node = binding.node;
  Json meta = {{"name", name}, {"namespace", ns}, {"uid", binding.uid}};
  // The API server takes a Binding's uid and resourceVersion as preconditions on the pod.
  if (!binding.resource_version.empty()) meta["resourceVersion"] = binding.resource_version;
  if (!binding.annotations.empty()) meta["annotations"] = binding.annotations;
  const Json body = {{"apiVersion", "v1"},
                     {"kind", "Binding"},
                     {"metadata", std::move(meta)},
                     {"target", {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", node}}}};
  const HttpResult r =
      client_->request("POST", resourcePath(Kind::kPod, ns, name) + "/binding", body.dump());
  Status s = statusOf(r, "binding pod " + ns + "/" + name);
  if (s.code() == StatusCode::kAborted &&
      s.message().find("is already assigned to node \"" + node + "\"") != std::string::npos) {
    return okStatus();  // an earlier try that timed out on the way back had bound it
  }
  if (!s.ok()) {
    // Keep the API server's words, without our prefix, as the embedded store gives them.
    const size_t colon = s.message().find(": ");
    return Status(s.code(), colon == std::string::npos ? s.message() : s.message().substr(colon + 2));
  }
  return s;
}

StatusOr<Json> KubernetesBackend::getRaw(const std::string& path) {
  HttpResult r = client_->request("GET", path);
  if (Status s = statusOf(r, "reading " + path); !s.ok()) return s;
  Json raw = Json::parse(r.body, nullptr, false);
  if (raw.is_discarded()) return notJson();
  rememberText(path, std::move(r.body));
  return raw;
}

StatusOr<Json> KubernetesBackend::writeRaw(std::string_view method, const std::string& path, const Json& body) {
  HttpResult r = client_->request(method, path, body.dump());
  if (Status s = statusOf(r, std::string(method) + " " + path); !s.ok()) return s;
  Json raw = Json::parse(r.body, nullptr, false);
  if (raw.is_discarded()) return notJson();
  rememberText(path, std::move(r.body));
  return raw;
}

}  // namespace kbinder::host
