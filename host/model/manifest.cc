// SPDX-License-Identifier: Apache-2.0
#include "host/model/manifest.h"

#include <yaml.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <sstream>

#include "host/base/parallel.h"

namespace kbinder::host {
namespace {

bool isDigit(char c, int base) {
  if (base == 16) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  return c >= '0' && c < static_cast<char>('0' + base);
}

// `s` from `at` on is one or more digits of `base`.
bool allDigits(const std::string& s, size_t at, int base) {
  if (at >= s.size()) return false;
  for (size_t i = at; i < s.size(); ++i) {
    if (!isDigit(s[i], base)) return false;
  }
  return true;
}

// The core schema's float: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool isCoreFloat(const std::string& s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  const size_t int_start = i;
  while (i < s.size() && isDigit(s[i], 10)) ++i;
  const bool int_digits = i > int_start;
  if (i < s.size() && s[i] == '.') {
    ++i;
    const size_t frac_start = i;
    while (i < s.size() && isDigit(s[i], 10)) ++i;
    if (!int_digits && i == frac_start) return false;  // "." or "-." alone
  } else if (!int_digits) {
    return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    if (!allDigits(s, i, 10)) return false;
    i = s.size();
  }
  return i == s.size();
}

// YAML 1.2 core schema resolution of a plain (unquoted) scalar. Hand-written matchers: this
// runs for every plain scalar read and every string written, where std::regex was the cost.
Json resolvePlainScalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  const char first = s[0];
  // Every other non-string starts with a digit, a sign or a dot.
  if (!isDigit(first, 10) && first != '-' && first != '+' && first != '.') return s;
  auto integer = [&](const char* digits, int base) -> Json {
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(digits, &end, base);
    if (errno == ERANGE || *end != '\0') return std::strtod(s.c_str(), nullptr);
    return static_cast<int64_t>(v);
  };
  const size_t sign = (first == '-' || first == '+') ? 1 : 0;
  if (allDigits(s, sign, 10)) return integer(s.c_str(), 10);
  if (s.size() > 2 && s[0] == '0' && s[1] == 'o' && allDigits(s, 2, 8)) return integer(s.c_str() + 2, 8);
  if (s.size() > 2 && s[0] == '0' && s[1] == 'x' && allDigits(s, 2, 16)) return integer(s.c_str() + 2, 16);
  if (isCoreFloat(s)) return std::strtod(s.c_str(), nullptr);
  const std::string rest = s.substr(sign);
  if (rest == ".inf" || rest == ".Inf" || rest == ".INF") {
    return first == '-' ? -std::numeric_limits<double>::infinity()
                        : std::numeric_limits<double>::infinity();
  }
  if (s == ".nan" || s == ".NaN" || s == ".NAN") return std::numeric_limits<double>::quiet_NaN();
  return s;
}

// A YAML stream's documents as JSON values, read with libyaml's event parser (no node tree:
// each value is built in place). Plain scalars follow the core schema; quoted, block and
// explicitly tagged scalars are strings; aliases copy their anchor's value; a non-string
// key is written as its JSON text; of duplicate keys the last wins.
struct YamlDocument {
  Json value;       // null for an empty document
  size_t line = 0;  // where it starts, from 1
};

class YamlReader {
 public:
  // `text` begins on line `first_line` (from 0) of what it was cut from: messages and
  // documents give lines in the whole.
  explicit YamlReader(std::string_view text, size_t first_line = 0) : first_line_(first_line) {
    yaml_parser_initialize(&parser_);
    yaml_parser_set_input_string(&parser_, reinterpret_cast<const unsigned char*>(text.data()),
                                 text.size());
  }
  ~YamlReader() { yaml_parser_delete(&parser_); }
  YamlReader(const YamlReader&) = delete;
  YamlReader& operator=(const YamlReader&) = delete;

  // All documents (`first_only`: stops after the first); errors carry "LINE:COLUMN: problem".
  StatusOr<std::vector<YamlDocument>> read(bool first_only) {
    std::vector<YamlDocument> documents;
    while (true) {
      yaml_event_t event;
      if (!yaml_parser_parse(&parser_, &event)) return error();
      const yaml_event_type_t type = event.type;
      Status s = handle(event, documents);
      yaml_event_delete(&event);
      if (!s.ok()) return s;
      if (type == YAML_STREAM_END_EVENT) break;
      if (type == YAML_DOCUMENT_END_EVENT && first_only) break;
    }
    return documents;
  }

