#include "controlplane/reply.h"

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

Reply Invalid(const api::ResourceInfo& r, const std::string& name, const std::string& message) {
  json d = Details(r, name);
  d["kind"] = r.kind;
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
