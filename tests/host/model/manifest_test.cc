// SPDX-License-Identifier: Apache-2.0
// Manifests in and out: YAML and JSON, lists, typing of scalars, and errors naming the place.
#include "host/model/manifest.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <mutex>
#include <sstream>
#include <utility>
#include <vector>

#include "host/model/objects.h"

namespace kbinder::host {
namespace {

std::string toYaml(const Json& value) {
  std::string out;
  appendYaml(out, value, 0);
  return out;
}

TEST(ManifestTest, MultiDocumentYamlRoundTripsEveryField) {
  const std::string text =
      "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: ml\nspec:\n"
      "  containers:\n  - name: nginx\n    image: \"nginx:1.27\"\n    ports:\n    - containerPort: "
      "80\n"
      "    env:\n    - name: MODE\n      value: \"true\"\n---\napiVersion: v1\nkind: ConfigMap\n"
      "metadata:\n  name: c\ndata:\n  a: \"1\"\n  multi: \"line one\\nline two\\n\"\n";
  auto manifest = parseManifest(text, "x.yaml");
  ASSERT_TRUE(manifest.ok()) << manifest.status().message();
  ASSERT_EQ(manifest->objects.size(), 2u);
  EXPECT_EQ(manifest->format, ManifestFormat::kYaml);
  EXPECT_FALSE(manifest->as_list);
  const Json& pod = manifest->objects[0];
  EXPECT_EQ(pod["spec"]["containers"][0]["ports"][0]["containerPort"], 80);
  EXPECT_EQ(pod["spec"]["containers"][0]["env"][0]["value"], "true");  // quoted: a string
  const std::string written = writeManifest(*manifest);
  EXPECT_EQ(written, text);
  auto again = parseManifest(written, "again.yaml");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->objects, manifest->objects);
}

TEST(ManifestTest, PlainScalarsFollowTheYamlCoreSchema) {
  auto value = parseYaml("a: true\nb: 12\nc: 1.5\nd: ~\ne: 0x10\nf: 500m\ng: '12'\nh: yes\n", "t");
  ASSERT_TRUE(value.ok());
  EXPECT_EQ((*value)["a"], true);
  EXPECT_EQ((*value)["b"], 12);
  EXPECT_EQ((*value)["c"], 1.5);
  EXPECT_TRUE((*value)["d"].is_null());
  EXPECT_EQ((*value)["e"], 16);
  EXPECT_EQ((*value)["f"], "500m");
  EXPECT_EQ((*value)["g"], "12");
  EXPECT_EQ((*value)["h"], "yes");
}

// Every edge of the core schema's integer, float, infinity and NaN forms; what matches none
// stays a string (and is written back quoted where it would otherwise re-read as another type).
TEST(ManifestTest, PlainScalarEdgesResolveAsTheCoreSchemaSays) {
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<std::pair<std::string, Json>> cases = {
      {"0", 0},           {"-1", -1},         {"+7", 7},        {"007", 7},
      {"0o17", 15},       {"0x1F", 31},       {"0xff", 255},    {"1.5", 1.5},
      {".5", 0.5},        {"5.", 5.0},        {"-.5", -0.5},    {"+1.", 1.0},
      {"1e3", 1000.0},    {"1E+3", 1000.0},   {"2.5e-1", 0.25}, {".5e1", 5.0},
      {".inf", inf},      {"-.Inf", -inf},    {"+.INF", inf},   {"99999999999999999999", 1e20},
      {".", "."},         {"+", "+"},         {"1e", "1e"},     {"e3", "e3"},
      {"1.2.3", "1.2.3"}, {"0x", "0x"},       {"0o8", "0o8"},   {"0X1F", "0X1F"},
      {"12abc", "12abc"}, {"1_000", "1_000"}, {"-.", "-."},     {"1e+", "1e+"},
      {".inf.", ".inf."}, {"inf", "inf"},     {"+-1", "+-1"},   {"500m", "500m"},
      {"10Gi", "10Gi"},   {"v1.34", "v1.34"}};
  for (const auto& [text, expected] : cases) {
    auto value = parseYaml("v: " + text + "\n", "t");
    ASSERT_TRUE(value.ok()) << text << ": " << value.status().message();
    EXPECT_EQ((*value)["v"], expected) << text << " read as " << (*value)["v"].dump();
    if (expected.is_string()) {
      // Written back, it reads as the same string.
      auto again = parseYaml(toYaml(Json{{"v", text}}), "again");
      ASSERT_TRUE(again.ok());
      EXPECT_EQ((*again)["v"], text) << toYaml(Json{{"v", text}});
    }
  }
  auto nan = parseYaml("v: .NaN\n", "t");
  ASSERT_TRUE(nan.ok());
  EXPECT_TRUE(std::isnan((*nan)["v"].get<double>()));
}

TEST(ManifestTest, YamlAnchorsTagsBlockScalarsAndOddKeys) {
  auto value = parseYaml(
      "base: &res {cpu: 500m, memory: 1Gi}\n"
      "copy: *res\n"
      "list: &l [1, two]\n"
      "again: *l\n"
      "tagged: !!str 12\n"
      "quoted: '0.5'\n"
      "block: |\n  line one\n  line two\n"
      "folded: >-\n  a\n  b\n"
      "1: numeric key\n"
      "true: bool key\n"
      "dup: first\n"
      "dup: second\n"
      "empty:\n",
      "t");
  ASSERT_TRUE(value.ok()) << value.status().message();
  const Json& v = *value;
  EXPECT_EQ(v["copy"], (Json{{"cpu", "500m"}, {"memory", "1Gi"}}));
  EXPECT_EQ(v["again"], Json::array({1, "two"}));
  EXPECT_EQ(v["tagged"], "12");
  EXPECT_EQ(v["quoted"], "0.5");
  EXPECT_EQ(v["block"], "line one\nline two\n");
  EXPECT_EQ(v["folded"], "a b");
  EXPECT_EQ(v["1"], "numeric key");
  EXPECT_EQ(v["true"], "bool key");
  EXPECT_EQ(v["dup"], "second");
  EXPECT_TRUE(v["empty"].is_null());

  auto unknown = parseYaml("a: *nowhere\n", "x.yaml");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("x.yaml:1:"), std::string::npos)
      << unknown.status().message();