 private:
  struct Frame {
    Json value;
    std::string anchor;
    std::optional<std::string> key;  // in a mapping: the key read, waiting for its value
  };

  Status error() const {
    const yaml_mark_t& mark = parser_.problem_mark;
    std::string message = parser_.problem != nullptr ? parser_.problem : "malformed YAML";
    if (parser_.context != nullptr) message = std::string(parser_.context) + ": " + message;
    return invalidArgument(std::to_string(first_line_ + mark.line + 1) + ":" +
                           std::to_string(mark.column + 1) + ": invalid YAML: " + message);
  }

  static std::string text(const yaml_char_t* s) {
    return s == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(s));
  }

  // A finished value goes into its parent (or becomes the document).
  void deliver(Json value, const std::string& anchor) {
    if (!anchor.empty()) anchors_[anchor] = value;
    if (stack_.empty()) {
      root_ = std::move(value);
      return;
    }
    Frame& parent = stack_.back();
    if (parent.value.is_array()) {
      parent.value.push_back(std::move(value));
    } else if (!parent.key) {
      parent.key = value.is_string() ? value.get<std::string>() : value.dump();
    } else {
      parent.value[*parent.key] = std::move(value);
      parent.key.reset();
    }
  }

  Status handle(const yaml_event_t& event, std::vector<YamlDocument>& documents) {
    // A document is where its content starts (not its "---"), as messages point there.
    if (in_document_ && !content_seen_ && event.type != YAML_DOCUMENT_END_EVENT) {
      content_seen_ = true;
      line_ = first_line_ + event.start_mark.line + 1;
    }
    switch (event.type) {
      case YAML_DOCUMENT_START_EVENT:
        root_ = nullptr;
        line_ = first_line_ + event.start_mark.line + 1;
        in_document_ = true;
        content_seen_ = false;
        break;
      case YAML_DOCUMENT_END_EVENT:
        documents.push_back({std::move(root_), line_});
        anchors_.clear();
        in_document_ = false;
        break;
      case YAML_SCALAR_EVENT: {
        const auto& scalar = event.data.scalar;
        std::string value(reinterpret_cast<const char*>(scalar.value), scalar.length);
        const bool plain = scalar.style == YAML_PLAIN_SCALAR_STYLE && scalar.tag == nullptr;
        deliver(plain ? resolvePlainScalar(value) : Json(std::move(value)), text(scalar.anchor));
        break;
      }
      case YAML_SEQUENCE_START_EVENT:
        stack_.push_back({Json::array(), text(event.data.sequence_start.anchor), std::nullopt});
        break;
      case YAML_MAPPING_START_EVENT:
        stack_.push_back({Json::object(), text(event.data.mapping_start.anchor), std::nullopt});
        break;
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT: {
        Frame frame = std::move(stack_.back());
        stack_.pop_back();
        deliver(std::move(frame.value), frame.anchor);
        break;
      }
      case YAML_ALIAS_EVENT: {
        const std::string name = text(event.data.alias.anchor);
        const auto it = anchors_.find(name);
        if (it == anchors_.end()) {
          return invalidArgument(std::to_string(first_line_ + event.start_mark.line + 1) + ":" +
                                 std::to_string(event.start_mark.column + 1) +
                                 ": invalid YAML: unknown anchor *" + name);
        }
        deliver(it->second, "");
        break;
      }
      default:
        break;
    }
    return okStatus();
  }

  yaml_parser_t parser_;
  size_t first_line_;
  std::vector<Frame> stack_;
  std::map<std::string, Json> anchors_;
  Json root_;
  size_t line_ = 0;
  bool in_document_ = false, content_seen_ = false;
};

// A YAML stream cut into pieces of about `size` bytes or more, each read on its own: cut only
// where a line starts a document ("---", then a blank, a line break or the end), which no
// document's content can hold at a line's start, and never in a stream with directives (a
// "%" line belongs to the document after it). Each piece's first line, from 0, is given too.
struct YamlPiece {
  std::string_view text;
  size_t first_line;
};

