#include "api/selector.h"

#include <cctype>

namespace tug::api {

using nlohmann::json;

namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

// Splits on commas that are not inside parentheses ("env in (a,b),app=web").
Result<std::vector<std::string>> SplitTop(const std::string& text) {
  std::vector<std::string> parts;
  std::string cur;
  int depth = 0;
  for (char c : text) {
    if (c == '(') ++depth;
    if (c == ')' && --depth < 0)
      return Status::Invalid("unbalanced ')' in selector \"" + text + "\"");
    if (c == ',' && depth == 0) {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (depth != 0) return Status::Invalid("unbalanced '(' in selector \"" + text + "\"");
  parts.push_back(cur);
  return parts;
}

bool ValidKey(const std::string& k) {
  if (k.empty() || k.size() > 317) return false;
  for (char c : k) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' &&
        c != '/')
      return false;
  }
  return true;
}

bool ValidValue(const std::string& v) {
  if (v.size() > 63) return false;
  for (char c : v) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
      return false;
  }
  return true;
}

Status Bad(const std::string& part, const std::string& why) {
  return Status::Invalid("unable to parse requirement: \"" + Trim(part) + "\": " + why);
}

// Parses "k=v", "k==v", "k!=v"; with `sets`, also "k in (a,b)", "k notin (a)", "k", "!k".
Result<Requirement> ParseRequirement(const std::string& part, bool sets, bool label_values) {
  std::string p = Trim(part);
  Requirement r;
  if (p.empty()) return Bad(part, "empty requirement (a stray comma?)");
  size_t ne = p.find("!=");
  size_t eq = p.find('=');
  if (ne != std::string::npos) {
    r.key = Trim(p.substr(0, ne));
    r.op = Requirement::Op::kNotEquals;
    r.values = {Trim(p.substr(ne + 2))};
  } else if (eq != std::string::npos) {
    r.key = Trim(p.substr(0, eq));
    r.op = Requirement::Op::kEquals;
    size_t vstart = eq + 1;
    if (vstart < p.size() && p[vstart] == '=') ++vstart;
    r.values = {Trim(p.substr(vstart))};
  } else if (!sets) {
    return Bad(part, "expected key=value, key==value or key!=value");
  } else {
    size_t space = p.find_first_of(" \t");
    if (space == std::string::npos) {
      if (p[0] == '!') {
        r.key = Trim(p.substr(1));
        r.op = Requirement::Op::kNotExists;
      } else {
        r.key = p;
        r.op = Requirement::Op::kExists;
      }
    } else {
      r.key = p.substr(0, space);
      std::string rest = Trim(p.substr(space));
      std::string word = rest.substr(0, rest.find_first_of(" \t("));
      if (word == "in") {
        r.op = Requirement::Op::kIn;
      } else if (word == "notin") {
        r.op = Requirement::Op::kNotIn;
      } else {
        return Bad(part, "expected one of =, ==, !=, in, notin after the key");
      }
      std::string set = Trim(rest.substr(word.size()));
      if (set.size() < 2 || set.front() != '(' || set.back() != ')')
        return Bad(part, "expected a set of values in parentheses, like (a,b)");
      std::string inner = set.substr(1, set.size() - 2);
      size_t start = 0;
      while (true) {
        size_t comma = inner.find(',', start);
        r.values.push_back(
            Trim(inner.substr(start, comma == std::string::npos ? comma : comma - start)));
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    }
  }
  if (!ValidKey(r.key)) return Bad(part, "invalid key \"" + r.key + "\"");
  if (label_values) {
    for (const auto& v : r.values) {
      if (!ValidValue(v)) return Bad(part, "invalid label value \"" + v + "\"");
    }
  }
  return r;
}

}  // namespace

Result<LabelSelector> LabelSelector::Parse(const std::string& text) {
  LabelSelector s;
  if (Trim(text).empty()) return s;
  auto parts = SplitTop(text);
  if (!parts.ok()) return parts.status();
  for (const auto& p : parts.value()) {
    auto r = ParseRequirement(p, /*sets=*/true, /*label_values=*/true);
    if (!r.ok()) return r.status();
    s.reqs_.push_back(r.value());
  }
  return s;
}

LabelSelector LabelSelector::FromMatchLabels(const json& match_labels) {
  LabelSelector s;
  if (!match_labels.is_object()) return s;
  for (const auto& [k, v] : match_labels.items()) {
    Requirement r;
    r.key = k;
    r.values = {v.is_string() ? v.get<std::string>() : v.dump()};
    s.reqs_.push_back(r);
  }
  return s;
}

bool LabelSelector::Matches(const json& labels) const {
  for (const auto& r : reqs_) {
    bool has = labels.is_object() && labels.contains(r.key) && labels[r.key].is_string();
    std::string v = has ? labels[r.key].get<std::string>() : "";
    bool in = false;
    for (const auto& x : r.values)
      in = in || (has && x == v);
    switch (r.op) {
      case Requirement::Op::kEquals:
      case Requirement::Op::kIn:
        if (!in) return false;
        break;
      case Requirement::Op::kNotEquals:
      case Requirement::Op::kNotIn:
        if (in) return false;
        break;
      case Requirement::Op::kExists:
        if (!has) return false;
        break;
      case Requirement::Op::kNotExists:
        if (has) return false;
        break;
    }
  }
  return true;
}

std::string LabelSelector::ToString() const {
  std::string out;
  for (const auto& r : reqs_) {
    if (!out.empty()) out += ",";
    auto set = [&] {
      std::string s = "(";
      for (size_t i = 0; i < r.values.size(); ++i)
        s += (i ? "," : "") + r.values[i];
      return s + ")";
    };
    switch (r.op) {
      case Requirement::Op::kEquals:
        out += r.key + "=" + r.values[0];
        break;
      case Requirement::Op::kNotEquals:
        out += r.key + "!=" + r.values[0];
        break;
      case Requirement::Op::kIn:
        out += r.key + " in " + set();
        break;
      case Requirement::Op::kNotIn:
        out += r.key + " notin " + set();
        break;
      case Requirement::Op::kExists:
        out += r.key;
        break;
      case Requirement::Op::kNotExists:
        out += "!" + r.key;
        break;
    }
  }
  return out;
}

Result<FieldSelector> FieldSelector::Parse(const std::string& text) {
  FieldSelector s;
  if (Trim(text).empty()) return s;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    auto r =
        ParseRequirement(text.substr(start, comma == std::string::npos ? comma : comma - start),
                         /*sets=*/false, /*label_values=*/false);
    if (!r.ok()) return r.status();
    s.reqs_.push_back(r.value());
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return s;
}

bool FieldSelector::Matches(const std::function<std::string(const std::string&)>& value_of) const {
  for (const auto& r : reqs_) {
    bool eq = value_of(r.key) == r.values[0];
    if ((r.op == Requirement::Op::kEquals) != eq) return false;
  }
  return true;
}

std::string FieldValue(const json& obj, const std::string& path) {
  const json* cur = &obj;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? dot : dot - start);
    if (!cur->is_object() || !cur->contains(part)) return "";
    cur = &(*cur)[part];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (cur->is_string()) return cur->get<std::string>();
  if (cur->is_null()) return "";
  return cur->dump();
}

}  // namespace tug::api
