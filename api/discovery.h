// What clients such as kubectl read to learn which resources a server has: the legacy
// discovery documents (/api, /apis, /api/v1, /apis/apps/v1), built from the table of kinds
// (api/resource.h), and the meta.k8s.io/v1 Table form of lists, which kubectl asks for to
// print its usual columns (the ones api/printers.h computes).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/resource.h"

namespace tug::api {

// GET /api: {"kind":"APIVersions","versions":["v1"],...}.
nlohmann::json ApiVersions();

// GET /apis: the APIGroupList (Tug's only named group is apps).
nlohmann::json ApiGroupList();

// GET /api/v1 ("" group) or /apis/{group}/{version}: the APIResourceList with every resource
// and subresource (names, kinds, scope, verbs, short names); null for a group version Tug
// does not serve.
nlohmann::json ApiResourceList(const std::string& group, const std::string& version);

// Whether an Accept header asks for the Table form ("application/json;as=Table;g=meta.k8s.io;
// v=v1", the form kubectl get sends first).
bool WantsTable(const std::string& accept);

// `objects` of kind `r` as a meta.k8s.io/v1 Table: the columns `get` shows (the -o wide ones
// with priority 1), one row per object, with the object itself (`include_object` "Object")
// or its metadata only (the default, "PartialObjectMetadata"; "None": nothing).
nlohmann::json ToTable(const ResourceInfo& r, const std::vector<nlohmann::json>& objects,
                       const std::string& resource_version, const std::string& include_object,
                       int64_t now);

}  // namespace tug::api