std::vector<YamlPiece> yamlPieces(std::string_view text, size_t size) {
  const bool directives =
      (!text.empty() && text[0] == '%') || text.find("\n%") != std::string_view::npos;
  if (directives || text.size() < 2 * size) return {{text, 0}};
  std::vector<YamlPiece> pieces;
  size_t start = 0, line = 0;
  for (size_t at = text.find("\n---", size); at != std::string_view::npos;
       at = text.find("\n---", at + 1)) {
    const size_t cut = at + 1;
    const size_t after = cut + 3;
    if (after < text.size() &&
        std::string_view(" \t\r\n").find(text[after]) == std::string_view::npos) {
      continue;  // "---x": content, not a marker
    }
    if (cut - start < size) continue;
    pieces.push_back({text.substr(start, cut - start), line});
    line += static_cast<size_t>(std::count(text.begin() + start, text.begin() + cut, '\n'));
    start = cut;
  }
  pieces.push_back({text.substr(start), line});
  return pieces;
}

// Every document of a YAML stream, its pieces read on every core.
StatusOr<std::vector<YamlDocument>> readYamlDocuments(std::string_view text) {
  const std::vector<YamlPiece> pieces = yamlPieces(text, size_t{1} << 20);
  if (pieces.size() == 1) return YamlReader(text).read(/*first_only=*/false);
  std::vector<StatusOr<std::vector<YamlDocument>>> read(pieces.size(), std::vector<YamlDocument>{});
  forEachChunk(pieces.size(), 1, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      read[i] = YamlReader(pieces[i].text, pieces[i].first_line).read(/*first_only=*/false);
    }
  });
  std::vector<YamlDocument> documents;
  for (auto& piece : read) {  // in order: the first problem in the stream is the one reported
    if (!piece.ok()) return piece.status();
    if (documents.empty()) {
      documents = std::move(piece).value();
    } else {
      for (YamlDocument& document : *piece) documents.push_back(std::move(document));
    }
  }
  return documents;
}

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

// True when `s` can be written unquoted and reads back as the same string, in YAML 1.2 and in
// the YAML 1.1 readers much of the Kubernetes tooling uses (yes/no/on/off, 1_000, ...).
bool plainSafe(const std::string& s) {
  if (s.empty() || s.size() > 200) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '/' || c == '-';
    if (!ok) return false;
  }
  if (s[0] == '-' || s[0] == '.' || s[0] == '_') return false;
  if ((s[0] >= '0' && s[0] <= '9') && s.find('_') != std::string::npos) return false;
  if (!resolvePlainScalar(s).is_string()) return false;
  static const char* const kYaml11Words[] = {"y",  "Y",  "yes", "Yes", "YES", "n",   "N",
                                             "no", "No", "NO",  "on",  "On",  "ON",  "off",
                                             "Off", "OFF"};
  for (const char* word : kYaml11Words) {
    if (s == word) return false;
  }
  return true;
}

std::string scalarText(const Json& value) {
  if (value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    return plainSafe(s) ? s : value.dump(-1, ' ', false, Json::error_handler_t::replace);
  }
  if (value.is_null()) return "null";
  if (value.is_number_float()) {
    const double d = value.get<double>();
    if (std::isnan(d)) return ".nan";
    if (std::isinf(d)) return d < 0 ? "-.inf" : ".inf";
  }
  return value.dump();
}

bool isEmptyCollection(const Json& v) { return (v.is_object() || v.is_array()) && v.empty(); }

void emit(std::string& out, const Json& value, int indent);

// Writes the value of a "key:" or "- " that has just been written.
void emitAfterKey(std::string& out, const Json& value, int indent) {
  if (value.is_object() && !value.empty()) {
    out += '\n';
    emit(out, value, indent + 2);
  } else if (value.is_array() && !value.empty()) {
    out += '\n';
    emit(out, value, indent);  // kubectl style: sequence items at the key's indentation
  } else {
    out += ' ';
    out += value.is_object() ? "{}" : value.is_array() ? "[]" : scalarText(value);
    out += '\n';
  }
}

