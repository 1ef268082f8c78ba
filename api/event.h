// Events (v1, namespaced): what happened to an object ("Scheduled", "FailedScheduling",
// "BackOff"), for people reading `describe`. Written by the controllers and the agents.
#pragma once

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace tug::api {

// Defaults (type Normal, count 1) and validation: a name (DNS-1123 subdomain),
// involvedObject.kind and .name, a reason.
Result<nlohmann::json> PrepareEvent(nlohmann::json obj);

}  // namespace tug::api
