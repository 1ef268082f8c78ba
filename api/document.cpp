#include "api/document.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <regex>

namespace tug::api {

using nlohmann::json;

namespace {

// YAML 1.2 core schema resolution of a plain (unquoted) scalar.
json PlainScalar(const std::string& s) {
  static const std::regex kNull("^(~|null|Null|NULL|)$");
  static const std::regex kBool("^(true|True|TRUE|false|False|FALSE)$");
  static const std::regex kInt("^[-+]?[0-9]+$");
  static const std::regex kHex("^0x[0-9a-fA-F]+$");
  static const std::regex kFloat("^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?$");
  if (std::regex_match(s, kNull)) return nullptr;
  if (std::regex_match(s, kBool)) return s[0] == 't' || s[0] == 'T';
  try {
    if (std::regex_match(s, kInt)) return std::stoll(s);
    if (std::regex_match(s, kHex)) return std::stoll(s, nullptr, 16);
    if (std::regex_match(s, kFloat)) return std::stod(s);
  } catch (...) {
    // Out of range for a number: keep the text.
  }
  return s;
}

json ToJson(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
      return nullptr;
    case YAML::NodeType::Scalar:
      // A quoted scalar ("!" tag) is always a string: "1" stays "1", 'true' stays 'true'.
      return n.Tag() == "!" ? json(n.Scalar()) : PlainScalar(n.Scalar());
    case YAML::NodeType::Sequence: {
      json a = json::array();
      for (const auto& item : n)
        a.push_back(ToJson(item));
      return a;
    }
    case YAML::NodeType::Map: {
      json o = json::object();
      for (const auto& kv : n)
        o[kv.first.as<std::string>()] = ToJson(kv.second);
      return o;
    }
    default:
      return nullptr;
  }
}

std::string Position(const std::string& source, int line, int column) {
  return source + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1);
}

// Line and column (0-based) of a byte offset, for JSON errors.
void LineCol(const std::string& text, size_t offset, int* line, int* col) {
  *line = 0;
  *col = 0;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++*line;
      *col = 0;
    } else {
      ++*col;
    }
  }
}

// How deeply brackets nest outside strings: checked before parsing, because printing or
// comparing a value nested thousands deep recurses once per level.
size_t NestingDepth(const std::string& text) {
  size_t depth = 0, max = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      max = std::max(max, ++depth);
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return max;
}

}  // namespace

Result<json> ParseJson(const std::string& text, const std::string& source) {
  if (NestingDepth(text) > kMaxNesting) {
    return Status::Invalid(source + ": nested more than " + std::to_string(kMaxNesting) +
                           " levels deep");
  }
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    int line = 0, col = 0;
    LineCol(text, e.byte > 0 ? e.byte - 1 : 0, &line, &col);
    std::string what = e.what();
    auto pos = what.find("syntax error");
    return Status::Invalid(Position(source, line, col) + ": malformed JSON: " +
                           (pos == std::string::npos ? what : what.substr(pos)));
  }
}

Result<std::vector<json>> ParseDocuments(const std::string& text, const std::string& source,
                                         Format format) {
  if (format == Format::kAuto) {
    size_t first = text.find_first_not_of(" \t\r\n");
    format = first != std::string::npos && (text[first] == '{' || text[first] == '[')
                 ? Format::kJson
                 : Format::kYaml;
  }
  std::vector<json> out;
  if (format == Format::kJson) {
    auto j = ParseJson(text, source);
    if (!j.ok()) return j.status();
    if (j->is_array()) {
      for (auto& item : j.value())
        out.push_back(std::move(item));
    } else {
      out.push_back(std::move(j).value());
    }
    return out;
  }
  try {
    for (const auto& doc : YAML::LoadAll(text)) {
      if (doc.IsNull()) continue;
      out.push_back(ToJson(doc));
    }
  } catch (const YAML::Exception& e) {
    return Status::Invalid(Position(source, e.mark.line, e.mark.column) +
                           ": malformed YAML: " + e.msg);
  }
  return out;
}

Result<json> ParseDocument(const std::string& text, const std::string& source, Format format) {
  auto docs = ParseDocuments(text, source, format);
  if (!docs.ok()) return docs.status();
  if (docs->size() != 1) {
    return Status::Invalid(source + ": expected one object, found " + std::to_string(docs->size()));
  }
  return std::move(docs.value()[0]);
}

Format FormatForContentType(const std::string& content_type, bool* known) {
  std::string t = content_type.substr(0, content_type.find(';'));
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back())))
    t.pop_back();
  *known = true;
  if (t.empty()) return Format::kAuto;
  if (t == "application/json" || t == "application/merge-patch+json" ||
      t == "application/strategic-merge-patch+json") {
    return Format::kJson;
  }
  if (t == "application/yaml" || t == "application/x-yaml" || t == "text/yaml")
    return Format::kYaml;
  *known = false;
  return Format::kAuto;
}

}  // namespace tug::api