void emit(std::string& out, const Json& value, int indent) {
  const std::string pad(static_cast<size_t>(indent), ' ');
  if (value.is_object()) {
    for (const auto& [key, item] : value.items()) {
      out += pad + scalarText(Json(key)) + ':';
      emitAfterKey(out, item, indent);
    }
  } else if (value.is_array()) {
    for (const auto& item : value) {
      if (item.is_object() && !item.empty()) {
        // The first key shares the "- " line; the rest align under it.
        std::string nested;
        emit(nested, item, indent + 2);
        out += pad + "- " + nested.substr(static_cast<size_t>(indent) + 2);
      } else if (item.is_array() && !item.empty()) {
        out += pad + "-\n";
        emit(out, item, indent + 2);
      } else {
        out += pad + "-";
        emitAfterKey(out, item, indent);
      }
    }
  } else {
    out += pad + (isEmptyCollection(value) ? (value.is_object() ? "{}" : "[]") : scalarText(value)) +
           '\n';
  }
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
    return invalidArgument(where + ": not a Kubernetes object (expected a mapping with "
                                   "apiVersion, kind and metadata)");
  }
  for (const char* field : {"apiVersion", "kind"}) {
    const auto it = object.find(field);
    if (it == object.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
      return invalidArgument(where + ": has no " + field + "; every object needs apiVersion, "
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

StatusOr<Json> parseYaml(std::string_view text, std::string_view source) {
  auto documents = YamlReader(text).read(/*first_only=*/true);
  if (!documents.ok()) return invalidArgument(std::string(source) + ":" + documents.status().message());
  if (documents->empty()) return Json();
  return std::move(documents->front().value);
}

std::string toYaml(const Json& value) {
  std::string out;
  emit(out, value, 0);
  return out;
}

StatusOr<Manifest> parseManifest(std::string_view text, std::string_view source) {
  Manifest manifest;
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    return invalidArgument(std::string(source) + ": is empty; expected Kubernetes objects in "
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
    if (document.is_array()) {
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
    if (document.is_array()) manifest.as_list = true;
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
    const std::string where = std::string(source) + ":" + std::to_string(yaml.line) + ": document " +
                              std::to_string(documents);
    const bool list = isListKind(document);
    if (list) {
      manifest.list_api_version = document.value("apiVersion", "v1");
      manifest.list_kind = document.value("kind", "List");
    }
    manifest.as_list = documents == 1 && list;
    if (Status s = addDocument(manifest, std::move(document), where); !s.ok()) return s;
  }
  if (documents == 0) {
    return invalidArgument(std::string(source) + ": has no objects; expected Kubernetes objects in "
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
    emit(text, Json{{"apiVersion", api_version}, {"kind", kind}}, 0);
    out << text;
    if (count == 0) {
      out << "items: []\n";
    } else {
      out << "items:\n";
      const auto render = [](const Json& value, std::string& text) {
        // kubectl style: the items at the key's indentation, the first key on the "- " line.
        if (value.is_object() && !value.empty()) {
          emit(text, value, 2);
          text.replace(0, 2, "- ");
        } else {
          emit(text, Json::array({value}), 0);
        }
      };
      if (Status s = writeRendered(count, object, render, "", out); !s.ok()) return s;
    }
    text.clear();
    emit(text, Json{{"metadata", Json{{"resourceVersion", ""}}}}, 0);
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
      count, object, [](const Json& value, std::string& text) { emit(text, value, 0); }, "---\n",
      out);
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

namespace {
// Gives `fields` room for `capacity` members. vector::reserve and shrink_to_fit would copy
// every value whole (a key is const, so an element's move may throw); the values are moved
// here, and only the keys copied.
void refit(Json::object_t& fields, size_t capacity) {
  Json::object_t fitted;
  fitted.reserve(capacity);
  for (auto& field : fields) fitted.emplace_back(field.first, std::move(field.second));
  fields.swap(fitted);
}
}  // namespace

Json& member(Json& object, const std::string& key) {
  if (!object.is_object()) object = Json::object();
  auto& fields = object.get_ref<Json::object_t&>();
  for (auto& field : fields) {
    if (field.first == key) return field.second;
  }
  if (fields.size() == fields.capacity()) refit(fields, fields.size() + 1);
  return fields.emplace_back(key, nullptr).second;
}

void shrinkToFit(Json& value) {
  if (value.is_object()) {
    auto& fields = value.get_ref<Json::object_t&>();
    for (auto& field : fields) shrinkToFit(field.second);
    if (fields.capacity() > fields.size()) refit(fields, fields.size());
  } else if (value.is_array()) {
    auto& items = value.get_ref<Json::array_t&>();
    for (Json& item : items) shrinkToFit(item);
    items.shrink_to_fit();  // a Json moves without throwing: nothing is copied
  }
}

}  // namespace kbinder::host
