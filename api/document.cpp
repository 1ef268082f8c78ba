#include "api/document.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>

namespace tug::api {

using nlohmann::json;

namespace {

// The YAML 1.2 core schema's number forms, checked by hand: this runs for every scalar of
// every document (a request may hold a million), where std::regex costs microseconds each.
bool Digits(const std::string& s, size_t& i) {
  size_t start = i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9')
    ++i;
  return i > start;
}

// [-+]?[0-9]+
bool IsInt(const std::string& s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  return Digits(s, i) && i == s.size();
}

// 0x[0-9a-fA-F]+
bool IsHex(const std::string& s) {
  if (s.size() < 3 || s[0] != '0' || s[1] != 'x') return false;
  return std::all_of(s.begin() + 2, s.end(),
                     [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool IsFloat(const std::string& s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!Digits(s, i)) return false;
  } else {
    if (!Digits(s, i)) return false;
    if (i < s.size() && s[i] == '.') {
      ++i;
      Digits(s, i);
    }
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    if (!Digits(s, i)) return false;
  }
  return i == s.size();
}

// YAML 1.2 core schema resolution of a plain (unquoted) scalar.
json PlainScalar(const std::string& s) {
  // Nothing this long is a null, a boolean or a number we could hold.
  if (s.size() > 64) return s;
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  try {
    if (IsInt(s)) {
      if (s[0] != '-') {
        unsigned long long u = std::stoull(s);
        if (u > static_cast<unsigned long long>(INT64_MAX)) return u;
      }
      return std::stoll(s);
    }
    if (IsHex(s)) return std::stoll(s, nullptr, 16);
    if (IsFloat(s)) return std::stod(s);
  } catch (...) {
    // Out of range for a number: keep the text.
  }
  return s;
}

// Refusals while converting YAML: too deep, or too many values (aliases can make a small
// document expand exponentially: "billion laughs").
struct TooBig {
  std::string why;
};

constexpr long kMaxValues = 1000000;

json ToJson(const YAML::Node& n, size_t depth, long* budget) {
  if (--*budget < 0) {
    throw TooBig{"expands to more than " + std::to_string(kMaxValues) +
                 " values (YAML aliases repeating each other?)"};
  }
  if (depth > kMaxNesting)
    throw TooBig{"nested more than " + std::to_string(kMaxNesting) + " levels deep"};
  switch (n.Type()) {
    case YAML::NodeType::Null:
      return nullptr;
    case YAML::NodeType::Scalar:
      // A quoted scalar ("!" tag) is always a string: "1" stays "1", 'true' stays 'true'.
      return n.Tag() == "!" ? json(n.Scalar()) : PlainScalar(n.Scalar());
    case YAML::NodeType::Sequence: {
      json a = json::array();
      for (const auto& item : n)
        a.push_back(ToJson(item, depth + 1, budget));
      return a;
    }
    case YAML::NodeType::Map: {
      json o = json::object();
      for (const auto& kv : n)
        o[kv.first.as<std::string>()] = ToJson(kv.second, depth + 1, budget);
      return o;
    }
    default:
      return nullptr;
  }
}

// Whether `s` is well-formed UTF-8 (JSON text must be; the JSON parser checks its own input,
// YAML's does not).
bool ValidUtf8(const std::string& s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t extra;
    if (c < 0x80) {
      extra = 0;
    } else if (c >= 0xC2 && c <= 0xDF) {
      extra = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3;
    } else {
      return false;  // a continuation byte first, an overlong lead (C0, C1), or past U+10FFFF
    }
    if (i + extra >= n + (extra == 0 ? 1 : 0)) return false;
    for (size_t k = 1; k <= extra; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    }
    if (extra >= 2) {
      unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
      // Overlong forms, UTF-16 surrogates, and code points past U+10FFFF.
      if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F) || (c == 0xF0 && c1 < 0x90) ||
          (c == 0xF4 && c1 > 0x8F))
        return false;
    }
    i += extra + 1;
  }
  return true;
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

size_t Depth(const json& v) {
  // Iterative: the point is to look at values that may be too deep to recurse into.
  size_t max = 0;
  std::vector<std::pair<const json*, size_t>> stack = {{&v, 1}};
  while (!stack.empty()) {
    auto [cur, d] = stack.back();
    stack.pop_back();
    if (!cur->is_structured()) continue;
    max = std::max(max, d);
    if (d > kMaxNesting) return d;  // enough to refuse it
    for (const auto& child : *cur)
      stack.emplace_back(&child, d + 1);
  }
  return max;
}

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
  if (!ValidUtf8(text)) return Status::Invalid(source + ": not valid UTF-8");
  try {
    long budget = kMaxValues;
    for (const auto& doc : YAML::LoadAll(text)) {
      if (doc.IsNull()) continue;
      out.push_back(ToJson(doc, 1, &budget));
    }
  } catch (const YAML::Exception& e) {
    return Status::Invalid(Position(source, e.mark.line, e.mark.column) +
                           ": malformed YAML: " + e.msg);
  } catch (const TooBig& e) {
    return Status::Invalid(source + ": " + e.why);
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

namespace tug::api {

namespace {

bool NeedsQuotes(const std::string& s) {
  if (s.empty() || s.front() == ' ' || s.back() == ' ' || s.back() == ':') return true;
  static const std::string kSafeFirst = "/._";
  unsigned char first = static_cast<unsigned char>(s.front());
  if (!std::isalnum(first) && kSafeFirst.find(s.front()) == std::string::npos) return true;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char ch = static_cast<unsigned char>(s[i]);
    if (ch < 0x20 || ch >= 0x7f) return true;
    if (!std::isalnum(ch) && std::string(" -_./:=+@,()").find(s[i]) == std::string::npos)
      return true;
    if (s[i] == ':' && i + 1 < s.size() && s[i + 1] == ' ') return true;
  }
  // What YAML would read as null, a boolean or a number.
  std::string lower;
  for (char ch : s)
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  static const char* kWords[] = {"null", "true", "false", "yes", "no", "on", "off", "y", "n"};
  for (const char* w : kWords)
    if (lower == w) return true;
  if (std::isdigit(first) || s.front() == '.') {
    // Numbers, octal, hex, sexagesimal, dates: quote anything number-like.
    bool numeric = true;
    for (char ch : s)
      if (!std::isxdigit(static_cast<unsigned char>(ch)) &&
          std::string("._:-+xXoOT").find(ch) == std::string::npos && ch != 'Z')
        numeric = false;
    if (numeric) return true;
  }
  return false;
}

std::string Scalar(const nlohmann::json& v) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    // A JSON string is a valid YAML double-quoted scalar.
    return NeedsQuotes(s) ? v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) : s;
  }
  if (v.is_object()) return "{}";
  if (v.is_array()) return "[]";
  return v.dump();
}