  // Empty documents are skipped; each object says which document and line it came from.
  auto manifest = parseManifest(
      "---\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n", "m.yaml");
  ASSERT_TRUE(manifest.ok()) << manifest.status().message();
  EXPECT_EQ(manifest->objects.size(), 1u);
  auto bad = parseManifest("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\nkind: Pod\n",
                           "m.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("m.yaml:5: document 2"), std::string::npos)
      << bad.status().message();
}

TEST(ManifestTest, StringsThatLookLikeOtherTypesAreQuotedOnOutput) {
  Json object = {{"a", "true"}, {"b", "12"}, {"c", "yes"},  {"d", ""},  {"e", "a: b"},
                 {"f", "1e3"},  {"g", "~"},  {"h", "10Gi"}, {"i", "-x"}};
  auto back = parseYaml(toYaml(object), "t");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, object);
  EXPECT_NE(toYaml(object).find("h: 10Gi\n"), std::string::npos);  // plain where safe
}

TEST(ManifestTest, ListIsFlattenedAndWrittenBackAsAList) {
  const std::string text = R"({"apiVersion": "v1", "kind": "List", "items": [
      {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}},
      {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n2"}}]})";
  auto manifest = parseManifest(text, "nodes.json");
  ASSERT_TRUE(manifest.ok()) << manifest.status().message();
  EXPECT_EQ(manifest->format, ManifestFormat::kJson);
  EXPECT_TRUE(manifest->as_list);
  ASSERT_EQ(manifest->objects.size(), 2u);
  const Json written = Json::parse(writeManifest(*manifest));
  EXPECT_EQ(written["kind"], "List");
  EXPECT_EQ(written["items"].size(), 2u);
  EXPECT_EQ(written["items"][1]["metadata"]["name"], "n2");

  auto yaml = parseManifest(
      "apiVersion: v1\nkind: NodeList\nitems:\n- apiVersion: v1\n  kind: Node\n"
      "  metadata: {name: n1}\n",
      "nodes.yaml");
  ASSERT_TRUE(yaml.ok());
  EXPECT_TRUE(yaml->as_list);
  EXPECT_NE(writeManifest(*yaml).find("kind: NodeList"), std::string::npos);
}

