#include "api/validation.h"

#include <cctype>

namespace tug::api {

using nlohmann::json;

namespace {

bool Alnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}

// Letters and digits, with '-', '_' and '.' inside: a label value (may be empty) or the name
// part of a label key (may not).
bool LabelText(const std::string& s, bool allow_empty) {
  if (s.empty()) return allow_empty;
  if (s.size() > 63 || !Alnum(s.front()) || !Alnum(s.back())) return false;
  for (char c : s) {
    if (!Alnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

}  // namespace

std::string ShowValue(const json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

void RequiredError(const std::string& path, std::vector<std::string>* errors) {
  errors->push_back(path + ": Required value");
}

void InvalidError(const std::string& path, const json& value, const std::string& why,
                  std::vector<std::string>* errors) {
  errors->push_back(path + ": Invalid value: " + ShowValue(value) + ": " + why);
}

std::string StringField(const json& obj, const char* field) {
  return obj.is_object() && obj.contains(field) && obj[field].is_string()
             ? obj[field].get<std::string>()
             : "";
}

Quantity ReadQuantity(const json& v, const std::string& path, std::vector<std::string>* errors) {
  std::string text = v.is_string() ? v.get<std::string>() : v.is_number() ? v.dump() : "";
  if (text.empty()) {
    InvalidError(path, v, "must be a quantity such as 500m, 2, 128Mi or 1G", errors);
    return {};
  }
  auto q = Quantity::Parse(text);
  if (!q.ok()) {
    InvalidError(path, v, q.status().message(), errors);
    return {};
  }
  if (q->milli() < 0) InvalidError(path, v, "must be greater than or equal to 0", errors);
  return q.value();
}

void CheckLabels(const json& labels, const std::string& path, std::vector<std::string>* errors) {
  if (labels.is_null()) return;
  if (!labels.is_object()) {
    InvalidError(path, labels, "must be a map of strings", errors);
    return;
  }
  for (const auto& [k, v] : labels.items()) {
    if (!v.is_string()) {
      InvalidError(path + "." + k, v, "label values must be strings (quote numbers and booleans)",
                   errors);
    } else if (!LabelText(v.get<std::string>(), /*allow_empty=*/true)) {
      InvalidError(path + "." + k, v,
                   "a label value must be at most 63 characters of letters, digits, '-', '_' or "
                   "'.', starting and ending with a letter or digit",
                   errors);
    }
    std::string name = k.substr(k.find('/') == std::string::npos ? 0 : k.find('/') + 1);
    std::string prefix = k.size() > name.size() ? k.substr(0, k.size() - name.size() - 1) : "";
    if (!LabelText(name, /*allow_empty=*/false) ||
        (k.size() > name.size() && !IsDns1123Subdomain(prefix))) {
      InvalidError(path, k,
                   "a label key must be a name of at most 63 letters, digits, '-', '_' or '.' "
                   "(starting and ending with a letter or digit), optionally prefixed by a DNS "
                   "subdomain and '/'",
                   errors);
    }
  }
}

Status Verdict(const std::string& kind, const std::string& name,
               const std::vector<std::string>& errors) {
  if (errors.empty()) return Status::Ok();
  std::string msg = kind + " \"" + name + "\" is invalid: ";
  if (errors.size() == 1) return Status::Invalid(msg + errors[0]);
  msg += "[";
  for (size_t i = 0; i < errors.size(); ++i)
    msg += (i ? ", " : "") + errors[i];
  return Status::Invalid(msg + "]");
}

bool IsDns1123Label(const std::string& s) {
  auto lower_alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (s.empty() || s.size() > 63 || !lower_alnum(s.front()) || !lower_alnum(s.back())) return false;
  for (char c : s) {
    if (!lower_alnum(c) && c != '-') return false;
  }
  return true;
}

bool IsDns1123Subdomain(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    if (!IsDns1123Label(s.substr(start, dot == std::string::npos ? dot : dot - start)))
      return false;
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

void PrepareMetadata(json& obj, bool namespaced, bool subdomain_names,
                     std::vector<std::string>* errors) {
  if (!obj.contains("metadata") || obj["metadata"].is_null()) obj["metadata"] = json::object();
  json& md = obj["metadata"];
  if (!md.is_object()) {
    InvalidError("metadata", md, "must be an object", errors);
    return;
  }
  if (!md.contains("name") || !md["name"].is_string() || md["name"].get<std::string>().empty()) {
    RequiredError("metadata.name", errors);
  } else if (subdomain_names ? !IsDns1123Subdomain(md["name"].get<std::string>())
                             : !IsDns1123Label(md["name"].get<std::string>())) {
    InvalidError("metadata.name", md["name"],
                 subdomain_names
                     ? "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                       "characters, '-' or '.', and must start and end with an alphanumeric "
                       "character (e.g. 'example.com')"
                     : "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                       "characters or '-', start and end with an alphanumeric character, and be "
                       "at most 63 characters (e.g. 'my-name')",
                 errors);
  }
  if (namespaced) {
    if (!md.contains("namespace") || md["namespace"].is_null() || md["namespace"] == "")
      md["namespace"] = "default";
    if (!md["namespace"].is_string() || !IsDns1123Label(md["namespace"].get<std::string>())) {
      InvalidError("metadata.namespace", md["namespace"], "must be a lowercase RFC 1123 label",
                   errors);
    }
  } else {
    md.erase("namespace");
  }
  if (md.contains("labels")) CheckLabels(md["labels"], "metadata.labels", errors);
  if (md.contains("annotations") && !md["annotations"].is_null()) {
    if (!md["annotations"].is_object()) {
      InvalidError("metadata.annotations", md["annotations"], "must be a map of strings", errors);
    } else {
      for (const auto& [k, v] : md["annotations"].items()) {
        if (!v.is_string())
          InvalidError("metadata.annotations." + k, v, "must be a string", errors);
      }
    }
  }
}

void CheckTypeMeta(json& obj, const std::string& api_version, const std::string& kind,
                   std::vector<std::string>* errors) {
  // Whatever writes a status (a controller, an agent, a user) writes an object: readers rely
  // on it.
  if (obj.contains("status") && !obj["status"].is_null() && !obj["status"].is_object())
    InvalidError("status", obj["status"], "must be an object", errors);
  if (obj.contains("spec") && !obj["spec"].is_null() && !obj["spec"].is_object())
    InvalidError("spec", obj["spec"], "must be an object", errors);
  if (!obj.contains("apiVersion") || obj["apiVersion"].is_null()) obj["apiVersion"] = api_version;
  if (!obj.contains("kind") || obj["kind"].is_null()) obj["kind"] = kind;
  if (obj["apiVersion"] != api_version)
    InvalidError("apiVersion", obj["apiVersion"], "must be " + api_version, errors);
  if (obj["kind"] != kind) InvalidError("kind", obj["kind"], "must be " + kind, errors);
}

}  // namespace tug::api
