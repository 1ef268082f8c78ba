#include "api/node.h"

#include <vector>

#include "api/validation.h"
#include "base/ipv4.h"

namespace tug::api {

using nlohmann::json;

namespace {

void CheckResources(const json& list, const std::string& path, std::vector<std::string>* errors) {
  if (list.is_null()) return;
  if (!list.is_object()) {
    InvalidError(path, list, "must be a map of resource names to quantities", errors);
    return;
  }
  for (const auto& [k, v] : list.items())
    (void)ReadQuantity(v, path + "." + k, errors);
}

Quantity QuantityOr(const json& list, const char* name) {
  if (!list.is_object() || !list.contains(name)) return {};
  const json& v = list[name];
  auto q = Quantity::Parse(v.is_string() ? v.get<std::string>() : v.dump());
  return q.ok() ? q.value() : Quantity();
}

}  // namespace

Result<json> PrepareNode(json obj) {
  if (!obj.is_object()) return Status::Invalid("a Node must be an object");
  std::vector<std::string> errors;
  CheckTypeMeta(obj, "v1", "Node", &errors);
  PrepareMetadata(obj, /*namespaced=*/false, /*subdomain_names=*/true, &errors);
  if (!obj.contains("spec") || obj["spec"].is_null()) obj["spec"] = json::object();
  json& spec = obj["spec"];
  if (!spec.is_object()) {
    InvalidError("spec", spec, "must be an object", &errors);
  } else {
    if (spec.contains("unschedulable") && !spec["unschedulable"].is_boolean())
      InvalidError("spec.unschedulable", spec["unschedulable"], "must be true or false", &errors);
    // The node's pod range (given by the control plane's node IPAM controller); podCIDRs
    // mirrors it, as Kubernetes keeps both.
    std::string cidr = StringField(spec, "podCIDR");
    if (spec.contains("podCIDR") && !spec["podCIDR"].is_null() && cidr.empty()) {
      InvalidError("spec.podCIDR", spec["podCIDR"], "must be a CIDR such as 10.244.1.0/24",
                   &errors);
    } else if (!cidr.empty()) {
      if (auto r = Ipv4Cidr::Parse(cidr, 8, 30); !r.ok()) {
        InvalidError("spec.podCIDR", cidr, r.status().message(), &errors);
      } else {
        spec["podCIDRs"] = json::array({cidr});
      }
    }
  }
  if (obj.contains("status") && obj["status"].is_object()) {
    json& st = obj["status"];
    if (st.contains("capacity")) CheckResources(st["capacity"], "status.capacity", &errors);
    if (st.contains("allocatable"))
      CheckResources(st["allocatable"], "status.allocatable", &errors);
    if (st.contains("capacity") && !st.contains("allocatable")) st["allocatable"] = st["capacity"];
    if (st.contains("conditions") && !st["conditions"].is_array())
      InvalidError("status.conditions", st["conditions"], "must be a list", &errors);
  }
  if (Status s = Verdict("Node", StringField(obj["metadata"], "name"), errors); !s) return s;
  return obj;
}

NodeInfo ReadNode(const json& node) {
  NodeInfo n;
  const json md = node.is_object() ? node.value("metadata", json::object()) : json::object();
  n.name = StringField(md, "name");
  if (md.contains("labels") && md["labels"].is_object()) {
    for (const auto& [k, v] : md["labels"].items()) {
      if (v.is_string()) n.labels[k] = v.get<std::string>();
    }
  }
  const json spec = node.is_object() ? node.value("spec", json::object()) : json::object();
  n.unschedulable =
      spec.is_object() && spec.contains("unschedulable") && spec["unschedulable"] == true;
  n.pod_cidr = StringField(spec, "podCIDR");
  const json st = node.is_object() ? node.value("status", json::object()) : json::object();
  if (!st.is_object()) return n;
  json alloc = st.contains("allocatable") ? st["allocatable"] : st.value("capacity", json());
  n.cpu_allocatable = QuantityOr(alloc, "cpu");
  n.memory_allocatable = QuantityOr(alloc, "memory");
  if (st.contains("conditions") && st["conditions"].is_array()) {
    for (const auto& c : st["conditions"]) {
      if (StringField(c, "type") == "Ready") n.ready = StringField(c, "status") == "True";
    }
  }
  if (st.contains("addresses") && st["addresses"].is_array()) {
    for (const auto& a : st["addresses"]) {
      if (!a.is_object() || !n.address.empty()) continue;
      std::string type = StringField(a, "type");
      if (type == "InternalIP" || type == "Hostname") n.address = StringField(a, "address");
    }
  }
  if (st.contains("daemonEndpoints") && st["daemonEndpoints"].is_object()) {
    n.agent_addr = StringField(st["daemonEndpoints"], "agentAddr");
  }
  return n;
}

}  // namespace tug::api
