#include "controlplane/endpoints.h"

#include <algorithm>
#include <map>

#include "api/json_access.h"
#include "api/validation.h"

namespace tug::cp {

using nlohmann::json;

namespace {

bool Matches(const std::map<std::string, std::string>& selector, const json& pod) {
  const json& labels = api::At(pod, {"metadata", "labels"});
  for (const auto& [k, v] : selector) {
    if (!labels.is_object() || !labels.contains(k) || labels[k] != v) return false;
  }
  return true;
}

bool PodReady(const json& pod) {
  for (const auto& c : api::AtArray(pod, {"status", "conditions"})) {
    if (api::StringField(c, "type") == "Ready") return api::StringField(c, "status") == "True";
  }
  return false;
}

// The container port a service port targets in this pod, 0 if none.
int ContainerPort(const api::ServicePort& sp, const json& pod) {
  if (sp.target_port_name.empty()) return sp.target_port;
  for (const auto& c : api::AtArray(pod, {"spec", "containers"})) {
    for (const auto& p : api::AtArray(c, {"ports"})) {
      if (api::StringField(p, "name") == sp.target_port_name && p.contains("containerPort") &&
          p["containerPort"].is_number_integer())
        return p["containerPort"].get<int>();
    }
  }
  return 0;
}

// Where a host-network pod serves `container_port`: the host port its agent reported, or the
// port itself when the agent reported none (a fixed hostPort equals it, or a host process that
// binds it directly).
int HostPortFor(const json& pod, int container_port) {
  for (const auto& cs : api::AtArray(pod, {"status", "containerStatuses"})) {
    for (const auto& b : api::AtArray(cs, {"ports"})) {
      if (b.is_object() && b.value("containerPort", 0) == container_port &&
          b.contains("hostPort") && b["hostPort"].is_number_integer() &&
          b["hostPort"].get<int>() > 0)
        return b["hostPort"].get<int>();
    }
  }
  return container_port;
}

bool ByIp(const api::EndpointAddress& a, const api::EndpointAddress& b) {
  return std::tie(a.ip, a.pod_name) < std::tie(b.ip, b.pod_name);
}

}  // namespace

std::vector<api::EndpointSubset> ComputeEndpoints(
    const api::ServiceInfo& svc, const std::vector<const json*>& pods,
    const std::function<bool(const std::string& node)>& node_ready) {
  // Resolved ports (as "port number per service port") -> the subset they make.
  std::map<std::vector<int>, api::EndpointSubset> subsets;
  for (const json* p : pods) {
    if (!p || !p->is_object()) continue;
    const json& pod = *p;
    if (api::StringField(api::At(pod, {"metadata"}), "namespace") != svc.ns) continue;
    if (!Matches(svc.selector, pod)) continue;
    if (!api::At(pod, {"metadata", "deletionTimestamp"}).is_null()) continue;
    std::string phase = api::StringField(api::At(pod, {"status"}), "phase");
    if (phase == "Succeeded" || phase == "Failed") continue;
    std::string ip = api::StringField(api::At(pod, {"status"}), "podIP");
    if (ip.empty()) continue;
    bool host_net = ip == api::StringField(api::At(pod, {"status"}), "hostIP");
    std::vector<int> resolved;
    bool complete = true;
    for (const auto& sp : svc.ports) {
      int port = ContainerPort(sp, pod);
      if (port == 0) {
        complete = false;
        break;
      }
      resolved.push_back(host_net ? HostPortFor(pod, port) : port);
    }
    if (!complete) continue;
    api::EndpointAddress a;
    a.ip = ip;
    a.node_name = api::StringField(api::At(pod, {"spec"}), "nodeName");
    a.pod_namespace = svc.ns;
    a.pod_name = api::StringField(api::At(pod, {"metadata"}), "name");
    a.pod_uid = api::StringField(api::At(pod, {"metadata"}), "uid");
    api::EndpointSubset& sub = subsets[resolved];
    bool ready = PodReady(pod) && !a.node_name.empty() && node_ready(a.node_name);
    (ready ? sub.addresses : sub.not_ready).push_back(std::move(a));
  }
  std::vector<api::EndpointSubset> out;
  for (auto& [ports, sub] : subsets) {
    for (size_t i = 0; i < svc.ports.size(); ++i)
      sub.ports.push_back({svc.ports[i].name, ports[i], svc.ports[i].protocol});
    std::sort(sub.addresses.begin(), sub.addresses.end(), ByIp);
    std::sort(sub.not_ready.begin(), sub.not_ready.end(), ByIp);
    out.push_back(std::move(sub));
  }
  return out;
}

}  // namespace tug::cp