// A List is written item by item (a store streams its snapshot without copying it); the text
// must be exactly what dumping the whole List writes.
TEST(ManifestTest, StreamedListIsExactlyTheWholeListDumped) {
  auto parsed = parseManifest(
      "apiVersion: v1\nkind: Pod\nmetadata: {name: a, labels: {app: \"ü\"}}\nspec:\n  containers:\n"
      "  - name: c\n    env: [{name: X, value: \"1\"}]\n    args: [[nested], []]\n  volumes: []\n"
      "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata: {note: \"line\\nbreak\"}\n",
      "x.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  for (const bool json : {false, true}) {
    for (const size_t count : {size_t{0}, size_t{1}, size_t{2}}) {
      Manifest manifest = *parsed;
      manifest.objects.resize(count);
      manifest.format = json ? ManifestFormat::kJson : ManifestFormat::kYaml;
      manifest.as_list = true;
      manifest.list_kind = "PodList";
      Json list = Json::object();
      list["apiVersion"] = manifest.list_api_version;
      list["kind"] = manifest.list_kind;
      list["items"] = Json::array();
      for (const auto& object : manifest.objects) list["items"].push_back(object);
      list["metadata"] = Json::object({{"resourceVersion", ""}});
      const std::string expected =
          json ? list.dump(4, ' ', false, Json::error_handler_t::replace) + "\n" : toYaml(list);
      EXPECT_EQ(writeManifest(manifest), expected) << (json ? "JSON" : "YAML") << ", " << count;
      auto again = parseManifest(writeManifest(manifest), "again");
      ASSERT_TRUE(again.ok()) << again.status().message();
      EXPECT_EQ(again->objects, manifest.objects);
    }
  }
}

// Objects handed over one at a time are written as the same objects in a vector are, in every
// form; the first one that cannot be handed over stops the writing with its error.
TEST(ManifestTest, ObjectsHandedOverAsTheyAreWritten) {
  std::string text;
  for (int i = 0; i < 5000; ++i) {  // more than one window, and more chunks than cores
    if (i > 0) text += "---\n";
    text += "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c" + std::to_string(i) + "}\n" +
            (i % 2 == 0 ? "data: {k: v}\n" : "");
  }
  auto parsed = parseManifest(text, "x.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  for (const bool json : {false, true}) {
    for (const bool as_list : {false, true}) {
      for (const size_t count : {size_t{1}, size_t{3}, size_t{5000}}) {
        SCOPED_TRACE(std::string(json ? "JSON" : "YAML") + (as_list ? ", a List, " : ", ") +
                     std::to_string(count));
        Manifest form = *parsed;
        form.format = json ? ManifestFormat::kJson : ManifestFormat::kYaml;
        form.as_list = as_list;
        form.objects.resize(count);
        std::mutex mutex;
        std::vector<int> asked(count);
        std::ostringstream out;
        const auto written = writeManifest(
            form, count,
            [&](size_t i) -> StatusOr<std::shared_ptr<const Json>> {
              {
                std::lock_guard lock(mutex);
                ++asked[i];
              }
              return std::make_shared<const Json>(form.objects[i]);  // made for the writing
            },
            out);
        ASSERT_TRUE(written.ok()) << written.message();
        EXPECT_EQ(out.str(), writeManifest(form));
        auto read_back = parseManifest(out.str(), "written");
        ASSERT_TRUE(read_back.ok()) << read_back.status().message();
        EXPECT_EQ(read_back->objects, form.objects);  // every object, in order
        EXPECT_EQ(std::count(asked.begin(), asked.end(), 1), static_cast<long>(count));

        // The first object that cannot be had ends the writing: what comes before it is
        // written, in order, and nothing after.
        const size_t gone = count == 5000 ? 4500 : count - 1;
        std::ostringstream cut;
        const auto failed = writeManifest(
            form, count,
            [&](size_t i) -> StatusOr<std::shared_ptr<const Json>> {
              if (i >= gone) return internalError("object " + std::to_string(i) + " is gone");
              return std::make_shared<const Json>(form.objects[i]);
            },
            cut);
        ASSERT_FALSE(failed.ok());
        EXPECT_EQ(failed.message(), "object " + std::to_string(gone) + " is gone");
        Manifest before = form;
        before.objects.resize(gone);
        const std::string whole = before.objects.empty() ? "" : writeManifest(before);
        // The text up to the last object before the one gone (the List's ending is not written).
        const std::string last = json ? "\"name\": \"c" + std::to_string(gone - 1) + "\""
                                      : "name: c" + std::to_string(gone - 1);
        if (gone > 0) {
          const size_t at = whole.find(last);
          ASSERT_NE(at, std::string::npos);
          const size_t item_end = whole.find(json ? "}" : "\n", at) + 1;
          EXPECT_EQ(cut.str().substr(0, item_end), whole.substr(0, item_end));
        }
        EXPECT_EQ(cut.str().find(json ? "\"name\": \"c" + std::to_string(gone) + "\""
                                      : "name: c" + std::to_string(gone) + "\n"),
                  std::string::npos);
      }
    }
  }
}

