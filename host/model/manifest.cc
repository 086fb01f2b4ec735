// SPDX-License-Identifier: Apache-2.0
#include "host/model/manifest.h"

#include <algorithm>
#include <atomic>
#include <optional>
#include <sstream>

#include "host/base/parallel.h"

namespace kbinder::host {
namespace {

// A long JSON manifest's objects, found without parsing them: the elements of the top-level
// array, or of the top-level object's "items" array (a List). Each is then parsed on its own.
// Nothing is returned where the text is not plainly that shape (or not valid JSON, as far as
// the scan can tell): it is parsed whole then, which also places any error exactly.
struct JsonItems {
  bool top_array = false;
  size_t open = 0, close = 0;                       // the array's brackets
  std::vector<std::pair<size_t, size_t>> elements;  // [begin, end) of each
};

std::optional<JsonItems> findJsonItems(std::string_view text) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  size_t at = text.rfind("\xEF\xBB\xBF", 0) == 0 ? 3 : 0;  // a byte order mark, as the parser skips
  while (at < text.size() && blank(text[at])) ++at;
  if (at == text.size() || (text[at] != '[' && text[at] != '{')) return std::nullopt;
  JsonItems out;
  out.top_array = text[at] == '[';
  const int items_depth = out.top_array ? 1 : 2;  // the depth inside the array
  int depth = 0;
  bool in_items = false, found = false;
  bool key_next = false, value_is_items = false;  // in the top-level object
  std::string_view key;
  size_t element = std::string_view::npos;  // where the element under way began
  auto startElement = [&](size_t i) {
    if (in_items && depth == items_depth && element == std::string_view::npos) element = i;
  };
  for (size_t i = at; i < text.size(); ++i) {
    const char c = text[i];
    if (blank(c)) continue;
    if (depth == 1 && !out.top_array && value_is_items && c != '[') value_is_items = false;
    if (c == '"') {
      size_t end = i + 1;
      while ((end = text.find_first_of("\"\\", end)) != std::string_view::npos && text[end] == '\\')
        end += 2;
      if (end == std::string_view::npos) return std::nullopt;
      startElement(i);
      if (depth == 1 && !out.top_array && key_next) key = text.substr(i + 1, end - i - 1);
      key_next = false;
      i = end;
      continue;
    }
    switch (c) {
      case '{':
      case '[':
        startElement(i);
        ++depth;
        if (depth == 1) {
          in_items = out.top_array;
          key_next = !out.top_array;
          out.open = i;
        } else if (depth == 2 && value_is_items) {
          if (found) return std::nullopt;  // "items" twice: the last would win
          in_items = found = true;
          out.open = i;
        }
        value_is_items = false;
        break;
      case '}':
      case ']':
        if (in_items && depth == items_depth) {
          if (element != std::string_view::npos) {
            out.elements.emplace_back(element, i);
          } else if (!out.elements.empty()) {
            return std::nullopt;  // a comma before the bracket
          }
          element = std::string_view::npos;
          in_items = false;
          out.close = i;
        }
        if (--depth == 0) {
          for (size_t rest = i + 1; rest < text.size(); ++rest) {
            if (!blank(text[rest])) return std::nullopt;
          }
          if (!out.top_array && !found) return std::nullopt;
          return out;
        }
        break;
      case ',':
        if (in_items && depth == items_depth) {
          if (element == std::string_view::npos) return std::nullopt;
          out.elements.emplace_back(element, i);
          element = std::string_view::npos;
        }
        if (depth == 1 && !out.top_array) key_next = true;
        break;
      case ':':
        if (depth == 1 && !out.top_array) value_is_items = key == "items";
        break;
      default: startElement(i);
    }
  }
  return std::nullopt;  // the text ends inside the value
}

// `text` parsed as one JSON value, its items (see findJsonItems) on every core; nullopt where
// that does not apply or any piece fails to parse.
std::optional<Json> parseJsonInPieces(std::string_view text) {
  if (text.size() < (size_t{4} << 20)) return std::nullopt;
  const auto items = findJsonItems(text);
  if (!items || items->elements.size() < 2) return std::nullopt;
  Json::array_t elements(items->elements.size());
  std::atomic<bool> failed{false};
  forEachChunk(elements.size(), 64, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end && !failed; ++i) {
      const auto [from, to] = items->elements[i];
      try {
        elements[i] = Json::parse(text.begin() + from, text.begin() + to);
      } catch (const Json::exception&) {
        failed = true;
      }
    }
  });
  if (failed) return std::nullopt;
  if (items->top_array) return Json(std::move(elements));
  std::string envelope(text.substr(0, items->open));
  envelope += "[]";
  envelope += text.substr(items->close + 1);
  Json document;
  try {
    document = Json::parse(envelope);
  } catch (const Json::exception&) {
    return std::nullopt;
  }
  auto found = document.find("items");
  if (found == document.end() || !found->is_array() || !found->empty()) return std::nullopt;
  *found = Json(std::move(elements));
  return document;
}

