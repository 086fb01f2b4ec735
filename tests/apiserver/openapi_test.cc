// SPDX-License-Identifier: Apache-2.0
// The test API server's OpenAPI documents: what kubectl reads before it writes an object.
#include "openapi.h"

#include <google/protobuf/unknown_field_set.h>
#include <gtest/gtest.h>

#include "openapi_v2.pb.h"
#include "resources.h"

namespace kbinder::testing {
namespace {

using Json = nlohmann::json;

const openapi_v2::Schema* findDefinition(const openapi_v2::Document& document,
                                         const std::string& kind) {
  for (const auto& named : document.definitions().additional_properties()) {
    for (const auto& extension : named.value().vendor_extension()) {
      if (extension.name() != "x-kubernetes-group-version-kind") continue;
      if (Json::parse(extension.value().yaml()).at(0).at("kind") == kind) return &named.value();
    }
  }
  return nullptr;
}

TEST(OpenApiTest, EveryServedKindHasADefinitionNamingItsGroupVersionKind) {
  const Json document = openApiV2();
  EXPECT_EQ(document.at("swagger"), "2.0");
  for (const auto& r : kResources) {
    int found = 0;
    for (const auto& [name, schema] : document.at("definitions").items()) {
      const Json& gvk = schema.at("x-kubernetes-group-version-kind").at(0);
      if (gvk.at("group") == r.group && gvk.at("version") == r.version &&
          gvk.at("kind") == r.kind) {
        ++found;
        EXPECT_EQ(schema.at("type"), "object") << name;
        EXPECT_TRUE(schema.at("properties").contains("metadata")) << name;
      }
    }
    EXPECT_EQ(found, 1) << r.group << "/" << r.version << " " << r.kind;
  }
}

TEST(OpenApiTest, TopLevelFieldsAreNamedAndRequiredOnesMarked) {
  const Json document = openApiV2();
  const Json& binding = document.at("definitions").at("io.kbinder.test.core.v1.Binding");
  EXPECT_EQ(binding.at("required"), Json::array({"target"}));
  EXPECT_EQ(binding.at("properties").size(), 4u);  // apiVersion, kind, metadata, target
  const Json& pod = document.at("definitions").at("io.kbinder.test.core.v1.Pod");
  EXPECT_FALSE(pod.contains("required"));
  for (const char* field : {"apiVersion", "kind", "metadata", "spec", "status"}) {
    EXPECT_TRUE(pod.at("properties").contains(field)) << field;
  }
  // Below the top level, anything goes: objects carry fields kbinder does not model.
  EXPECT_EQ(pod.at("properties").at("spec"), Json::object());
}

TEST(OpenApiTest, TheProtobufFormCarriesTheSameDocument) {
  const Json json = openApiV2();
  const std::string wire = openApiV2AsProtobuf(json);

  // The wire contract clients decode: swagger is field 1, info 2, paths 8, definitions 9.
  google::protobuf::UnknownFieldSet fields;
  ASSERT_TRUE(fields.ParseFromString(wire));
  std::set<int> numbers;
  for (int i = 0; i < fields.field_count(); ++i) numbers.insert(fields.field(i).number());
  EXPECT_EQ(numbers, (std::set<int>{1, 2, 8, 9}));

  openapi_v2::Document document;
  ASSERT_TRUE(document.ParseFromString(wire));
  EXPECT_EQ(document.swagger(), "2.0");
  EXPECT_EQ(document.definitions().additional_properties_size(),
            static_cast<int>(json.at("definitions").size()));
  const openapi_v2::Schema* binding = findDefinition(document, "Binding");
  ASSERT_NE(binding, nullptr);
  ASSERT_EQ(binding->required_size(), 1);
  EXPECT_EQ(binding->required(0), "target");
  ASSERT_EQ(binding->type().value_size(), 1);
  EXPECT_EQ(binding->type().value(0), "object");
  std::set<std::string> properties;
  for (const auto& p : binding->properties().additional_properties()) properties.insert(p.name());
  EXPECT_EQ(properties, (std::set<std::string>{"apiVersion", "kind", "metadata", "target"}));
  EXPECT_NE(findDefinition(document, "BindRequest"), nullptr);
}

TEST(OpenApiTest, AcceptHeadersAreNegotiatedAsTheApiServerDoes) {
  const struct {
    const char* accept;
    OpenApiV2Form form;
  } cases[] = {
      {"", OpenApiV2Form::kJson},
      {"*/*", OpenApiV2Form::kJson},
      {"application/json", OpenApiV2Form::kJson},
      {"application/json;q=0.9", OpenApiV2Form::kJson},
      {"application/com.github.proto-openapi.spec.v2@v1.0+protobuf", OpenApiV2Form::kProtobuf},
      {"application/com.github.proto-openapi.spec.v2.v1.0+protobuf", OpenApiV2Form::kProtobuf},
      {"text/html, application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
       OpenApiV2Form::kProtobuf},
      {"application/com.github.proto-openapi.spec.v2.v1.0+protobuf, application/json",
       OpenApiV2Form::kProtobuf},
      {"text/html", OpenApiV2Form::kNotAcceptable},
      {"application/yaml", OpenApiV2Form::kNotAcceptable},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(negotiateOpenApiV2(c.accept), c.form) << "Accept: " << c.accept;
  }
}

TEST(OpenApiTest, VersionThreeServesOneDocumentPerGroupVersion) {
  const Json index = openApiV3Index();
  for (const auto& r : kResources) {
    EXPECT_TRUE(index.at("paths").contains(groupVersionPath(r))) << groupVersionPath(r);
    const auto document = openApiV3(groupVersionPath(r));
    ASSERT_TRUE(document.has_value()) << groupVersionPath(r);
    EXPECT_TRUE(document->at("components")
                    .at("schemas")
                    .contains(std::string("io.kbinder.test.") +
                              (*r.group == '\0' ? "core" : r.group) + "." + r.version + "." +
                              r.kind));
  }
  EXPECT_FALSE(openApiV3("apis/apps/v1").has_value());
}

}  // namespace
}  // namespace kbinder::testing
