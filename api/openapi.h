// The small OpenAPI v3 documents kubectl asks for before it sends an object: /openapi/v3
// lists one document per group version, and each document marks the write operations of
// every kind with x-kubernetes-group-version-kind and a `fieldValidation` query parameter.
// Seeing that parameter, kubectl leaves validation to the server (Tug validates every object
// it is sent) instead of downloading schemas. No schemas are served.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace tug::api {

// GET /openapi/v3: {"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=…"},
// "apis/apps/v1": {…}}}.
nlohmann::json OpenApiIndex();

// GET /openapi/v3/api/v1 or /openapi/v3/apis/{group}/{version} (`gv_path` without the
// "/openapi/v3/" prefix); null for a group version Tug does not serve.
nlohmann::json OpenApiDocument(const std::string& gv_path);

}  // namespace tug::api
