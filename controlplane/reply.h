// What the resource API answers: an object, a list or a Kubernetes Status, with its HTTP code.
// The registry and the handlers speak in these so that the controllers (which call the
// registry in-process) and HTTP clients see the same answers.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace tug::api {
struct ResourceInfo;
}

namespace tug::cp {

struct Reply {
  int code = 200;
  nlohmann::json body;  // the object, a list, or a Status when !ok()
  bool ok() const { return code >= 200 && code < 300; }
  // The Status' message ("" when ok).
  std::string message() const;
};
using ReplyFn = std::function<void(Reply)>;

// {"kind":"Status","apiVersion":"v1","status":"Failure","code":..,"reason":..,"message":..}
Reply ErrorReply(int code, const std::string& reason, const std::string& message,
                 const nlohmann::json& details = nullptr);

// The standard errors, worded as Kubernetes words them.
Reply NotFound(const api::ResourceInfo& r, const std::string& name);       // 404
Reply AlreadyExists(const api::ResourceInfo& r, const std::string& name);  // 409
Reply Conflict(const api::ResourceInfo& r, const std::string& name,        // 409
               const std::string& why);
// 422. With details.causes (field, reason, message) split out of a validation message, so
// kubectl can print "The Deployment \"web\" is invalid: spec.replicas: Invalid value: ...".
Reply Invalid(const api::ResourceInfo& r, const std::string& name, const std::string& message);
// The causes of a validation message ("X \"n\" is invalid: f: Invalid value: ..."); empty
// when it does not read field by field.
nlohmann::json InvalidCauses(const std::string& message);
Reply BadRequest(const std::string& message);  // 400
Reply Gone(const std::string& message);        // 410 Expired

// JSON text of a value that may hold bytes that are not UTF-8 (names from URLs, objects that
// came in as YAML): such bytes are replaced, never thrown about.
std::string SafeDump(const nlohmann::json& v);

// A store error (no quorum, timeout, compacted history) as a Reply: 503, 410 or 500.
Reply StoreFailure(const Status& s);

}  // namespace tug::cp
