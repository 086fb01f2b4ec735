// SPDX-License-Identifier: Apache-2.0
#include "host/kube/kube_backend.h"

#include "host/base/logging.h"
#include "host/base/object_key.h"
#include "host/cluster/list_filter.h"
#include "host/kube/object_cache.h"
#include "host/kube/watch_stream.h"

namespace kbinder::host {
namespace {

using kbinder::v1::Object;

// The kinds whose reads come from caches: what a cycle reads on every attempt.
constexpr Kind kCachedKinds[] = {
    Kind::kPod,          Kind::kNode,         Kind::kPersistentVolumeClaim, Kind::kPersistentVolume,
    Kind::kStorageClass, Kind::kResourceClaim};

Status notJson() {
  return Status(StatusCode::kUnavailable, "the API server's answer is not JSON");
}

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

KubernetesBackend::~KubernetesBackend() {
  stop();
}

Status KubernetesBackend::startCaches(std::chrono::milliseconds timeout) {
  if (!options_.caches) return okStatus();
  for (Kind kind : kCachedKinds) {
    auto cache = std::make_unique<ObjectCache>(*client_, kind,
                                               kindNamespaced(kind) ? options_.namespace_ : "",
                                               options_.page_size, options_.watch_timeout);
    cache->start();
    caches_[kind] = std::move(cache);
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto& [kind, cache] : caches_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!cache->waitSynced(std::max(left, std::chrono::milliseconds(0)))) {
      return Status(StatusCode::kUnavailable, "listing " + std::string(kindResource(kind)) +
                                                  " from " + client_->config().server +
                                                  " did not finish in time");
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

StatusOr<Json> KubernetesBackend::fetchRaw(Kind kind, const std::string& ns,
                                           const std::string& name) {
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
    std::string path =
        resourcePath(kind, request.namespace_()) + "?limit=" + std::to_string(options_.page_size);
    if (!request.label_selector().empty())
      path += "&labelSelector=" + client_->escape(request.label_selector());
    if (!cont.empty()) path += "&continue=" + client_->escape(cont);
    const HttpResult r = client_->request("GET", path);
    if (Status s = statusOf(r, "listing " + std::string(kindResource(kind))); !s.ok()) return s;
    const Json page = Json::parse(r.body, nullptr, false);
    if (page.is_discarded())
      return Status(StatusCode::kUnavailable, "the API server's answer is not JSON");
    if (out.resource_version().empty()) {
      out.set_resource_version(rawString(page, {"metadata", "resourceVersion"}));
    }
    cont = rawString(page, {"metadata", "continue"});
    for (const auto& item : page.value("items", Json::array())) {
      auto typed = objectFromJson(kind, item);
      if (!typed.ok()) {
        return invalidArgument(std::string(kindName(kind)) + " " +
                               rawString(item, {"metadata", "name"}) + ": " +
                               typed.status().message());
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
    return invalidArgument("unknown subresource \"" + request.subresource() +
                           R"("; use "" or "status")");
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
    if (auto remembered =
            rememberedRaw(resourcePath(*kind, ns, meta.name()), meta.resource_version())) {
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
                      meta.name() +
                      "\": the object has been modified; please apply your changes "
                      "to the latest version and try again");
  }
  auto current = objectFromJson(*kind, raw);
  if (!current.ok()) return current.status();
  const Json next =
      applySubsetChange(*kind, raw, *current, request.object(), request.subresource());
  Json body = mergePatch(raw, next);
  if (body.empty()) return *current;                                          // nothing to write
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
                                                   const std::string& subresource,
                                                   const Json& body) {
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

StatusOr<std::unique_ptr<Watch>> KubernetesBackend::watch(Kind kind,
                                                          const std::string& resource_version) {
  const std::string ns = kindNamespaced(kind) ? options_.namespace_ : "";
  return watchApi(*client_, kind, ns, resource_version, options_.watch_timeout);
}

StatusOr<std::unique_ptr<Subscription>> KubernetesBackend::subscribe(Kind kind,
                                                                     const std::string& namespace_,
                                                                     WatchHandler handler,
                                                                     EncodedWatchHandler encoded) {
  if (const auto cache = caches_.find(kind); cache != caches_.end()) {
    const std::string& held = cache->second->heldNamespace();
    if (held.empty() || held == namespace_)
      return cache->second->subscribe(namespace_, std::move(handler));
  }
  return ClusterBackend::subscribe(kind, namespace_, std::move(handler), std::move(encoded));
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
    return Status(s.code(),
                  colon == std::string::npos ? s.message() : s.message().substr(colon + 2));
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

StatusOr<Json> KubernetesBackend::writeRaw(std::string_view method, const std::string& path,
                                           const Json& body) {
  HttpResult r = client_->request(method, path, body.dump());
  if (Status s = statusOf(r, std::string(method) + " " + path); !s.ok()) return s;
  Json raw = Json::parse(r.body, nullptr, false);
  if (raw.is_discarded()) return notJson();
  rememberText(path, std::move(r.body));
  return raw;
}

}  // namespace kbinder::host