TEST(ManifestTest, ErrorsNameTheFileThePlaceAndTheFix) {
  auto bad_yaml = parseManifest("a: [1, 2\n", "c.yaml");
  ASSERT_FALSE(bad_yaml.ok());
  EXPECT_NE(bad_yaml.status().message().find("c.yaml:"), std::string::npos);
  EXPECT_NE(bad_yaml.status().message().find("invalid YAML"), std::string::npos);

  auto bad_json = parseManifest("{\"kind\": \"Pod\",\n \"x\": }", "c.json");
  ASSERT_FALSE(bad_json.ok());
  EXPECT_NE(bad_json.status().message().find("c.json:2:"), std::string::npos)
      << bad_json.status().message();

  auto no_kind = parseManifest("apiVersion: v1\nmetadata: {name: x}\n", "c.yaml");
  ASSERT_FALSE(no_kind.ok());
  EXPECT_NE(no_kind.status().message().find("document 1: has no kind"), std::string::npos)
      << no_kind.status().message();

  auto no_name = parseManifest("apiVersion: v1\nkind: Pod\n---\n", "c.yaml");
  ASSERT_FALSE(no_name.ok());
  EXPECT_NE(no_name.status().message().find("Pod has no metadata.name"), std::string::npos);

  EXPECT_FALSE(parseManifest("  \n", "empty.yaml").ok());
  EXPECT_FALSE(parseManifest("- 1\n- 2\n", "seq.yaml").ok());
}