std::string lineColumn(std::string_view text, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return std::to_string(line) + ":" + std::to_string(column);
}

bool isListKind(const Json& object) {
  if (!object.is_object()) return false;
  const auto kind = object.find("kind");
  if (kind == object.end() || !kind->is_string()) return false;
  const auto& k = kind->get_ref<const std::string&>();
  return k.size() >= 4 && k.compare(k.size() - 4, 4, "List") == 0 && object.contains("items");
}

// Checks that `object` is a Kubernetes object; `where` says which document it is.
Status checkObject(const Json& object, const std::string& where) {
  if (!object.is_object()) {
    return invalidArgument(where +
                           ": not a Kubernetes object (expected a mapping with "
                           "apiVersion, kind and metadata)");
  }
  for (const char* field : {"apiVersion", "kind"}) {
    const auto it = object.find(field);
    if (it == object.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
      return invalidArgument(where + ": has no " + field +
                             "; every object needs apiVersion, "
                             "kind and metadata.name");
    }
  }
  const auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object() || !meta->contains("name") ||
      !(*meta)["name"].is_string() || (*meta)["name"].get_ref<const std::string&>().empty()) {
    return invalidArgument(where + ": " + object["kind"].get<std::string>() +
                           " has no metadata.name; give every object a name");
  }
  return okStatus();
}

Status addDocument(Manifest& manifest, Json document, const std::string& where) {
  if (isListKind(document)) {
    auto& items = document["items"];
    if (!items.is_array() && !items.is_null()) {
      return invalidArgument(where + ": " + document["kind"].get<std::string>() +
                             ".items must be a list of objects");
    }
    if (items.is_null()) return okStatus();
    for (size_t i = 0; i < items.size(); ++i) {
      const std::string item_where = where + " item " + std::to_string(i + 1);
      if (Status s = checkObject(items[i], item_where); !s.ok()) return s;
      manifest.objects.push_back(std::move(items[i]));
    }
    return okStatus();
  }
  if (Status s = checkObject(document, where); !s.ok()) return s;
  manifest.objects.push_back(std::move(document));
  return okStatus();
}

}  // namespace

StatusOr<Manifest> parseManifest(std::string_view text, std::string_view source) {
  Manifest manifest;
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    return invalidArgument(std::string(source) +
                           ": is empty; expected Kubernetes objects in "
                           "YAML or JSON");
  }
  if (text[first] == '{' || text[first] == '[') {
    manifest.format = ManifestFormat::kJson;
    Json document;
    if (auto pieces = parseJsonInPieces(text)) {
      document = std::move(*pieces);
    } else {
      try {
        document = Json::parse(text.begin(), text.end());
      } catch (const Json::parse_error& e) {
        return invalidArgument(std::string(source) + ":" + lineColumn(text, e.byte - 1) +
                               ": invalid JSON: " + e.what());
      }
    }
    std::vector<Json> documents;
    const bool is_array = document.is_array();
    if (is_array) {
      documents.assign(document.begin(), document.end());
    } else {
      manifest.as_list = isListKind(document);
      documents.push_back(std::move(document));
    }
    for (size_t i = 0; i < documents.size(); ++i) {
      if (manifest.as_list) {
        manifest.list_api_version = documents[i].value("apiVersion", "v1");
        manifest.list_kind = documents[i].value("kind", "List");
      }
      const std::string where =
          std::string(source) + (documents.size() > 1 ? ": element " + std::to_string(i + 1) : "");
      if (Status s = addDocument(manifest, std::move(documents[i]), where); !s.ok()) return s;
    }
    if (is_array) manifest.as_list = true;
    return manifest;
  }

  manifest.format = ManifestFormat::kYaml;
  auto parsed = readYamlDocuments(text);
  if (!parsed.ok()) return invalidArgument(std::string(source) + ":" + parsed.status().message());
  size_t documents = 0;
  for (YamlDocument& yaml : *parsed) {
    if (yaml.value.is_null()) continue;  // an empty document, e.g. a leading or trailing "---"
    ++documents;
    Json document = std::move(yaml.value);
    const std::string where = std::string(source) + ":" + std::to_string(yaml.line) +
                              ": document " + std::to_string(documents);
    const bool list = isListKind(document);
    if (list) {
      manifest.list_api_version = document.value("apiVersion", "v1");
      manifest.list_kind = document.value("kind", "List");
    }
    manifest.as_list = documents == 1 && list;
    if (Status s = addDocument(manifest, std::move(document), where); !s.ok()) return s;
  }
  if (documents == 0) {
    return invalidArgument(std::string(source) +
                           ": has no objects; expected Kubernetes objects in "
                           "YAML or JSON");
  }
  return manifest;
}

