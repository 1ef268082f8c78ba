// Nodes (v1, cluster-scoped): the worker machines. An agent creates its Node with capacity and
// conditions in the status, and then keeps the status current; users label nodes and mark
// them unschedulable.
#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "api/quantity.h"
#include "base/status.h"

namespace tug::api {

// The typed view of what the scheduler and the node controller act on.
struct NodeInfo {
  std::string name;
  std::map<std::string, std::string> labels;
  bool unschedulable = false;
  Quantity cpu_allocatable;     // cores, in milli-units
  Quantity memory_allocatable;  // bytes, in milli-units
  bool ready = false;           // conditions[type=Ready].status == "True"
  std::string address;          // the first InternalIP (or Hostname) address
  std::string agent_addr;       // where the agent serves logs (status.daemonEndpoints)
  std::string pod_cidr;         // spec.podCIDR: this node's pod range ("" until given)
};

// Defaults (allocatable from capacity when absent) and validation: the name is a DNS-1123
// subdomain, spec.unschedulable a boolean, capacity and allocatable quantities.
Result<nlohmann::json> PrepareNode(nlohmann::json obj);

NodeInfo ReadNode(const nlohmann::json& node);

}  // namespace tug::api
