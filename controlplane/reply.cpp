#include "controlplane/reply.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "api/resource.h"

namespace tug::cp {

using nlohmann::json;

std::string Reply::message() const {
  if (ok() || !body.is_object()) return "";
  return body.value("message", "");
}

std::string SafeDump(const json& v) {
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

Reply ErrorReply(int code, const std::string& reason, const std::string& message,
                 const json& details) {
  json s = {{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object()},
            {"status", "Failure"}, {"message", message}, {"reason", reason},
            {"code", code}};
  if (!details.is_null()) s["details"] = details;
  return Reply{code, std::move(s)};
}

namespace {
json Details(const api::ResourceInfo& r, const std::string& name) {
  json d = {{"name", name}, {"kind", r.name}};
  if (!r.group.empty()) d["group"] = r.group;
  return d;
}
}  // namespace

Reply NotFound(const api::ResourceInfo& r, const std::string& name) {
  return ErrorReply(404, "NotFound", r.qualified_name() + " \"" + name + "\" not found",
                    Details(r, name));
}

Reply AlreadyExists(const api::ResourceInfo& r, const std::string& name) {
  return ErrorReply(409, "AlreadyExists", r.qualified_name() + " \"" + name + "\" already exists",
                    Details(r, name));
}

Reply Conflict(const api::ResourceInfo& r, const std::string& name, const std::string& why) {
  return ErrorReply(
      409, "Conflict",
      "Operation cannot be fulfilled on " + r.qualified_name() + " \"" + name + "\": " + why,
      Details(r, name));
}

json InvalidCauses(const std::string& message) {
  // The message is "<Kind> \"<name>\" is invalid: <error>" or "...: [<error>, <error>]", each
  // error "<field>: <Type>[: <detail>]" as api/validation words it.
  static const std::string kMarker = " is invalid: ";
  auto marker = message.find(kMarker);
  if (marker == std::string::npos) return json::array();
  std::string rest = message.substr(marker + kMarker.size());
  if (rest.size() >= 2 && rest.front() == '[' && rest.back() == ']')
    rest = rest.substr(1, rest.size() - 2);
  static const std::vector<std::pair<std::string, std::string>> kTypes = {
      {"Invalid value", "FieldValueInvalid"},     {"Required value", "FieldValueRequired"},
      {"Duplicate value", "FieldValueDuplicate"}, {"Unsupported value", "FieldValueNotSupported"},
      {"Forbidden", "FieldValueForbidden"},       {"Not found", "FieldValueNotFound"},
      {"Too long", "FieldValueTooLong"},          {"Too many", "FieldValueTooMany"}};
  // Each error starts where "<field>: <Type>" does: at the beginning, or after ", ". Found by
  // plain searches (linear in the message, which may quote a huge value).
  struct Start {
    size_t pos;  // where the field begins
    size_t colon;
    std::string reason;
  };
  std::vector<Start> starts;
  auto field_char = [](char c) { return c != ' ' && c != ':' && c != ',' && c != '\n'; };
  for (const auto& [type, reason] : kTypes) {
    const std::string needle = ": " + type;
    for (size_t at = rest.find(needle); at != std::string::npos; at = rest.find(needle, at + 1)) {
      size_t after = at + needle.size();
      if (after < rest.size() && rest[after] != ':' && rest[after] != ',') continue;
      size_t b = at;
      while (b > 0 && field_char(rest[b - 1]))
        --b;
      if (b == at) continue;
      if (b == 0 || (b >= 2 && rest.compare(b - 2, 2, ", ") == 0))
        starts.push_back({b, at, reason});
    }
  }
  std::sort(starts.begin(), starts.end(),
            [](const Start& x, const Start& y) { return x.pos < y.pos; });
  // Kubernetes lists every error; past a hundred (a crafted value can fake thousands) the
  // message alone says it, rather than a reply many times the request's size.
  constexpr size_t kMaxCauses = 100;
  if (starts.empty() || starts[0].pos != 0 || starts.size() > kMaxCauses) return json::array();
  json causes = json::array();
  for (size_t i = 0; i < starts.size(); ++i) {
    size_t end = i + 1 < starts.size() ? starts[i + 1].pos - 2 : rest.size();
    causes.push_back({{"reason", starts[i].reason},
                      {"field", rest.substr(starts[i].pos, starts[i].colon - starts[i].pos)},
                      {"message", rest.substr(starts[i].colon + 2, end - starts[i].colon - 2)}});
  }
  return causes;
}

Reply Invalid(const api::ResourceInfo& r, const std::string& name, const std::string& message) {
  json d = Details(r, name);
  d["kind"] = r.kind;
  // kubectl prints "The <Kind> \"<name>\" is invalid: " and then the causes; an error that
  // is not field by field goes without details, so kubectl shows the message itself.
  json causes = InvalidCauses(message);
  if (causes.empty()) return ErrorReply(422, "Invalid", message);
  d["causes"] = std::move(causes);
  return ErrorReply(422, "Invalid", message, d);
}

Reply BadRequest(const std::string& message) {
  return ErrorReply(400, "BadRequest", message);
}

Reply Gone(const std::string& message) {
  return ErrorReply(410, "Expired", message);
}

Reply StoreFailure(const Status& s) {
  switch (s.code()) {
    case Status::Code::kUnavailable:
      return ErrorReply(503, "ServiceUnavailable", s.message());
    case Status::Code::kCompacted:
      return Gone(s.message());
    case Status::Code::kInvalid:
      return BadRequest(s.message());
    default:
      return ErrorReply(500, "InternalError", s.message());
  }
}

}  // namespace tug::cp
