#include "api/openapi.h"

#include "api/resource.h"

namespace tug::api {

using json = nlohmann::json;

namespace {

std::string GvPath(const ResourceInfo& r) {
  return r.group.empty() ? "api/" + r.version : "apis/" + r.group + "/" + r.version;
}

// Changes when the documents change, so that kubectl's cache of them is refreshed.
constexpr const char* kHash = "tug-1";

json Operation(const ResourceInfo& r, const std::string& verb, const std::string& id) {
  json params = json::array();
  if (verb != "get" && verb != "list" && verb != "delete")
    params.push_back({{"name", "fieldValidation"},
                      {"in", "query"},
                      {"description", "Tug validates every object it is sent (Strict)."},
                      {"schema", {{"type", "string"}, {"uniqueItems", true}}}});
  params.push_back({{"name", "fieldManager"}, {"in", "query"}, {"schema", {{"type", "string"}}}});
  return {{"operationId", id},
          {"x-kubernetes-action", verb},
          {"x-kubernetes-group-version-kind",
           {{"group", r.group}, {"version", r.version}, {"kind", r.kind}}},
          {"parameters", params},
          {"responses", {{"200", {{"description", "OK"}}}}}};
}

}  // namespace

json OpenApiIndex() {
  json paths = json::object();
  for (const auto& r : Resources())
    paths[GvPath(r)] = {{"serverRelativeURL", "/openapi/v3/" + GvPath(r) + "?hash=" + kHash}};
  return {{"paths", paths}};
}

json OpenApiDocument(const std::string& gv_path) {
  json paths = json::object();
  bool any = false;
  for (const auto& r : Resources()) {
    if (GvPath(r) != gv_path) continue;
    any = true;
    std::string base =
        "/" + gv_path + (r.namespaced ? "/namespaces/{namespace}" : "") + "/" + r.name;
    std::string kind = r.kind;
    paths[base] = {{"get", Operation(r, "list", "list" + kind)},
                   {"post", Operation(r, "post", "create" + kind)}};
    paths[base + "/{name}"] = {{"get", Operation(r, "get", "read" + kind)},
                               {"put", Operation(r, "put", "replace" + kind)},
                               {"patch", Operation(r, "patch", "patch" + kind)},
                               {"delete", Operation(r, "delete", "delete" + kind)}};
  }
  if (!any) return nullptr;
  return {{"openapi", "3.0.0"},
          {"info", {{"title", "Tug"}, {"version", "v1"}}},
          {"paths", paths},
          {"components", {{"schemas", json::object()}}}};
}

}  // namespace tug::api
