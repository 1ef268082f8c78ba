#include "api/event.h"

#include <vector>

#include "api/validation.h"

namespace tug::api {

using nlohmann::json;

Result<json> PrepareEvent(json obj) {
  if (!obj.is_object()) return Status::Invalid("an Event must be an object");
  std::vector<std::string> errors;
  CheckTypeMeta(obj, "v1", "Event", &errors);
  PrepareMetadata(obj, /*namespaced=*/true, /*subdomain_names=*/true, &errors);
  if (!obj.contains("involvedObject") || !obj["involvedObject"].is_object()) {
    RequiredError("involvedObject", &errors);
  } else {
    if (StringField(obj["involvedObject"], "kind").empty())
      RequiredError("involvedObject.kind", &errors);
    if (StringField(obj["involvedObject"], "name").empty())
      RequiredError("involvedObject.name", &errors);
  }
  if (StringField(obj, "reason").empty()) RequiredError("reason", &errors);
  if (!obj.contains("type")) obj["type"] = "Normal";
  if (obj["type"] != "Normal" && obj["type"] != "Warning") {
    errors.push_back("type: Unsupported value: " + ShowValue(obj["type"]) +
                     ": supported values: \"Normal\", \"Warning\"");
  }
  if (!obj.contains("count")) obj["count"] = 1;
  if (!obj["count"].is_number_integer() || obj["count"].get<int64_t>() < 0)
    InvalidError("count", obj["count"], "must be a non-negative integer", &errors);
  if (Status s = Verdict("Event", StringField(obj["metadata"], "name"), errors); !s) return s;
  return obj;
}

}  // namespace tug::api
