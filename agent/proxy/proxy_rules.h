// What the node's Service proxy should listen on, from the Services and Endpoints the agent
// watches (pure): for every TCP port of every Service with a cluster IP, clusterIP:port; for
// a NodePort Service also 0.0.0.0:nodePort (every address of the node). The backends are the
// ready addresses of the Service's Endpoints, with the endpoint port of the same name as the
// Service port (Kubernetes' rule; an unnamed single port matches the unnamed one).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/proxy/service_proxy.h"
#include "api/service.h"

namespace tug::agent::proxy {

// `endpoints`: by (namespace, name).
std::vector<ProxyPort> ProxyPorts(const std::vector<api::ServiceInfo>& services,
                                  const std::map<std::pair<std::string, std::string>,
                                                 std::vector<api::EndpointSubset>>& endpoints);

}  // namespace tug::agent::proxy
