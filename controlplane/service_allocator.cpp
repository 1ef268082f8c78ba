#include "controlplane/service_allocator.h"

#include <vector>

#include "api/validation.h"

namespace tug::cp {

using nlohmann::json;

namespace {

bool TakenByOther(const std::map<std::string, std::string>& used, const std::string& key,
                  const std::string& owner) {
  auto it = used.find(key);
  return it != used.end() && it->second != owner;
}

std::string Name(const json& svc) {
  return svc.contains("metadata") ? api::StringField(svc["metadata"], "name") : "";
}

Status Invalid(const json& svc, const std::string& error) {
  return Status::Invalid("Service \"" + Name(svc) + "\" is invalid: " + error);
}

}  // namespace

std::string ServiceAllocator::IpKey(const std::string& ip) {
  return std::string(kPrefix) + "serviceips/" + ip;
}

std::string ServiceAllocator::PortKey(int port) {
  return std::string(kPrefix) + "nodeports/" + std::to_string(port);
}

std::set<std::string> ServiceAllocator::Held(const json& svc) const {
  std::set<std::string> keys;
  if (!svc.is_object() || !svc.contains("spec") || !svc["spec"].is_object()) return keys;
  const json& spec = svc["spec"];
  std::string ip = api::StringField(spec, "clusterIP");
  if (!ip.empty() && ip != "None") keys.insert(IpKey(ip));
  if (spec.contains("ports") && spec["ports"].is_array()) {
    for (const auto& p : spec["ports"]) {
      if (p.is_object() && p.contains("nodePort") && p["nodePort"].is_number_integer() &&
          p["nodePort"].get<int>() > 0)
        keys.insert(PortKey(p["nodePort"].get<int>()));
    }
  }
  return keys;
}

Status ServiceAllocator::Assign(json& svc, const json* old,
                                const std::map<std::string, std::string>& used,
                                const std::string& owner) {
  json& spec = svc["spec"];
  std::string ip = api::StringField(spec, "clusterIP");
  std::string old_ip =
      old && old->contains("spec") ? api::StringField((*old)["spec"], "clusterIP") : "";
  if (old && ip.empty()) ip = old_ip;  // a PUT without it keeps it (as Kubernetes does)
  if (old && !old_ip.empty() && ip != old_ip)
    return Invalid(svc,
                   "spec.clusterIPs[0]: Invalid value: [\"" + ip + "\"]: may not change once set");
  if (ip.empty()) {
    // Neither the network address nor the broadcast one.
    uint64_t count = r_.service_cidr.size() - 2;
    uint64_t start = rng_() % count;
    for (uint64_t i = 0; i < count && ip.empty(); ++i) {
      std::string candidate = FormatIpv4(r_.service_cidr.At(1 + (start + i) % count));
      if (!used.count(IpKey(candidate))) ip = candidate;
    }
    if (ip.empty())
      return Status::Error(
          "Internal error occurred: failed to allocate a serviceIP: range is full");
  } else if (ip != old_ip) {
    uint32_t a = 0;
    ParseIpv4(ip, &a);
    std::string range = r_.service_cidr.ToString();
    if (!r_.service_cidr.Contains(a) || a == r_.service_cidr.base() ||
        a == r_.service_cidr.At(r_.service_cidr.size() - 1))
      return Invalid(svc, "spec.clusterIPs: Invalid value: [\"" + ip +
                              "\"]: failed to allocate IP " + ip + ": the provided IP (" + ip +
                              ") is not in the valid range. The range of valid IPs is " + range);
    if (TakenByOther(used, IpKey(ip), owner))
      return Invalid(svc, "spec.clusterIPs: Invalid value: [\"" + ip +
                              "\"]: failed to allocate IP " + ip +
                              ": provided IP is already allocated");
  }
  spec["clusterIP"] = ip;
  spec["clusterIPs"] = json::array({ip});

  bool node_ports = api::StringField(spec, "type") == "NodePort";
  if (!node_ports || !spec.contains("ports") || !spec["ports"].is_array()) return Status::Ok();
  // The node ports the old object held, by port and protocol: kept when the client left them
  // out (kubectl apply does not send them back).
  std::map<std::pair<int, std::string>, int> kept;
  if (old && old->contains("spec") && (*old)["spec"].contains("ports") &&
      (*old)["spec"]["ports"].is_array()) {
    for (const auto& p : (*old)["spec"]["ports"]) {
      if (p.is_object() && p.contains("nodePort") && p["nodePort"].is_number_integer() &&
          p.contains("port") && p["port"].is_number_integer())
        kept[{p["port"].get<int>(), api::StringField(p, "protocol")}] = p["nodePort"].get<int>();
    }
  }
  std::set<int> mine;  // given to an earlier port of this same object
  int span = r_.node_port_max - r_.node_port_min + 1;
  std::vector<std::string> errors;
  json& ports = spec["ports"];
  for (size_t i = 0; i < ports.size(); ++i) {
    json& p = ports[i];
    std::string path = "spec.ports[" + std::to_string(i) + "].nodePort";
    int want =
        p.contains("nodePort") && p["nodePort"].is_number_integer() ? p["nodePort"].get<int>() : 0;
    if (want == 0 && p.contains("port") && p["port"].is_number_integer()) {
      auto k = kept.find({p["port"].get<int>(), api::StringField(p, "protocol")});
      if (k != kept.end() && !mine.count(k->second)) want = k->second;
    }
    if (want != 0) {
      if (want < r_.node_port_min || want > r_.node_port_max) {
        errors.push_back(path + ": Invalid value: " + std::to_string(want) +
                         ": provided port is not in the valid range. The range of valid ports "
                         "is " +
                         std::to_string(r_.node_port_min) + "-" + std::to_string(r_.node_port_max));
      } else if (TakenByOther(used, PortKey(want), owner) || mine.count(want)) {
        errors.push_back(path + ": Invalid value: " + std::to_string(want) +
                         ": provided port is already allocated");
      }
    } else {
      int start = static_cast<int>(rng_() % static_cast<uint64_t>(span));
      for (int j = 0; j < span && want == 0; ++j) {
        int candidate = r_.node_port_min + (start + j) % span;
        if (!used.count(PortKey(candidate)) && !mine.count(candidate)) want = candidate;
      }
      if (want == 0)
        return Status::Error(
            "Internal error occurred: failed to allocate a nodePort: range is full");
    }
    mine.insert(want);
    p["nodePort"] = want;
  }
  if (errors.size() == 1) return Invalid(svc, errors[0]);
  if (!errors.empty()) {
    std::string all = "[";
    for (size_t i = 0; i < errors.size(); ++i)
      all += (i ? ", " : "") + errors[i];
    return Invalid(svc, all + "]");
  }
  return Status::Ok();
}

}  // namespace tug::cp
