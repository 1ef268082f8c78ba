#include "api/resource.h"

#include <algorithm>
#include <cctype>

#include "api/event.h"
#include "api/node.h"
#include "api/printers.h"
#include "api/service.h"
#include "api/workload.h"

namespace tug::api {

bool ResourceInfo::AllowsField(const std::string& field) const {
  if (field == "metadata.name") return true;
  if (field == "metadata.namespace") return namespaced;
  return std::find(field_selectors.begin(), field_selectors.end(), field) != field_selectors.end();
}

namespace {
// What the controllers own starts empty: a pod is Pending until it is scheduled and run.
nlohmann::json PendingPodStatus() {
  return {{"phase", "Pending"}};
}
nlohmann::json EmptyStatus() {
  return nlohmann::json::object();
}
}  // namespace

const std::vector<ResourceInfo>& Resources() {
  static const std::vector<ResourceInfo> all = [] {
    std::vector<ResourceInfo> v;
    ResourceInfo pods;
    pods.name = "pods";
    pods.singular = "pod";
    pods.version = "v1";
    pods.kind = "Pod";
    pods.short_names = {"po"};
    pods.has_status = true;
    pods.field_selectors = {"spec.nodeName", "status.phase", "spec.restartPolicy"};
    pods.prepare = &PreparePod;
    pods.initial_status = &PendingPodStatus;
    pods.has_log = true;
    pods.categories = {"all"};
    pods.print = &PrintPods;
    v.push_back(pods);

    ResourceInfo nodes;
    nodes.name = "nodes";
    nodes.singular = "node";
    nodes.version = "v1";
    nodes.kind = "Node";
    nodes.namespaced = false;
    nodes.short_names = {"no"};
    nodes.has_status = true;
    nodes.field_selectors = {"spec.unschedulable"};
    nodes.prepare = &PrepareNode;
    nodes.print = &PrintNodes;  // its status comes from the agent that creates it
    v.push_back(nodes);

    ResourceInfo events;
    events.name = "events";
    events.singular = "event";
    events.version = "v1";
    events.kind = "Event";
    events.short_names = {"ev"};
    events.field_selectors = {"involvedObject.kind",
                              "involvedObject.name",
                              "involvedObject.namespace",
                              "involvedObject.uid",
                              "reason",
                              "type"};
    events.prepare = &PrepareEvent;
    events.print = &PrintEvents;
    v.push_back(events);

    ResourceInfo deployments;
    deployments.name = "deployments";
    deployments.singular = "deployment";
    deployments.group = "apps";
    deployments.version = "v1";
    deployments.kind = "Deployment";
    deployments.short_names = {"deploy"};
    deployments.has_status = true;
    deployments.has_scale = true;
    deployments.prepare = &PrepareDeployment;
    deployments.initial_status = &EmptyStatus;
    deployments.categories = {"all"};
    deployments.print = &PrintDeployments;
    v.push_back(deployments);

    ResourceInfo services;
    services.name = "services";
    services.singular = "service";
    services.version = "v1";
    services.kind = "Service";
    services.short_names = {"svc"};
    services.has_status = true;
    services.prepare = &PrepareService;
    services.categories = {"all"};
    services.print = &PrintServices;
    v.push_back(services);

    ResourceInfo endpoints;
    endpoints.name = "endpoints";
    endpoints.singular = "endpoints";  // as Kubernetes names it: the kind is plural
    endpoints.version = "v1";
    endpoints.kind = "Endpoints";
    endpoints.short_names = {"ep"};
    endpoints.prepare = &PrepareEndpoints;
    endpoints.print = &PrintEndpoints;
    v.push_back(endpoints);
    return v;
  }();
  return all;
}

const ResourceInfo* FindResource(const std::string& group, const std::string& name) {
  for (const auto& r : Resources()) {
    if (r.group == group && r.name == name) return &r;
  }
  return nullptr;
}

const ResourceInfo* ResolveResource(const std::string& typed) {
  std::string t = typed;
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const auto& r : Resources()) {
    std::string kind = r.kind;
    std::transform(kind.begin(), kind.end(), kind.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    std::vector<std::string> names = {r.name, r.singular, kind};
    for (const auto& s : r.short_names)
      names.push_back(s);
    for (const auto& n : names) {
      if (t == n || (!r.group.empty() && t == n + "." + r.group)) return &r;
    }
  }
  return nullptr;
}

const ResourceInfo* ResourceForKind(const std::string& api_version, const std::string& kind) {
  for (const auto& r : Resources()) {
    if (r.kind == kind && r.api_version() == api_version) return &r;
  }
  return nullptr;
}

}  // namespace tug::api
