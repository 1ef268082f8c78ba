#include "api/discovery.h"

#include <algorithm>

#include "api/printers.h"

namespace tug::api {

using json = nlohmann::json;

json ApiVersions() {
  return {
      {"kind", "APIVersions"}, {"versions", {"v1"}}, {"serverAddressByClientCIDRs", json::array()}};
}

json ApiGroupList() {
  json groups = json::array();
  std::vector<std::string> seen;
  for (const auto& r : Resources()) {
    if (r.group.empty() || std::find(seen.begin(), seen.end(), r.group) != seen.end()) continue;
    seen.push_back(r.group);
    json gv = {{"groupVersion", r.group + "/" + r.version}, {"version", r.version}};
    groups.push_back({{"name", r.group}, {"versions", {gv}}, {"preferredVersion", gv}});
  }
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}};
}

json ApiResourceList(const std::string& group, const std::string& version) {
  json resources = json::array();
  bool any = false;
  for (const auto& r : Resources()) {
    if (r.group != group || r.version != version) continue;
    any = true;
    json main = {{"name", r.name},
                 {"singularName", r.singular},
                 {"namespaced", r.namespaced},
                 {"kind", r.kind},
                 {"verbs", {"create", "delete", "get", "list", "patch", "update", "watch"}}};
    if (!r.short_names.empty()) main["shortNames"] = r.short_names;
    if (!r.categories.empty()) main["categories"] = r.categories;
    resources.push_back(main);
    if (r.has_status)
      resources.push_back({{"name", r.name + "/status"},
                           {"singularName", ""},
                           {"namespaced", r.namespaced},
                           {"kind", r.kind},
                           {"verbs", {"get", "patch", "update"}}});
    if (r.has_scale)
      resources.push_back({{"name", r.name + "/scale"},
                           {"singularName", ""},
                           {"namespaced", r.namespaced},
                           {"group", "autoscaling"},
                           {"version", "v1"},
                           {"kind", "Scale"},
                           {"verbs", {"get", "patch", "update"}}});
    if (r.has_log)
      resources.push_back({{"name", r.name + "/log"},
                           {"singularName", ""},
                           {"namespaced", r.namespaced},
                           {"kind", r.kind},
                           {"verbs", {"get"}}});
  }
  if (!any) return nullptr;
  return {{"kind", "APIResourceList"},
          {"apiVersion", "v1"},
          {"groupVersion", group.empty() ? version : group + "/" + version},
          {"resources", resources}};
}

bool WantsTable(const std::string& accept) {
  // The first acceptable type decides; kubectl lists Table first and plain JSON last.
  size_t start = 0;
  while (start < accept.size()) {
    size_t comma = accept.find(',', start);
    std::string type =
        accept.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    std::string compact;
    for (char ch : type)
      if (ch != ' ') compact += ch;
    if (compact.find("as=Table") != std::string::npos &&
        compact.find("g=meta.k8s.io") != std::string::npos &&
        compact.find("v=v1") != std::string::npos && compact.find("v=v1beta1") == std::string::npos)
      return true;
    if (compact.rfind("application/json", 0) == 0 && compact.find("as=") == std::string::npos)
      return false;
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return false;
}

json ToTable(const ResourceInfo& r, const std::vector<json>& objects,
             const std::string& resource_version, const std::string& include_object, int64_t now) {
  PrintOptions narrow;
  narrow.now = now;
  PrintOptions wide = narrow;
  wide.wide = true;
  PrintedTable n = PrintObjects(r, objects, narrow);
  PrintedTable w = PrintObjects(r, objects, wide);
  json columns = json::array();
  for (const auto& h : w.headers) {
    bool in_narrow = std::find(n.headers.begin(), n.headers.end(), h) != n.headers.end();
    json col = {{"name", h},
                {"type", "string"},
                {"format", h == "NAME" ? "name" : ""},
                {"description", ""},
                {"priority", in_narrow ? 0 : 1}};
    columns.push_back(col);
  }
  json rows = json::array();
  for (size_t i = 0; i < objects.size(); ++i) {
    json row = {{"cells", w.rows[i]}};
    if (include_object == "Object") {
      row["object"] = objects[i];
    } else if (include_object != "None") {
      row["object"] = {{"kind", "PartialObjectMetadata"},
                       {"apiVersion", "meta.k8s.io/v1"},
                       {"metadata", objects[i].value("metadata", json::object())}};
    }
    rows.push_back(row);
  }
  return {{"kind", "Table"},
          {"apiVersion", "meta.k8s.io/v1"},
          {"metadata", {{"resourceVersion", resource_version}}},
          {"columnDefinitions", columns},
          {"rows", rows}};
}

}  // namespace tug::api
