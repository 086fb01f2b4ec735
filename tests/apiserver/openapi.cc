// SPDX-License-Identifier: Apache-2.0
#include "openapi.h"

#include <sstream>
#include <stdexcept>

#include "openapi_v2.pb.h"
#include "resources.h"

namespace kbinder::testing {
namespace {

using Json = nlohmann::json;

std::string definitionName(const Resource& r) {
  return std::string("io.kbinder.test.") + (*r.group == '\0' ? "core" : r.group) + "." + r.version +
         "." + r.kind;
}

Json groupVersionKind(const Resource& r) {
  return {{"group", r.group}, {"version", r.version}, {"kind", r.kind}};
}

// A kind's schema in Swagger 2.0: its top-level fields named (so a misspelt one is refused, as
// the API server's own schema refuses it), their contents open.
Json kindSchemaV2(const Resource& r) {
  Json properties = {{"apiVersion", {{"type", "string"}}},
                     {"kind", {{"type", "string"}}},
                     {"metadata", {{"type", "object"}}}};
  Json required = Json::array();
  std::istringstream fields(r.fields);
  for (std::string field; fields >> field;) {
    if (field.back() == '!') {
      field.pop_back();
      required.push_back(field);
    }
    properties[field] = Json::object();
  }
  Json schema = {{"description", std::string(r.kind) + " (" + groupVersion(r) + ")"},
                 {"type", "object"},
                 {"properties", properties},
                 {"x-kubernetes-group-version-kind", {groupVersionKind(r)}}};
  if (!required.empty()) schema["required"] = required;
  return schema;
}

void toProtobuf(const Json& in, openapi_v2::Schema& out);

void toProtobuf(const Json& in, openapi_v2::NamedSchema& out, const std::string& name) {
  out.set_name(name);
  toProtobuf(in, *out.mutable_value());
}

// Every key kindSchemaV2 writes has its field; a key without one is a bug here, not input.
void toProtobuf(const Json& in, openapi_v2::Schema& out) {
  for (const auto& [key, value] : in.items()) {
    if (key == "$ref") {
      out.set_ref(value.get<std::string>());
    } else if (key == "description") {
      out.set_description(value.get<std::string>());
    } else if (key == "type") {
      out.mutable_type()->add_value(value.get<std::string>());
    } else if (key == "required") {
      for (const auto& field : value) out.add_required(field.get<std::string>());
    } else if (key == "properties") {
      for (const auto& [name, schema] : value.items()) {
        toProtobuf(schema, *out.mutable_properties()->add_additional_properties(), name);
      }
    } else if (key == "items") {
      toProtobuf(value, *out.mutable_items()->add_schema());
    } else if (key == "additionalProperties") {
      if (value.is_boolean()) {
        out.mutable_additional_properties()->set_boolean(value.get<bool>());
      } else {
        toProtobuf(value, *out.mutable_additional_properties()->mutable_schema());
      }
    } else if (key.rfind("x-", 0) == 0) {
      auto* extension = out.add_vendor_extension();
      extension->set_name(key);
      extension->mutable_value()->set_yaml(value.dump());
    } else {
      throw std::logic_error("openapi: no protobuf form for the schema key \"" + key + "\"");
    }
  }
}

}  // namespace

Json openApiV2() {
  Json definitions = Json::object();
  for (const auto& r : kResources) definitions[definitionName(r)] = kindSchemaV2(r);
  return {{"swagger", "2.0"},
          {"info", {{"title", "Kubernetes"}, {"version", "v1.34.0"}}},
          {"paths", Json::object()},
          {"definitions", definitions}};
}

std::string openApiV2AsProtobuf(const Json& document) {
  openapi_v2::Document out;
  out.set_swagger(document.at("swagger").get<std::string>());
  out.mutable_info()->set_title(document.at("info").at("title").get<std::string>());
  out.mutable_info()->set_version(document.at("info").at("version").get<std::string>());
  out.mutable_paths();
  for (const auto& [name, schema] : document.at("definitions").items()) {
    toProtobuf(schema, *out.mutable_definitions()->add_additional_properties(), name);
  }
  return out.SerializeAsString();
}

OpenApiV2Form negotiateOpenApiV2(const std::string& accept) {
  if (accept.empty()) return OpenApiV2Form::kJson;
  std::istringstream ranges(accept);
  for (std::string range; std::getline(ranges, range, ',');) {
    range = range.substr(0, range.find(';'));
    range.erase(0, range.find_first_not_of(' '));
    range.erase(range.find_last_not_of(' ') + 1);
    if (range == "application/json" || range == "application/*" || range == "*/*") {
      return OpenApiV2Form::kJson;
    }
    // The form kubectl before 1.27 asks for, and the one it was renamed to.
    if (range == "application/com.github.proto-openapi.spec.v2@v1.0+protobuf" ||
        range == kOpenApiV2ProtobufType) {
      return OpenApiV2Form::kProtobuf;
    }
  }
  return OpenApiV2Form::kNotAcceptable;
}

Json openApiV3Index() {
  Json paths = Json::object();
  for (const auto& r : kResources) {
    const std::string gv = groupVersionPath(r);
    paths[gv] = {{"serverRelativeURL", "/openapi/v3/" + gv + "?hash=kbinder"}};
  }
  return {{"paths", paths}};
}

std::optional<Json> openApiV3(const std::string& group_version_path) {
  Json schemas = Json::object();
  Json paths = Json::object();
  for (const auto& r : kResources) {
    const std::string mine = groupVersionPath(r);
    if (mine != group_version_path) continue;
    // Operations carry their kind and the query parameters the server honours: kubectl looks
    // for fieldValidation here to validate on the server instead of the client.
    const Json gvk = groupVersionKind(r);
    const Json parameters = {
        {{"name", "fieldValidation"}, {"in", "query"}, {"schema", {{"type", "string"}}}},
        {{"name", "dryRun"}, {"in", "query"}, {"schema", {{"type", "string"}}}}};
    const std::string base =
        "/" + mine + (r.namespaced ? "/namespaces/{namespace}/" : "/") + r.plural;
    paths[base] = {{"post",
                    {{"x-kubernetes-action", "post"},
                     {"x-kubernetes-group-version-kind", gvk},
                     {"parameters", parameters}}}};
    paths[base + "/{name}"] = {{"patch",
                                {{"x-kubernetes-action", "patch"},
                                 {"x-kubernetes-group-version-kind", gvk},
                                 {"parameters", parameters}}}};
    schemas[definitionName(r)] = {
        {"type", "object"},
        {"x-kubernetes-preserve-unknown-fields", true},
        {"properties",
         {{"apiVersion", {{"type", "string"}}},
          {"kind", {{"type", "string"}}},
          {"metadata", {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}}}},
        {"x-kubernetes-group-version-kind", {gvk}}};
  }
  if (schemas.empty()) return std::nullopt;
  return Json{{"openapi", "3.0.0"},
              {"info", {{"title", "Kubernetes"}, {"version", "v1.34.0"}}},
              {"paths", paths},
              {"components", {{"schemas", schemas}}}};
}

}  // namespace kbinder::testing
