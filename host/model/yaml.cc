// SPDX-License-Identifier: Apache-2.0
#include "host/model/yaml.h"

#include <yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>

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

// YAML 1.2 core schema resolution of a plain (unquoted) scalar. Hand-written matchers, not
// regular expressions: this runs for every plain scalar read and every string written.
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
  if (s.size() > 2 && s[0] == '0' && s[1] == 'o' && allDigits(s, 2, 8))
    return integer(s.c_str() + 2, 8);
  if (s.size() > 2 && s[0] == '0' && s[1] == 'x' && allDigits(s, 2, 16))
    return integer(s.c_str() + 2, 16);
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
      default: break;
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
  static const char* const kYaml11Words[] = {"y",  "Y",  "yes", "Yes", "YES", "n",   "N",   "no",
                                             "No", "NO", "on",  "On",  "ON",  "off", "Off", "OFF"};
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

bool isEmptyCollection(const Json& v) {
  return (v.is_object() || v.is_array()) && v.empty();
}

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
    out += pad +
           (isEmptyCollection(value) ? (value.is_object() ? "{}" : "[]") : scalarText(value)) +
           '\n';
  }
}

}  // namespace

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

void appendYaml(std::string& out, const Json& value, int indent) {
  emit(out, value, indent);
}

StatusOr<Json> parseYaml(std::string_view text, std::string_view source) {
  auto documents = YamlReader(text).read(/*first_only=*/true);
  if (!documents.ok())
    return invalidArgument(std::string(source) + ":" + documents.status().message());
  if (documents->empty()) return Json();
  return std::move(documents->front().value);
}

}  // namespace kbinder::host