bool IsBlock(const nlohmann::json& v) {
  return (v.is_object() || v.is_array()) && !v.empty();
}

// Writes a non-empty object or array, each line starting at `indent`.
void Block(const nlohmann::json& v, size_t indent, std::string& out) {
  std::string pad(indent, ' ');
  // A block inside a list item: its first line's indent becomes the "- ".
  auto item = [&](const nlohmann::json& inner) {
    std::string nested;
    Block(inner, indent + 2, nested);
    out += pad + "- " + nested.substr(indent + 2);
  };
  if (v.is_object()) {
    for (const auto& [k, val] : v.items()) {
      out += pad + Scalar(nlohmann::json(k)) + ":";
      if (val.is_object() && !val.empty()) {
        out += "\n";
        Block(val, indent + 2, out);
      } else if (val.is_array() && !val.empty()) {
        out += "\n";
        Block(val, indent, out);
      } else {
        out += " " + Scalar(val) + "\n";
      }
    }
  } else {
    for (const auto& val : v) {
      if (IsBlock(val)) {
        item(val);
      } else {
        out += pad + "- " + Scalar(val) + "\n";
      }
    }
  }
}

}  // namespace

std::string ToYaml(const nlohmann::json& v) {
  if (!IsBlock(v)) return Scalar(v) + "\n";
  std::string out;
  Block(v, 0, out);
  return out;
}

}  // namespace tug::api
