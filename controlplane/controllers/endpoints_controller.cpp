#include "controlplane/controllers/endpoints_controller.h"

#include <vector>

#include "api/json_access.h"
#include "api/node.h"
#include "api/service.h"
#include "controlplane/controllers/informer.h"
#include "controlplane/endpoints.h"

namespace tug::cp {

using nlohmann::json;

void EndpointsController::OnChange(const std::string& resource, const std::string& key,
                                   const json* before, const json* after) {
  const json* obj = after ? after : before;
  if (!obj) return;
  std::string ns = Meta(*obj, "namespace"), name = Meta(*obj, "name");
  if (resource == "services" || resource == "endpoints") {
    if (resource == "services") {
      if (after) {
        services_by_ns_[ns].insert(name);
      } else {
        services_by_ns_[ns].erase(name);
      }
    }
    dirty_.insert({ns, name});
  } else if (resource == "pods") {
    if (after) {
      pods_by_ns_[ns].insert(key);
    } else {
      pods_by_ns_[ns].erase(key);
    }
    for (const auto& s : services_by_ns_[ns])
      dirty_.insert({ns, s});
  } else if (resource == "nodes") {
    Resync();
  }
}

void EndpointsController::Resync() {
  for (const auto& [ns, names] : services_by_ns_)
    for (const auto& n : names)
      dirty_.insert({ns, n});
  // Endpoints whose Service is gone.
  for (const auto& [key, ep] : ctx_.cache.List("endpoints"))
    dirty_.insert({Meta(ep, "namespace"), Meta(ep, "name")});
}

void EndpointsController::Process() {
  auto todo = std::move(dirty_);
  dirty_.clear();
  for (const auto& [ns, name] : todo) {
    if (InFlight("ep:" + ns + "/" + name)) {
      dirty_.insert({ns, name});  // looked at again when the write in flight is answered
      continue;
    }
    Sync(ns, name);
  }
}

void EndpointsController::Sync(const std::string& ns, const std::string& name) {
  const api::ResourceInfo& eps = Kind("endpoints");
  const json* svc = ctx_.cache.Get("services", Registry::Key(Kind("services"), ns, name));
  const json* ep = ctx_.cache.Get("endpoints", Registry::Key(eps, ns, name));
  std::string token = "ep:" + ns + "/" + name;
  if (!svc) {
    if (!ep) return;
    Begin(token);
    ctx_.registry.Delete(
        eps, ns, name, Meta(*ep, "resourceVersion"),
        Finish(token, "delete the Endpoints of deleted Service " + ns + "/" + name));
    return;
  }
  api::ServiceInfo info = api::ReadService(*svc);
  if (!info.has_selector) return;
  std::vector<const json*> pods;
  auto it = pods_by_ns_.find(ns);
  if (it != pods_by_ns_.end()) {
    for (const auto& key : it->second)
      if (const json* p = ctx_.cache.Get("pods", key)) pods.push_back(p);
  }
  auto node_ready = [this](const std::string& node) {
    const json* n = ctx_.cache.Get("nodes", Registry::Key(Kind("nodes"), "", node));
    return n && api::ReadNode(*n).ready;
  };
  json subsets = api::EndpointSubsetsJson(ComputeEndpoints(info, pods, node_ready));
  json labels = api::At(*svc, {"metadata", "labels"});
  if (!ep) {
    json obj = {{"apiVersion", "v1"},
                {"kind", "Endpoints"},
                {"metadata", {{"name", name}, {"namespace", ns}}}};
    if (labels.is_object()) obj["metadata"]["labels"] = labels;
    if (!subsets.empty()) obj["subsets"] = subsets;
    Begin(token);
    ctx_.registry.Create(eps, ns, std::move(obj),
                         Finish(token, "create the Endpoints of Service " + ns + "/" + name));
    return;
  }
  json current = api::At(*ep, {"subsets"});
  if (current.is_null()) current = json::array();
  json current_labels = api::At(*ep, {"metadata", "labels"});
  if (current == subsets &&
      (current_labels == labels || (!labels.is_object() && current_labels.is_null())))
    return;
  json next = *ep;  // carries the resourceVersion read: a stale write is a 409
  if (subsets.empty()) {
    next.erase("subsets");
  } else {
    next["subsets"] = subsets;
  }
  if (labels.is_object()) {
    next["metadata"]["labels"] = labels;
  } else {
    next["metadata"].erase("labels");
  }
  Begin(token);
  ctx_.registry.Update(eps, ns, name, Registry::Part::kMain, Replace(next),
                       Finish(token, "update the Endpoints of Service " + ns + "/" + name));
}

}  // namespace tug::cp
