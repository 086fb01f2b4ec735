// SPDX-License-Identifier: Apache-2.0
#include "api_server.h"

#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "host/model/objects.h"
#include "openapi.h"
#include "resources.h"

namespace kbinder::testing {
namespace {

using host::Json;
using host::StatusCode;

const char* reasonFor(int code) {
  switch (code) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 409: return "Conflict";
    case 410: return "Expired";
    case 415: return "UnsupportedMediaType";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    default: return "InternalError";
  }
}

Json statusBody(int code, const std::string& message, const std::string& reason = "",
                const std::string& name = "", const std::string& kind = "") {
  Json body = {{"kind", "Status"},
               {"apiVersion", "v1"},
               {"metadata", Json::object()},
               {"status", code < 300 ? "Success" : "Failure"},
               {"message", message},
               {"reason", reason.empty() ? reasonFor(code) : reason},
               {"code", code}};
  if (!name.empty() || !kind.empty()) body["details"] = {{"name", name}, {"kind", kind}};
  return body;
}

int httpCode(const host::Status& s) {
  switch (s.code()) {
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists: return 409;
    case StatusCode::kAborted: return 409;
    case StatusCode::kInvalidArgument: return 422;
    default: return 500;
  }
}

// The parsed path of a resource request.
struct Target {
  const Resource* resource = nullptr;
  std::string namespace_, name, subresource;
};

std::vector<std::string> split(const std::string& path) {
  std::vector<std::string> out;
  std::stringstream in(path);
  for (std::string part; std::getline(in, part, '/');) {
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

// /api/v1/... or /apis/<group>/<version>/...: nullopt when it is not a resource path.
std::optional<Target> parseTarget(const std::string& path) {
  const auto parts = split(path);
  size_t i = 0;
  std::string group, version;
  if (parts.size() >= 2 && parts[0] == "api") {
    version = parts[1];
    i = 2;
  } else if (parts.size() >= 3 && parts[0] == "apis") {
    group = parts[1];
    version = parts[2];
    i = 3;
  } else {
    return std::nullopt;
  }
  Target t;
  std::vector<std::string> rest(parts.begin() + static_cast<long>(i), parts.end());
  if (rest.size() >= 3 && rest[0] == "namespaces") {
    t.namespace_ = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
  } else if (rest.size() == 2 && rest[0] == "namespaces") {
    // /api/v1/namespaces/<name>: the namespace object itself
  }
  if (rest.empty()) return std::nullopt;
  for (const auto& r : kResources) {
    if (r.group == group && r.version == version && r.plural == rest[0]) t.resource = &r;
  }
  if (t.resource == nullptr) return t;  // unknown resource: 404 later
  if (rest.size() >= 2) t.name = rest[1];
  if (rest.size() >= 3) t.subresource = rest[2];
  return t;
}

}  // namespace

TestApiServer::TestApiServer(std::unique_ptr<host::EmbeddedStore> store, Options options)
    : store_(std::move(store)), options_(std::move(options)) {
  server_ = std::make_unique<HttpsServer>(
      ca_.serverCertificate(), ca_.certificatePem(),
      [this](const HttpRequest& r, HttpResponder& w) { handle(r, w); });
}

TestApiServer::~TestApiServer() {
  server_->stop();
}

std::filesystem::path TestApiServer::writeKubeconfig(const std::filesystem::path& dir,
                                                     const std::string& token) const {
  std::string ca = caPem();
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string b64;
  size_t i = 0;
  for (; i + 2 < ca.size(); i += 3) {
    const uint32_t v = (uint8_t(ca[i]) << 16) | (uint8_t(ca[i + 1]) << 8) | uint8_t(ca[i + 2]);
    for (int s = 18; s >= 0; s -= 6) b64.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (i < ca.size()) {
    uint32_t v = uint8_t(ca[i]) << 16;
    if (i + 1 < ca.size()) v |= uint8_t(ca[i + 1]) << 8;
    b64.push_back(kAlphabet[(v >> 18) & 63]);
    b64.push_back(kAlphabet[(v >> 12) & 63]);
    b64.push_back(i + 1 < ca.size() ? kAlphabet[(v >> 6) & 63] : '=');
    b64.push_back('=');
  }
  std::string use_token = token;
  if (use_token.empty()) {
    std::lock_guard lock(mutex_);
    use_token = options_.tokens.empty() ? "" : *options_.tokens.begin();
  }
  const auto path = dir / "kubeconfig";
  std::ofstream(path) << "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
                      << "clusters:\n- name: test\n  cluster:\n    server: " << url()
                      << "\n    certificate-authority-data: " << b64 << "\n"
                      << "users:\n- name: test\n  user:\n    token: " << use_token << "\n"
                      << "contexts:\n- name: test\n  context: {cluster: test, user: test, "
                         "namespace: default}\n";
  return path;
}

void TestApiServer::setFaults(const ApiFaults& faults) {
  std::lock_guard lock(mutex_);
  faults_ = faults;
}

void TestApiServer::setTokens(std::set<std::string> tokens) {
  std::lock_guard lock(mutex_);
  options_.tokens = std::move(tokens);
}

void TestApiServer::setForbidden(std::set<std::string> resources) {
  std::lock_guard lock(mutex_);
  options_.forbidden = std::move(resources);
}

void TestApiServer::compact() {
  raw_.compactHistory();
}

std::map<std::string, int> TestApiServer::requestCounts() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

void TestApiServer::handle(const HttpRequest& request, HttpResponder& w) {
  auto send = [&](int code, const Json& body,
                  const std::map<std::string, std::string>& headers = {}) {
    w.respond(code, "application/json", body.dump(), headers);
  };
  auto fail = [&](int code, const std::string& message, const std::string& name = "",
                  const std::string& kind = "") {
    send(code, statusBody(code, message, "", name, kind));
  };

  // Authentication: a verified client certificate or an accepted bearer token.
  std::string user = request.client_common_name;
  ApiFaults faults;
  {
    std::lock_guard lock(mutex_);
    faults = faults_;
    const auto auth = request.headers.find("authorization");
    if (user.empty() && auth != request.headers.end() && auth->second.rfind("Bearer ", 0) == 0 &&
        options_.tokens.count(auth->second.substr(7)) != 0) {
      user = "system:serviceaccount:kbinder-system:kbinder";
    }
  }
  if (user.empty()) {
    fail(401, "Unauthorized");
    return;
  }

  if (!faults.user_agent_prefix.empty()) {
    const auto agent = request.headers.find("user-agent");
    if (agent == request.headers.end() || agent->second.rfind(faults.user_agent_prefix, 0) != 0) {
      faults = ApiFaults{};
    }
  }
  if (faults.latency.count() > 0) std::this_thread::sleep_for(faults.latency);
  auto roll = [&](double share) {
    if (share <= 0) return false;
    std::lock_guard lock(mutex_);
    return std::uniform_real_distribution<double>(0, 1)(random_) < share;
  };

  // Discovery.
  if (request.method == "GET") {
    if (request.path == "/version") {
      send(200, {{"major", "1"},
                 {"minor", "34"},
                 {"gitVersion", "v1.34.0-kbinder-test"},
                 {"platform", "linux/amd64"}});
      return;
    }
    // OpenAPI, as kubectl reads it before it writes: v2 (in protobuf when asked for, as kubectl
    // 1.20 does, to validate on the client) and v3 (where current kubectl learns that the server
    // validates).
    if (request.path == "/openapi/v2") {
      static const Json document = openApiV2();
      static const std::string protobuf = openApiV2AsProtobuf(document);
      const auto accept = request.headers.find("accept");
      switch (negotiateOpenApiV2(accept == request.headers.end() ? "" : accept->second)) {
        case OpenApiV2Form::kJson: send(200, document); break;
        case OpenApiV2Form::kProtobuf: w.respond(200, kOpenApiV2ProtobufType, protobuf, {}); break;
        case OpenApiV2Form::kNotAcceptable: w.respond(406, "text/plain", "", {}); break;
      }
      return;
    }
    if (request.path == "/openapi/v3") {
      send(200, openApiV3Index());
      return;
    }
    if (request.path.rfind("/openapi/v3/", 0) == 0) {
      const auto document = openApiV3(request.path.substr(std::string("/openapi/v3/").size()));
      if (!document) {
        fail(404, "the server could not find the requested resource");
        return;
      }
      send(200, *document);
      return;
    }
    if (request.path == "/api") {
      send(200, {{"kind", "APIVersions"},
                 {"versions", {"v1"}},
                 {"serverAddressByClientCIDRs",
                  {{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", url().substr(8)}}}}});
      return;
    }
    if (request.path == "/apis") {
      Json groups = Json::array();
      std::set<std::string> seen;
      for (const auto& r : kResources) {
        if (std::string(r.group).empty() || !seen.insert(r.group).second) continue;
        Json version = {{"groupVersion", groupVersion(r)}, {"version", r.version}};
        groups.push_back(
            {{"name", r.group}, {"versions", {version}}, {"preferredVersion", version}});
      }
      send(200, {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}});
      return;
    }
    const auto parts = split(request.path);
    const bool core_list = parts.size() == 2 && parts[0] == "api";
    const bool group_list = parts.size() == 3 && parts[0] == "apis";
    if (core_list || group_list) {
      const std::string group = core_list ? "" : parts[1];
      const std::string version = core_list ? parts[1] : parts[2];
      Json resources = Json::array();
      for (const auto& r : kResources) {
        if (r.group != group || r.version != version) continue;
        std::string singular = std::string(r.kind);
        for (auto& c : singular) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        Json entry = {{"name", r.plural},
                      {"singularName", singular},
                      {"namespaced", r.namespaced},
                      {"kind", r.kind},
                      {"verbs", {"create", "delete", "get", "list", "patch", "update", "watch"}}};
        if (*r.short_name != '\0') entry["shortNames"] = {r.short_name};
        resources.push_back(std::move(entry));
        if (r.status) {
          resources.push_back({{"name", std::string(r.plural) + "/status"},
                               {"singularName", ""},
                               {"namespaced", r.namespaced},
                               {"kind", r.kind},
                               {"verbs", {"get", "patch", "update"}}});
        }
        if (std::string(r.plural) == "pods") {
          resources.push_back({{"name", "pods/binding"},
                               {"singularName", ""},
                               {"namespaced", true},
                               {"kind", "Binding"},
                               {"verbs", {"create"}}});
        }
      }
      if (resources.empty()) {
        fail(404, "the server could not find the requested resource");
        return;
      }
      send(200, {{"kind", "APIResourceList"},
                 {"apiVersion", "v1"},
                 {"groupVersion", group.empty() ? version : group + "/" + version},
                 {"resources", resources}});
      return;
    }
  }

  const auto target = parseTarget(request.path);
  if (!target || target->resource == nullptr) {
    fail(404, "the server could not find the requested resource");
    return;
  }
  const Resource& res = *target->resource;
  const bool watch = request.method == "GET" && request.query.count("watch") != 0 &&
                     request.query.at("watch") != "false" && request.query.at("watch") != "0";
  const std::string verb = request.method == "GET"
                               ? (watch ? "watch" : (target->name.empty() ? "list" : "get"))
                           : request.method == "POST"   ? "create"
                           : request.method == "PATCH"  ? "patch"
                           : request.method == "PUT"    ? "update"
                           : request.method == "DELETE" ? "delete"
                                                        : request.method;
  {
    std::lock_guard lock(mutex_);
    ++counts_[verb];
    if (options_.forbidden.count(res.plural) != 0) {
      const std::string where = target->namespace_.empty()
                                    ? "at the cluster scope"
                                    : "in the namespace \"" + target->namespace_ + "\"";
      send(403,
           statusBody(403,
                      std::string(res.plural) +
                          (target->name.empty() ? "" : " \"" + target->name + "\"") +
                          " is forbidden: User \"" + user + "\" cannot " + verb + " resource \"" +
                          res.plural + "\" in API group \"" + res.group + "\" " + where,
                      "Forbidden", target->name, res.plural));
      return;
    }
  }
  if (roll(faults.drop_share)) {
    w.drop();
    return;
  }
  if (roll(faults.throttle_share)) {
    send(429, statusBody(429, "Too many requests, please try again later."),
         {{"Retry-After", "1"}});
    return;
  }
  if (roll(faults.error_share)) {
    fail(500, "Internal error occurred: injected fault");
    return;
  }
  const bool write = verb == "create" || verb == "patch" || verb == "update";
  if (write && roll(faults.conflict_share)) {
    fail(409,
         "Operation cannot be fulfilled on " + std::string(res.plural) + " \"" + target->name +
             "\": the object has been modified; please apply your changes to the latest "
             "version and try again",
         target->name, res.plural);
    return;
  }
  const std::string kind = res.kind;
  auto answer = [&](host::StatusOr<Json> result, int ok_code) {
    if (result.ok() && roll(faults.garbled_share)) {
      w.respond(ok_code, "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>\n", {});
    } else if (result.ok()) {
      Json object = std::move(*result);
      object["apiVersion"] = groupVersion(res);
      send(ok_code, object);
    } else {
      const int code = httpCode(result.status());
      send(code,
           statusBody(code, result.status().message(),
                      result.status().code() == StatusCode::kAlreadyExists ? "AlreadyExists" : "",
                      target->name, res.plural));
    }
  };
  auto parseBody = [&]() -> std::optional<Json> {
    try {
      return Json::parse(request.body);
    } catch (const std::exception& e) {
      fail(400, std::string("the body is not JSON: ") + e.what());
      return std::nullopt;
    }
  };

  if (request.method == "GET" && !watch) {
    if (!target->name.empty()) {
      answer(raw_.getRaw(kind, res.namespaced ? target->namespace_ : "", target->name), 200);
      return;
    }
    const auto limit_it = request.query.find("limit");
    const size_t limit = limit_it == request.query.end() ? 0 : std::stoul(limit_it->second);
    const auto cont = request.query.find("continue");
    const auto selector = request.query.find("labelSelector");
    auto listed = raw_.listRaw(kind, target->namespace_,
                               selector == request.query.end() ? "" : selector->second, limit,
                               cont == request.query.end() ? "" : cont->second);
    if (!listed.ok()) {
      fail(400, listed.status().message());
      return;
    }
    Json items = Json::array();
    for (auto& item : listed->items) {
      item["apiVersion"] = groupVersion(res);
      items.push_back(std::move(item));
    }
    Json meta = {{"resourceVersion", std::to_string(listed->resource_version)}};
    if (!listed->continue_token.empty()) meta["continue"] = listed->continue_token;
    send(200, {{"kind", std::string(kind) + "List"},
               {"apiVersion", groupVersion(res)},
               {"metadata", meta},
               {"items", items}});
    return;
  }

  if (watch) {
    const auto rv_it = request.query.find("resourceVersion");
    const std::string rv = rv_it == request.query.end() ? "" : rv_it->second;
    const bool bookmarks = request.query.count("allowWatchBookmarks") != 0 &&
                           request.query.at("allowWatchBookmarks") == "true";
    const auto timeout_it = request.query.find("timeoutSeconds");
    const auto timeout = std::chrono::seconds(
        timeout_it == request.query.end() ? 300 : std::stol(timeout_it->second));
    uint64_t from = 0;
    std::vector<Json> initial;
    if (rv.empty() || rv == "0") {
      auto listed = raw_.listRaw(kind, target->namespace_, "", 0, "");
      if (listed.ok()) {
        from = listed->resource_version;
        initial = std::move(listed->items);
      }
    } else {
      from = std::stoull(rv);
    }
    auto stream = raw_.watchRaw(kind, target->namespace_, from);
    if (!stream.ok() && faults.gone_as_http_410) {
      send(410, statusBody(410, "too old resource version: " + rv, "Expired"));
      return;
    }
    if (!w.start(200, "application/json")) return;
    int events = 0;
    const std::string api_version = groupVersion(res);
    // An event line, {"type":...,"object":...}, written from the stored version itself: it is
    // copied only when its apiVersion is not the one served.
    auto emit = [&](const std::string& type, const Json& object) {
      std::string line = "{\"type\":" + Json(type).dump() + ",\"object\":";
      if (host::rawString(object, {"apiVersion"}) == api_version) {
        line += object.dump();
      } else {
        Json served = object;
        served["apiVersion"] = api_version;
        line += served.dump();
      }
      line += "}\n";
      ++events;
      if (faults.cut_watch_after > 0 && events % faults.cut_watch_after == 0) {
        w.write(line.substr(0, line.size() / 2));  // half an event, then the connection goes
        w.drop();
        return false;
      }
      return w.write(line);
    };
    for (const auto& object : initial) {
      if (!emit("ADDED", object)) return;
    }
    if (!stream.ok()) {
      w.write(Json{{"type", "ERROR"},
                   {"object", statusBody(410, "too old resource version: " + rv, "Expired")}}
                  .dump() +
              "\n");
      w.finish();
      return;
    }
    const auto started = std::chrono::steady_clock::now();
    auto last_bookmark = started;
    while (std::chrono::steady_clock::now() - started < timeout) {
      auto event = (*stream)->next(std::chrono::milliseconds(100));
      if (!event.ok()) {
        w.write(Json{{"type", "ERROR"},
                     {"object", statusBody(410, "too old resource version: " + rv, "Expired")}}
                    .dump() +
                "\n");
        break;
      }
      if (event->has_value()) {
        const char* type = (*event)->type == host::WatchEvent::Type::kAdded      ? "ADDED"
                           : (*event)->type == host::WatchEvent::Type::kModified ? "MODIFIED"
                                                                                 : "DELETED";
        if (!emit(type, *(*event)->object)) return;
      } else if (!w.write(" ")) {  // whitespace between events: notices a client that left
        return;
      }
      if (bookmarks &&
          std::chrono::steady_clock::now() - last_bookmark > options_.bookmark_interval) {
        last_bookmark = std::chrono::steady_clock::now();
        Json bookmark = {
            {"kind", kind},
            {"apiVersion", groupVersion(res)},
            {"metadata", {{"resourceVersion", std::to_string((*stream)->position())}}}};
        if (!w.write(Json{{"type", "BOOKMARK"}, {"object", bookmark}}.dump() + "\n")) return;
      }
    }
    w.finish();
    return;
  }

  if (request.method == "POST") {
    auto body = parseBody();
    if (!body) return;
    const bool pod_binding = target->subresource == "binding" && std::string(res.plural) == "pods";
    const bool bindings = std::string(res.plural) == "bindings" && target->name.empty();
    if (pod_binding || bindings) {
      const std::string pod =
          pod_binding ? target->name : host::rawString(*body, {"metadata", "name"});
      if (pod_binding && !host::rawString(*body, {"metadata", "name"}).empty() &&
          host::rawString(*body, {"metadata", "name"}) != pod) {
        fail(400, "name in URL does not match name in Binding object");
        return;
      }
      // As the API server: the Binding's uid and resourceVersion are preconditions on the pod,
      // its annotations are merged into the pod's.
      host::PodBinding binding{target->namespace_,
                               pod,
                               host::rawString(*body, {"metadata", "uid"}),
                               host::rawString(*body, {"target", "name"}),
                               host::rawString(*body, {"metadata", "resourceVersion"}),
                               {}};
      const auto meta = body->find("metadata");
      if (meta != body->end() && meta->is_object() && meta->contains("annotations")) {
        const Json& annotations = meta->at("annotations");
        if (!annotations.is_object()) {
          fail(400, "Binding.metadata.annotations: must be an object of strings");
          return;
        }
        for (const auto& [k, v] : annotations.items()) {
          if (!v.is_string()) {
            fail(400, "Binding.metadata.annotations[" + k + "]: must be a string");
            return;
          }
          binding.annotations[k] = v.get<std::string>();
        }
      }
      const host::Status s = store_->bindPod(binding);
      if (s.ok()) {
        send(201, statusBody(201, ""));
      } else {
        fail(s.code() == StatusCode::kNotFound  ? 404
             : s.code() == StatusCode::kAborted ? 409
                                                : 422,
             s.message(), pod, "pods/binding");
      }
      return;
    }
    if (!target->name.empty()) {
      fail(405, "the server does not allow this method on the requested resource");
      return;
    }
    (*body)["kind"] = kind;
    if (res.namespaced) {
      const std::string given = host::rawString(*body, {"metadata", "namespace"});
      if (!given.empty() && given != target->namespace_) {
        fail(400,
             "the namespace of the provided object does not match the namespace sent on the "
             "request");
        return;
      }
      (*body)["metadata"]["namespace"] = target->namespace_;
    }
    answer(raw_.createRaw(std::move(*body)), 201);
    return;
  }

  if (target->name.empty()) {
    fail(405, "the server does not allow this method on the requested resource");
    return;
  }
  const std::string ns = res.namespaced ? target->namespace_ : "";
  if (request.method == "PATCH") {
    const auto type = request.headers.find("content-type");
    if (type == request.headers.end() ||
        type->second.rfind("application/merge-patch+json", 0) != 0) {
      fail(415,
           "the body of the request was in an unknown format - accepted media types include: "
           "application/merge-patch+json");
      return;
    }
    auto body = parseBody();
    if (!body) return;
    answer(raw_.patchRaw(kind, ns, target->name, *body, target->subresource), 200);
    return;
  }
  if (request.method == "PUT") {
    auto body = parseBody();
    if (!body) return;
    (*body)["kind"] = kind;
    if (res.namespaced) (*body)["metadata"]["namespace"] = target->namespace_;
    if (host::rawString(*body, {"metadata", "name"}) != target->name) {
      fail(400, "the name of the object does not match the name on the URL");
      return;
    }
    answer(raw_.updateRaw(std::move(*body), target->subresource), 200);
    return;
  }
  if (request.method == "DELETE") {
    answer(raw_.deleteRaw(kind, ns, target->name), 200);
    return;
  }
  fail(405, "the server does not allow this method on the requested resource");
}

}  // namespace kbinder::testing