// A long stream is cut where documents start and its pieces read on every core: what comes
// back, and where problems are placed, must be what one reading of the whole gives.
TEST(ManifestTest, ALongYamlStreamReadsAsOneWhole) {
  constexpr int kDocuments = 4000;  // about 4 MB: several pieces
  auto document = [](int i) {
    std::string text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c" + std::to_string(i) +
                       "\n  annotations:\n    note: |\n      a block scalar, its lines indented\n"
                       "      ----- not a marker\n---x: a key that starts like a marker\ndata:\n";
    for (int k = 0; k < 20; ++k)
      text += "  k" + std::to_string(k) + ": \"value " + std::to_string(k) + "\"\n";
    return text;
  };
  std::vector<size_t> starts;  // the line (from 1) each document's content starts on
  auto stream = [&](const std::string& prefix, int broken_at, const std::string& broken) {
    std::string text;
    size_t lines = 0;
    auto add = [&](const std::string& more) {
      text += more;
      lines += static_cast<size_t>(std::count(more.begin(), more.end(), '\n'));
    };
    add(prefix);
    starts.clear();
    for (int i = 0; i < kDocuments; ++i) {
      add(i % 3 == 0 ? "---\n" : (i % 3 == 1 ? "--- \n" : "...\n---\n"));
      starts.push_back(lines + 1);
      add(i == broken_at ? broken : document(i));
    }
    return text;
  };
  for (const std::string prefix : {"", "%YAML 1.2\n"}) {  // with a directive, read whole
    auto manifest = parseManifest(stream(prefix, -1, ""), "big.yaml");
    ASSERT_TRUE(manifest.ok()) << manifest.status().message();
    ASSERT_EQ(manifest->objects.size(), static_cast<size_t>(kDocuments));
    for (int i = 0; i < kDocuments; ++i) {
      const Json& object = manifest->objects[static_cast<size_t>(i)];
      ASSERT_EQ(object["metadata"]["name"], "c" + std::to_string(i));
      EXPECT_EQ(object["---x"], "a key that starts like a marker");
      EXPECT_EQ(object["metadata"]["annotations"]["note"],
                "a block scalar, its lines indented\n----- not a marker\n");
      EXPECT_EQ(object["data"]["k19"], "value 19");
    }
  }

  // A YAML error late in the stream is placed on its line in the whole stream.
  const std::string unclosed = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\ndata: {}\n";
  auto alone = parseManifest(unclosed, "big.yaml");
  ASSERT_FALSE(alone.ok());
  const std::string alone_message = alone.status().message();  // big.yaml:LINE:COLUMN: ...
  const size_t line_at = std::string("big.yaml:").size();
  const size_t line_end = alone_message.find(':', line_at);
  const size_t line = std::stoul(alone_message.substr(line_at, line_end - line_at));
  auto late = parseManifest(stream("", 3500, unclosed), "big.yaml");
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().message(),
            "big.yaml:" + std::to_string(starts[3500] - 1 + line) + alone_message.substr(line_end));

  // So is a document that is not an object, with its number in the stream.
  auto no_kind =
      parseManifest(stream("", 3800, "apiVersion: v1\nmetadata: {name: x}\n"), "big.yaml");
  ASSERT_FALSE(no_kind.ok());
  EXPECT_NE(no_kind.status().message().find("big.yaml:" + std::to_string(starts[3800]) +
                                            ": document 3801: has no kind"),
            std::string::npos)
      << no_kind.status().message();
}

// A long JSON manifest's items are found by a scan and parsed on every core: what comes back
// must be what parsing the whole gives, and a problem anywhere is reported as it would be then.
TEST(ManifestTest, ALongJsonManifestReadsAsOneWhole) {
  constexpr int kItems = 5000;  // about 6 MB
  auto item = [](int i) {
    Json object = {{"apiVersion", "v1"},
                   {"kind", "ConfigMap"},
                   {"metadata", {{"name", "c" + std::to_string(i)}, {"labels", {{"items", "x"}}}}},
                   {"data",
                    {{"tricky", "a \"quoted\", [bracketed] {braced} \\ value, \"items\": []"},
                     {"items", Json::array({1, 2.5, "three", nullptr, true, Json::object()})},
                     {"unicode", "caf\u00e9 \u2603"}}}};
    for (int k = 0; k < 20; ++k) object["data"]["k" + std::to_string(k)] = std::string(30, 'v');
    return object;
  };
  Json items = Json::array();
  for (int i = 0; i < kItems; ++i) items.push_back(item(i));
  const Json list = {{"apiVersion", "v1"},
                     {"kind", "List"},
                     {"items", items},
                     {"metadata", {{"resourceVersion", ""}}}};
  for (const std::string& text : {list.dump(2), items.dump(), list.dump()}) {
    auto manifest = parseManifest(text, "big.json");
    ASSERT_TRUE(manifest.ok()) << manifest.status().message();
    EXPECT_EQ(manifest->format, ManifestFormat::kJson);
    EXPECT_TRUE(manifest->as_list);
    ASSERT_EQ(manifest->objects.size(), static_cast<size_t>(kItems));
    for (int i = 0; i < kItems; ++i) {
      ASSERT_EQ(manifest->objects[static_cast<size_t>(i)], items[static_cast<size_t>(i)]) << i;
    }
  }
  // Keys the scan must not be misled by: "items" twice (the last wins, as when parsed whole),
  // and a List whose items are not all objects.
  Json twice = list;
  std::string twice_text = twice.dump();
  twice_text.insert(
      1,
      R"("items": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "first"}}], )");
  auto last_wins = parseManifest(twice_text, "twice.json");
  ASSERT_TRUE(last_wins.ok()) << last_wins.status().message();
  EXPECT_EQ(last_wins->objects.size(), static_cast<size_t>(kItems));

  // Problems late in the text, each where parsing the whole places it.
  const std::string text = list.dump(2);
  const std::string marker = "\"name\": \"c4000\"";
  const size_t at = text.find(marker);
  ASSERT_NE(at, std::string::npos);
  const std::string line =
      std::to_string(std::count(text.begin(), text.begin() + static_cast<long>(at), '\n') + 1);
  for (const auto& [broken, expected] : std::vector<std::pair<std::string, std::string>>{
           {std::string(text).replace(at, marker.size(), "\"name\": }"), "big.json:" + line + ":"},
           {text + " x", "invalid JSON"},
           {std::string(text).insert(text.rfind(']'), ",\n"), "invalid JSON"},
           {text.substr(0, text.size() - 10), "invalid JSON"}}) {
    auto refused = parseManifest(broken, "big.json");
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.status().message().find(expected), std::string::npos)
        << refused.status().message();
  }
  Json not_object = list;
  not_object["items"][4500] = 7;
  auto refused = parseManifest(not_object.dump(), "big.json");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("item 4501"), std::string::npos)
      << refused.status().message();
}

