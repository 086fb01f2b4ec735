// SPDX-License-Identifier: Apache-2.0
// The OpenAPI documents of the test API server, for the resources in resources.h: what kubectl
// reads before it writes an object (to validate it on the client, or to learn that the server
// validates). Each kind is described by its top-level fields; what lies below them is left open,
// so objects with fields kbinder does not model pass as they would on a real server.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace kbinder::testing {

// GET /openapi/v2: a Swagger 2.0 document with one definition per kind.
nlohmann::json openApiV2();

// The same document in its protobuf form (openapi_v2.proto).
std::string openApiV2AsProtobuf(const nlohmann::json& document);

// Which form of /openapi/v2 an Accept header asks for, as the API server negotiates it: the
// first media range that JSON or protobuf matches (a missing header accepts anything).
enum class OpenApiV2Form { kJson, kProtobuf, kNotAcceptable };
OpenApiV2Form negotiateOpenApiV2(const std::string& accept);

// The Content-Type the API server gives /openapi/v2 in protobuf, however it was asked for.
inline constexpr char kOpenApiV2ProtobufType[] =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

// GET /openapi/v3: the index of group-versions.
nlohmann::json openApiV3Index();

// GET /openapi/v3/<path>, for a path such as "api/v1" or "apis/storage.k8s.io/v1"; nullopt for
// a group-version that is not served.
std::optional<nlohmann::json> openApiV3(const std::string& group_version_path);

}  // namespace kbinder::testing