namespace {

// Writes `count` objects, `between` between two, each written to text by `render` on every
// core a window at a time: the texts of one window are held at once, the objects only while
// they are rendered. The first object that cannot be had ends the writing there.
Status writeRendered(size_t count, const ManifestItem& object,
                     const std::function<void(const Json&, std::string&)>& render,
                     std::string_view between, std::ostream& out) {
  constexpr size_t kWindow = 4096, kChunk = 64;
  std::vector<std::string> texts(std::min(count, kWindow));
  std::vector<Status> problems(texts.size());
  for (size_t window = 0; window < count; window += kWindow) {
    const size_t size = std::min(kWindow, count - window);
    forEachChunk(size, kChunk, [&](size_t begin, size_t end) {
      for (size_t i = begin; i < end; ++i) {
        auto item = object(window + i);
        if (!item.ok()) {
          problems[i] = item.status();
          continue;
        }
        texts[i].clear();
        render(**item, texts[i]);
      }
    });
    for (size_t i = 0; i < size; ++i) {
      if (!problems[i].ok()) return problems[i];
      if (window + i > 0) out << between;
      out << texts[i];
    }
  }
  return okStatus();
}

}  // namespace

Status writeManifest(const Manifest& form, size_t count, const ManifestItem& object,
                     std::ostream& out) {
  constexpr auto kReplace = Json::error_handler_t::replace;
  const bool json = form.format == ManifestFormat::kJson;
  if (form.as_list || (json && count != 1)) {
    // A List written item by item, exactly as dumping the whole List would write it, without
    // building it: the objects are neither copied nor held twice.
    const Json api_version = form.list_api_version, kind = form.list_kind;
    if (json) {
      out << "{\n    \"apiVersion\": " << api_version.dump(-1, ' ', false, kReplace)
          << ",\n    \"kind\": " << kind.dump(-1, ' ', false, kReplace) << ",\n    \"items\": ";
      if (count == 0) {
        out << "[]";
      } else {
        out << "[\n";
        const auto render = [](const Json& value, std::string& text) {
          const std::string dumped = value.dump(4, ' ', false, kReplace);
          // Nested two levels deep: every line indented by 8 (JSON strings hold no newlines).
          text.reserve(dumped.size() + dumped.size() / 4);
          size_t start = 0;
          while (start < dumped.size()) {
            const size_t end = std::min(dumped.find('\n', start), dumped.size());
            text.append(8, ' ');
            text.append(dumped, start, end - start);
            if (end < dumped.size()) text += '\n';
            start = end + 1;
          }
        };
        if (Status s = writeRendered(count, object, render, ",\n", out); !s.ok()) return s;
        out << "\n    ]";
      }
      out << ",\n    \"metadata\": {\n        \"resourceVersion\": \"\"\n    }\n}\n";
      return okStatus();
    }
    std::string text;
    appendYaml(text, Json{{"apiVersion", api_version}, {"kind", kind}}, 0);
    out << text;
    if (count == 0) {
      out << "items: []\n";
    } else {
      out << "items:\n";
      const auto render = [](const Json& value, std::string& text) {
        // kubectl style: the items at the key's indentation, the first key on the "- " line.
        if (value.is_object() && !value.empty()) {
          appendYaml(text, value, 2);
          text.replace(0, 2, "- ");
        } else {
          appendYaml(text, Json::array({value}), 0);
        }
      };
      if (Status s = writeRendered(count, object, render, "", out); !s.ok()) return s;
    }
    text.clear();
    appendYaml(text, Json{{"metadata", Json{{"resourceVersion", ""}}}}, 0);
    out << text;
    return okStatus();
  }
  if (json) {
    auto item = object(0);
    if (!item.ok()) return item.status();
    out << (*item)->dump(4, ' ', false, kReplace) << "\n";
    return okStatus();
  }
  return writeRendered(
      count, object, [](const Json& value, std::string& text) { appendYaml(text, value, 0); },
      "---\n", out);
}

void writeManifest(const Manifest& form, const std::vector<const Json*>& objects,
                   std::ostream& out) {
  // Every object is at hand: the writing cannot fail.
  (void)writeManifest(
      form, objects.size(),
      [&](size_t i) -> StatusOr<std::shared_ptr<const Json>> {
        return std::shared_ptr<const Json>(std::shared_ptr<const Json>(), objects[i]);  // not owned
      },
      out);
}

std::string writeManifest(const Manifest& manifest) {
  std::vector<const Json*> objects;
  objects.reserve(manifest.objects.size());
  for (const Json& object : manifest.objects) objects.push_back(&object);
  std::ostringstream out;
  writeManifest(manifest, objects, out);
  return out.str();
}

}  // namespace kbinder::host