// Every object and array at every depth of `value` holds no room beyond its size.
bool fitted(const Json& value) {
  if (value.is_object()) {
    const auto& fields = value.get_ref<const Json::object_t&>();
    if (fields.capacity() != fields.size()) return false;
    return std::all_of(fields.begin(), fields.end(),
                       [](const auto& f) { return fitted(f.second); });
  }
  if (value.is_array()) {
    const auto& items = value.get_ref<const Json::array_t&>();
    if (items.capacity() != items.size()) return false;
    return std::all_of(items.begin(), items.end(), [](const Json& v) { return fitted(v); });
  }
  return true;
}

TEST(ManifestTest, ShrinkToFitKeepsTheValueAndGivesBackTheRoomGrowingLeft) {
  // Parsing adds keys and items one by one, so the containers end up larger than they hold.
  Json value = Json::parse(
      R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"a":"1","b":"2","c":"3"}},)"
      R"("spec":{"containers":[{"name":"x","args":["1","2","3"]},{"name":"y"},{"name":"z"}]}})");
  value["metadata"]["annotations"]["added"] = "later";  // a key added to a parsed object
  ASSERT_FALSE(fitted(value));                          // else this test shows nothing
  const Json before = value;
  const std::string text_before = value.dump();
  shrinkToFit(value);
  EXPECT_TRUE(fitted(value));
  EXPECT_EQ(value, before);
  EXPECT_EQ(value.dump(), text_before);  // key order too
}

// member() adds a key to a full object by moving its values: each keeps its storage, where
// operator[] would copy them whole. An existing key is found, not added again.
TEST(ManifestTest, MemberGrowsAnObjectWithoutCopyingItsValues) {
  Json pod = Json::parse(R"({"kind":"Pod","spec":{"containers":[{"name":"c"}],"volumes":[]}})");
  shrinkToFit(pod);
  const auto* spec_storage = &pod["spec"].get_ref<Json::object_t&>();
  const auto* containers_storage = &pod["spec"]["containers"].get_ref<Json::array_t&>();
  member(pod, "status") = Json::object();
  member(member(pod, "spec"), "nodeName") = "n1";
  EXPECT_EQ(&pod["spec"].get_ref<Json::object_t&>(), spec_storage);
  EXPECT_EQ(&pod["spec"]["containers"].get_ref<Json::array_t&>(), containers_storage);
  EXPECT_EQ(pod.dump(),
            R"({"kind":"Pod","spec":{"containers":[{"name":"c"}],"volumes":[],"nodeName":"n1"},)"
            R"("status":{}})");
  member(member(pod, "spec"), "nodeName") = "n2";  // found, not added again
  EXPECT_EQ(pod["spec"].size(), 3u);
  EXPECT_EQ(pod["spec"]["nodeName"], "n2");
  Json scalar = 5;
  member(scalar, "a") = 1;  // not an object: made one
  EXPECT_EQ(scalar, Json::parse(R"({"a":1})"));
}

}  // namespace
}  // namespace kbinder::host
