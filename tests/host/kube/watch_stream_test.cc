// SPDX-License-Identifier: Apache-2.0
// What watch streams rest on: splitting a watch body into its objects however the bytes are
// chunked, the resource paths, and escaping values for a query.
#include "host/kube/watch_stream.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kbinder::host {
namespace {

TEST(JsonStreamSplitterTest, FindsWholeObjectsHoweverTheBytesArrive) {
  const std::string stream = R"({"type":"ADDED","object":{"note":"a } brace and a \" quote {"}} )"
                             "\n"
                             R"({"type":"BOOKMARK","object":{}})";
  for (size_t chunk : {1u, 2u, 7u, 1000u}) {
    JsonStreamSplitter splitter;
    std::vector<std::string> objects;
    for (size_t i = 0; i < stream.size(); i += chunk) {
      for (auto& o : splitter.feed(std::string_view(stream).substr(i, chunk))) objects.push_back(o);
    }
    ASSERT_EQ(objects.size(), 2u) << chunk;
    EXPECT_EQ(Json::parse(objects[0])["object"]["note"], "a } brace and a \" quote {");
    // Nothing is left over: the next object is found on its own.
    const auto next = splitter.feed(R"({"type":"DELETED"})");
    ASSERT_EQ(next.size(), 1u) << chunk;
    EXPECT_EQ(Json::parse(next[0])["type"], "DELETED");
  }
}

TEST(WatchStreamTest, PathsNameTheKindsCollectionOrObject) {
  EXPECT_EQ(resourcePath(Kind::kPod, "ml"), "/api/v1/namespaces/ml/pods");
  EXPECT_EQ(resourcePath(Kind::kPod, ""), "/api/v1/pods");
  EXPECT_EQ(resourcePath(Kind::kNode, "ml", "n1"), "/api/v1/nodes/n1");  // cluster-scoped
  EXPECT_EQ(resourcePath(Kind::kBindRequest, "ml", "r"),
            "/apis/scheduling.run.ai/v1alpha2/namespaces/ml/bindrequests/r");
}

TEST(WatchStreamTest, QueryValuesAreEscapedAsUrlsNeed) {
  EXPECT_EQ(KubeClient::escape("app in (a,b)"), "app%20in%20%28a%2Cb%29");
  EXPECT_EQ(KubeClient::escape("Az09-._~"), "Az09-._~");
  EXPECT_EQ(KubeClient::escape("k=v&x/y"), "k%3Dv%26x%2Fy");
  EXPECT_EQ(KubeClient::escape(""), "");
}

}  // namespace
}  // namespace kbinder::host
