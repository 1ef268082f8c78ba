#include "api/service.h"

#include <cctype>
#include <set>

#include "api/validation.h"
#include "base/ipv4.h"

namespace tug::api {

using nlohmann::json;

namespace {

const char* kPortRange = "must be between 1 and 65535, inclusive";

bool ValidPort(const json& v) {
  return v.is_number_integer() && v.get<int64_t>() >= 1 && v.get<int64_t>() <= 65535;
}

// An IANA service name, as a named targetPort must be (Kubernetes' IsValidPortName).
std::string PortNameProblem(const std::string& s) {
  if (s.empty() || s.size() > 15) return "must be no more than 15 characters";
  bool letter = false;
  for (char c : s) {
    if (c >= 'a' && c <= 'z') {
      letter = true;
    } else if (!(c >= '0' && c <= '9') && c != '-') {
      return "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)";
    }
  }
  if (s.front() == '-' || s.back() == '-') return "must not begin or end with a hyphen";
  if (s.find("--") != std::string::npos) return "must not contain consecutive hyphens";
  if (!letter) return "must contain at least one letter (a-z)";
  return "";
}

void Unsupported(const std::string& path, const json& v, const std::string& supported,
                 std::vector<std::string>* errors) {
  errors->push_back(path + ": Unsupported value: " + v.dump() + ": supported values: " + supported);
}

void CheckPorts(json& spec, const std::string& type, std::vector<std::string>* errors) {
  if (!spec.contains("ports") || spec["ports"].is_null() ||
      (spec["ports"].is_array() && spec["ports"].empty())) {
    RequiredError("spec.ports", errors);
    return;
  }
  json& ports = spec["ports"];
  if (!ports.is_array()) {
    InvalidError("spec.ports", ports, "must be a list", errors);
    return;
  }
  std::set<std::string> names;
  std::set<std::pair<int64_t, std::string>> seen;
  for (size_t i = 0; i < ports.size(); ++i) {
    std::string path = "spec.ports[" + std::to_string(i) + "]";
    json& p = ports[i];
    if (!p.is_object()) {
      InvalidError(path, p, "must be an object", errors);
      continue;
    }
    std::string name = StringField(p, "name");
    if (p.contains("name") && !p["name"].is_string()) {
      InvalidError(path + ".name", p["name"], "must be a string", errors);
    } else if (name.empty() && ports.size() > 1) {
      RequiredError(path + ".name", errors);
    } else if (!name.empty() && !IsDns1123Label(name)) {
      InvalidError(path + ".name", name,
                   "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                   "characters or '-', and must start and end with an alphanumeric character",
                   errors);
    } else if (!name.empty() && !names.insert(name).second) {
      errors->push_back(path + ".name: Duplicate value: \"" + name + "\"");
    }
    if (!p.contains("protocol") || p["protocol"].is_null()) p["protocol"] = "TCP";
    if (p["protocol"] != "TCP" && p["protocol"] != "UDP")
      Unsupported(path + ".protocol", p["protocol"], "\"TCP\", \"UDP\"", errors);
    if (!p.contains("port")) {
      RequiredError(path + ".port", errors);
    } else if (!ValidPort(p["port"])) {
      InvalidError(path + ".port", p["port"], kPortRange, errors);
    } else if (p["protocol"].is_string() &&
               !seen.insert({p["port"].get<int64_t>(), p["protocol"].get<std::string>()}).second) {
      errors->push_back(path + ": Duplicate value: {\"port\":" + p["port"].dump() +
                        ",\"protocol\":" + p["protocol"].dump() + "}");
    }
    if (!p.contains("targetPort") || p["targetPort"].is_null() || p["targetPort"] == 0)
      if (p.contains("port")) p["targetPort"] = p["port"];
    const json& tp = p.contains("targetPort") ? p["targetPort"] : json();
    if (tp.is_string()) {
      if (std::string why = PortNameProblem(tp.get<std::string>()); !why.empty())
        InvalidError(path + ".targetPort", tp, why, errors);
    } else if (!tp.is_null() && !ValidPort(tp)) {
      InvalidError(path + ".targetPort", tp, kPortRange, errors);
    }
    if (p.contains("nodePort") && !p["nodePort"].is_null() && p["nodePort"] != 0) {
      if (type == "ClusterIP") {
        errors->push_back(path +
                          ".nodePort: Forbidden: may not be used when `type` is 'ClusterIP'");
      } else if (!ValidPort(p["nodePort"])) {
        InvalidError(path + ".nodePort", p["nodePort"], kPortRange, errors);
      }
    } else {
      p.erase("nodePort");  // allocated when the Service is written
    }
  }
}

std::vector<EndpointAddress> ReadAddresses(const json& list) {
  std::vector<EndpointAddress> out;
  if (!list.is_array()) return out;
  for (const auto& a : list) {
    if (!a.is_object()) continue;
    EndpointAddress e;
    e.ip = StringField(a, "ip");
    e.node_name = StringField(a, "nodeName");
    if (a.contains("targetRef") && a["targetRef"].is_object()) {
      e.pod_namespace = StringField(a["targetRef"], "namespace");
      e.pod_name = StringField(a["targetRef"], "name");
      e.pod_uid = StringField(a["targetRef"], "uid");
    }
    if (!e.ip.empty()) out.push_back(std::move(e));
  }
  return out;
}

json AddressesJson(const std::vector<EndpointAddress>& v) {
  json out = json::array();
  for (const auto& a : v) {
    json j = {{"ip", a.ip}};
    if (!a.node_name.empty()) j["nodeName"] = a.node_name;
    if (!a.pod_name.empty())
      j["targetRef"] = {{"kind", "Pod"},
                        {"namespace", a.pod_namespace},
                        {"name", a.pod_name},
                        {"uid", a.pod_uid}};
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace

std::map<std::string, std::string> ServiceLinkEnv(const std::vector<ServiceInfo>& services) {
  auto upper = [](std::string v) {
    for (char& c : v)
      c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return v;
  };
  auto lower = [](std::string v) {
    for (char& c : v)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return v;
  };
  std::map<std::string, std::string> env;
  for (const auto& s : services) {
    if (s.cluster_ip.empty() || s.cluster_ip == "None" || s.ports.empty()) continue;
    std::string prefix = upper(s.name);
    env[prefix + "_SERVICE_HOST"] = s.cluster_ip;
    env[prefix + "_SERVICE_PORT"] = std::to_string(s.ports[0].port);
    for (const auto& p : s.ports) {
      if (!p.name.empty()) env[prefix + "_SERVICE_PORT_" + upper(p.name)] = std::to_string(p.port);
      std::string proto = lower(p.protocol);
      std::string url = proto + "://" + s.cluster_ip + ":" + std::to_string(p.port);
      std::string base = prefix + "_PORT_" + std::to_string(p.port) + "_" + upper(p.protocol);
      env[base] = url;
      env[base + "_PROTO"] = proto;
      env[base + "_PORT"] = std::to_string(p.port);
      env[base + "_ADDR"] = s.cluster_ip;
    }
    env[prefix + "_PORT"] =
        lower(s.ports[0].protocol) + "://" + s.cluster_ip + ":" + std::to_string(s.ports[0].port);
  }
  return env;
}

bool IsDns1035Label(const std::string& s) {
  return IsDns1123Label(s) && s.front() >= 'a' && s.front() <= 'z';
}

Result<json> PrepareService(json obj) {
  if (!obj.is_object()) return Status::Invalid("a Service must be an object");
  std::vector<std::string> errors;
  CheckTypeMeta(obj, "v1", "Service", &errors);
  PrepareMetadata(obj, /*namespaced=*/true, /*subdomain_names=*/false, &errors);
  std::string name = StringField(obj["metadata"], "name");
  if (!name.empty() && IsDns1123Label(name) && !IsDns1035Label(name))
    InvalidError("metadata.name", name,
                 "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                 "start with an alphabetic character, and end with an alphanumeric character "
                 "(e.g. 'my-name',  or 'abc-123', regex used for validation is "
                 "'[a-z]([-a-z0-9]*[a-z0-9])?')",
                 &errors);
  if (!obj.contains("spec") || obj["spec"].is_null()) obj["spec"] = json::object();
  json& spec = obj["spec"];
  if (!spec.is_object()) return Verdict("Service", name, errors);
  if (!spec.contains("type") || spec["type"].is_null()) spec["type"] = "ClusterIP";
  std::string type = StringField(spec, "type");
  if (type != "ClusterIP" && type != "NodePort") {
    Unsupported("spec.type", spec["type"], "\"ClusterIP\", \"NodePort\"", &errors);
    type = "ClusterIP";
  }
  CheckPorts(spec, type, &errors);
  if (spec.contains("selector") && !spec["selector"].is_null())
    CheckLabels(spec["selector"], "spec.selector", &errors);
  if (!spec.contains("sessionAffinity") || spec["sessionAffinity"].is_null())
    spec["sessionAffinity"] = "None";
  if (spec["sessionAffinity"] == "ClientIP") {
    json& cfg = spec["sessionAffinityConfig"];
    if (!cfg.is_object()) cfg = json::object();
    if (!cfg.contains("clientIP") || !cfg["clientIP"].is_object()) cfg["clientIP"] = json::object();
    json& t = cfg["clientIP"]["timeoutSeconds"];
    if (t.is_null()) t = 10800;
    if (!t.is_number_integer() || t.get<int64_t>() <= 0 || t.get<int64_t>() > 86400)
      InvalidError("spec.sessionAffinityConfig.clientIP.timeoutSeconds", t,
                   "must be greater than 0 and less than 86400", &errors);
  } else if (spec["sessionAffinity"] == "None") {
    spec.erase("sessionAffinityConfig");
  } else {
    Unsupported("spec.sessionAffinity", spec["sessionAffinity"], "\"ClientIP\", \"None\"", &errors);
  }
  // One address, IPv4 (clusterIPs mirrors clusterIP, as Kubernetes keeps them).
  if (spec.contains("clusterIP") && !spec["clusterIP"].is_null() && !spec["clusterIP"].is_string())
    InvalidError("spec.clusterIP", spec["clusterIP"], "must be a string", &errors);
  std::string ip = StringField(spec, "clusterIP");
  if (ip.empty() && spec.contains("clusterIPs") && spec["clusterIPs"].is_array() &&
      !spec["clusterIPs"].empty() && spec["clusterIPs"][0].is_string())
    ip = spec["clusterIPs"][0].get<std::string>();
  uint32_t addr = 0;
  if (ip == "None") {
    errors.push_back(
        "spec.clusterIP: Unsupported value: \"None\": headless Services are not supported by "
        "Tug yet; leave clusterIP empty to get one allocated");
  } else if (!ip.empty() && !ParseIpv4(ip, &addr)) {
    InvalidError("spec.clusterIPs[0]", ip,
                 "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)", &errors);
  }
  if (ip.empty()) {
    spec.erase("clusterIP");
    spec.erase("clusterIPs");
  } else {
    spec["clusterIP"] = ip;
    spec["clusterIPs"] = json::array({ip});
  }
  spec["ipFamilies"] = json::array({"IPv4"});
  spec["ipFamilyPolicy"] = "SingleStack";
  if (!spec.contains("internalTrafficPolicy")) spec["internalTrafficPolicy"] = "Cluster";
  if (type == "NodePort" && !spec.contains("externalTrafficPolicy"))
    spec["externalTrafficPolicy"] = "Cluster";
  if (type == "ClusterIP") spec.erase("externalTrafficPolicy");
  if (!obj.contains("status") || !obj["status"].is_object())
    obj["status"] = {{"loadBalancer", json::object()}};
  if (Status s = Verdict("Service", name, errors); !s) return s;
  return obj;
}

Result<json> PrepareEndpoints(json obj) {
  if (!obj.is_object()) return Status::Invalid("an Endpoints object must be an object");
  std::vector<std::string> errors;
  CheckTypeMeta(obj, "v1", "Endpoints", &errors);
  PrepareMetadata(obj, /*namespaced=*/true, /*subdomain_names=*/true, &errors);
  if (obj.contains("subsets") && !obj["subsets"].is_null()) {
    const json& subsets = obj["subsets"];
    if (!subsets.is_array()) {
      InvalidError("subsets", subsets, "must be a list", &errors);
    } else {
      for (size_t i = 0; i < subsets.size(); ++i) {
        std::string path = "subsets[" + std::to_string(i) + "]";
        const json& s = subsets[i];
        if (!s.is_object()) {
          InvalidError(path, s, "must be an object", &errors);
          continue;
        }
        for (const char* list : {"addresses", "notReadyAddresses"}) {
          if (!s.contains(list)) continue;
          if (!s[list].is_array()) {
            InvalidError(path + "." + list, s[list], "must be a list", &errors);
            continue;
          }
          for (size_t j = 0; j < s[list].size(); ++j) {
            uint32_t a = 0;
            std::string ip = StringField(s[list][j], "ip");
            if (!ParseIpv4(ip, &a))
              InvalidError(
                  path + "." + list + "[" + std::to_string(j) + "].ip",
                  s[list][j].is_object() && s[list][j].contains("ip") ? s[list][j]["ip"] : json(""),
                  "must be a valid IPv4 address", &errors);
          }
        }
        if (s.contains("ports") && s["ports"].is_array()) {
          for (size_t j = 0; j < s["ports"].size(); ++j) {
            const json& p = s["ports"][j];
            if (!p.is_object() || !ValidPort(p.value("port", json())))
              InvalidError(path + ".ports[" + std::to_string(j) + "].port",
                           p.is_object() ? p.value("port", json()) : p, kPortRange, &errors);
          }
        }
      }
    }
  }
  if (Status s = Verdict("Endpoints", StringField(obj["metadata"], "name"), errors); !s) return s;
  return obj;
}

ServiceInfo ReadService(const json& svc) {
  ServiceInfo s;
  if (!svc.is_object()) return s;
  const json md = svc.value("metadata", json::object());
  s.ns = StringField(md, "namespace");
  s.name = StringField(md, "name");
  s.uid = StringField(md, "uid");
  const json spec = svc.value("spec", json::object());
  if (!spec.is_object()) return s;
  if (!StringField(spec, "type").empty()) s.type = StringField(spec, "type");
  s.cluster_ip = StringField(spec, "clusterIP");
  if (spec.contains("selector") && spec["selector"].is_object() && !spec["selector"].empty()) {
    s.has_selector = true;
    for (const auto& [k, v] : spec["selector"].items())
      if (v.is_string()) s.selector[k] = v.get<std::string>();
  }
  if (spec.contains("ports") && spec["ports"].is_array()) {
    for (const auto& p : spec["ports"]) {
      if (!p.is_object() || !ValidPort(p.value("port", json()))) continue;
      ServicePort sp;
      sp.name = StringField(p, "name");
      sp.port = p["port"].get<int>();
      if (!StringField(p, "protocol").empty()) sp.protocol = StringField(p, "protocol");
      const json tp = p.value("targetPort", json());
      if (tp.is_string()) {
        sp.target_port_name = tp.get<std::string>();
      } else {
        sp.target_port = ValidPort(tp) ? tp.get<int>() : sp.port;
      }
      if (ValidPort(p.value("nodePort", json()))) sp.node_port = p["nodePort"].get<int>();
      s.ports.push_back(std::move(sp));
    }
  }
  if (StringField(spec, "sessionAffinity") == "ClientIP") {
    s.client_ip_affinity = true;
    const json cfg = spec.value("sessionAffinityConfig", json::object());
    if (cfg.is_object() && cfg.contains("clientIP") && cfg["clientIP"].is_object() &&
        cfg["clientIP"].contains("timeoutSeconds") &&
        cfg["clientIP"]["timeoutSeconds"].is_number_integer())
      s.affinity_timeout_s = cfg["clientIP"]["timeoutSeconds"].get<int64_t>();
  }
  return s;
}

std::vector<EndpointSubset> ReadEndpoints(const json& ep) {
  std::vector<EndpointSubset> out;
  if (!ep.is_object() || !ep.contains("subsets") || !ep["subsets"].is_array()) return out;
  for (const auto& s : ep["subsets"]) {
    if (!s.is_object()) continue;
    EndpointSubset sub;
    sub.addresses = ReadAddresses(s.value("addresses", json()));
    sub.not_ready = ReadAddresses(s.value("notReadyAddresses", json()));
    if (s.contains("ports") && s["ports"].is_array()) {
      for (const auto& p : s["ports"]) {
        if (!p.is_object() || !ValidPort(p.value("port", json()))) continue;
        EndpointPort port;
        port.name = StringField(p, "name");
        port.port = p["port"].get<int>();
        if (!StringField(p, "protocol").empty()) port.protocol = StringField(p, "protocol");
        sub.ports.push_back(std::move(port));
      }
    }
    out.push_back(std::move(sub));
  }
  return out;
}

json EndpointSubsetsJson(const std::vector<EndpointSubset>& subsets) {
  json out = json::array();
  for (const auto& s : subsets) {
    json j = json::object();
    if (!s.addresses.empty()) j["addresses"] = AddressesJson(s.addresses);
    if (!s.not_ready.empty()) j["notReadyAddresses"] = AddressesJson(s.not_ready);
    json ports = json::array();
    for (const auto& p : s.ports) {
      json pj = {{"port", p.port}, {"protocol", p.protocol}};
      if (!p.name.empty()) pj["name"] = p.name;
      ports.push_back(std::move(pj));
    }
    j["ports"] = std::move(ports);
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace tug::api
