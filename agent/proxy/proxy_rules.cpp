#include "agent/proxy/proxy_rules.h"

namespace tug::agent::proxy {

std::vector<ProxyPort> ProxyPorts(const std::vector<api::ServiceInfo>& services,
                                  const std::map<std::pair<std::string, std::string>,
                                                 std::vector<api::EndpointSubset>>& endpoints) {
  std::vector<ProxyPort> out;
  for (const auto& s : services) {
    if (s.cluster_ip.empty() || s.cluster_ip == "None") continue;
    auto ep = endpoints.find({s.ns, s.name});
    for (const auto& sp : s.ports) {
      if (sp.protocol != "TCP") continue;  // UDP Services are not proxied (see README)
      ProxyPort p;
      p.service = s.ns + "/" + s.name + ":" + (sp.name.empty() ? std::to_string(sp.port) : sp.name);
      p.listen_ip = s.cluster_ip;
      p.listen_port = static_cast<uint16_t>(sp.port);
      p.affinity = s.client_ip_affinity ? Affinity::kClientIP : Affinity::kNone;
      p.affinity_timeout_ms = s.affinity_timeout_s * 1000;
      if (ep != endpoints.end()) {
        for (const auto& sub : ep->second) {
          for (const auto& port : sub.ports) {
            if (port.name != sp.name || port.protocol != "TCP") continue;
            for (const auto& a : sub.addresses)
              p.backends.push_back({a.ip, static_cast<uint16_t>(port.port)});
          }
        }
      }
      out.push_back(p);
      if (s.type == "NodePort" && sp.node_port > 0) {
        p.listen_ip = "0.0.0.0";
        p.listen_port = static_cast<uint16_t>(sp.node_port);
        out.push_back(std::move(p));
      }
    }
  }
  return out;
}

}  // namespace tug::agent::proxy
