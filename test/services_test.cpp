// Services without a cluster: validation and defaults in Kubernetes' words, the allocator of
// cluster IPs and node ports (exhaustion, release, what a client asks for, updates), and
// which pods end up in a Service's Endpoints.
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "api/service.h"
#include "controlplane/endpoints.h"
#include "controlplane/service_allocator.h"

using nlohmann::json;
using tug::Ipv4Cidr;
using tug::cp::ServiceAllocator;
using tug::cp::ServiceRanges;

namespace {

json Svc(const std::string& name, json spec) {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec", std::move(spec)}};
}

json Web(const std::string& type = "ClusterIP") {
  return Svc("web", {{"type", type},
                     {"selector", {{"app", "web"}}},
                     {"ports", {{{"port", 80}, {"targetPort", 8080}}}}});
}

std::string Problem(json obj) {
  auto r = tug::api::PrepareService(std::move(obj));
  return r.ok() ? "" : r.status().message();
}

ServiceAllocator Allocator(const std::string& cidr, int min = 30000, int max = 32767) {
  ServiceRanges r;
  r.service_cidr = Ipv4Cidr::Parse(cidr).value();
  r.node_port_min = min;
  r.node_port_max = max;
  return ServiceAllocator(r);
}

// Prepares and assigns `svc` as a create would, recording what it holds in `used`.
tug::Status Create(ServiceAllocator& a, json& svc, std::map<std::string, std::string>& used) {
  svc = tug::api::PrepareService(svc).value();
  std::string owner = "/registry/services/default/" + svc["metadata"]["name"].get<std::string>();
  tug::Status s = a.Assign(svc, nullptr, used, owner);
  if (s.ok())
    for (const auto& k : a.Held(svc))
      used[k] = owner;
  return s;
}

json PodAt(const std::string& name, const std::string& ip, bool ready,
           json labels = {{"app", "web"}}, const std::string& node = "node-a") {
  return {{"metadata",
           {{"name", name}, {"namespace", "default"}, {"uid", "u-" + name}, {"labels", labels}}},
          {"spec",
           {{"nodeName", node},
            {"containers",
             {{{"name", "main"}, {"ports", {{{"name", "http"}, {"containerPort", 8080}}}}}}}}},
          {"status",
           {{"phase", "Running"},
            {"podIP", ip},
            {"hostIP", "192.0.2.1"},
            {"conditions", {{{"type", "Ready"}, {"status", ready ? "True" : "False"}}}}}}};
}

}  // namespace

TEST_CASE("a Service gets Kubernetes' defaults", "[services]") {
  auto r = tug::api::PrepareService(Web());
  REQUIRE(r.ok());
  const json& spec = r.value()["spec"];
  CHECK(spec["ports"][0]["protocol"] == "TCP");
  CHECK(spec["ports"][0]["targetPort"] == 8080);
  CHECK(spec["sessionAffinity"] == "None");
  CHECK(spec["ipFamilies"] == json::array({"IPv4"}));
  CHECK(spec["internalTrafficPolicy"] == "Cluster");
  CHECK_FALSE(spec.contains("clusterIP"));  // the API server allocates it
  json no_target = Web();
  no_target["spec"]["ports"][0].erase("targetPort");
  no_target["spec"]["sessionAffinity"] = "ClientIP";
  auto d = tug::api::PrepareService(no_target);
  REQUIRE(d.ok());
  CHECK(d.value()["spec"]["ports"][0]["targetPort"] == 80);
  CHECK(d.value()["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"] == 10800);
  auto info = tug::api::ReadService(d.value());
  CHECK(info.client_ip_affinity);
  CHECK(info.ports[0].target_port == 80);
}

TEST_CASE("invalid Services are refused in Kubernetes' words", "[services]") {
  json bad_type = Web();
  bad_type["spec"]["type"] = "LoadBalancer";
  CHECK(Problem(bad_type) ==
        "Service \"web\" is invalid: spec.type: Unsupported value: \"LoadBalancer\": supported "
        "values: \"ClusterIP\", \"NodePort\"");
  CHECK(Problem(Svc("web", {{"selector", {{"app", "web"}}}})) ==
        "Service \"web\" is invalid: spec.ports: Required value");
  json port0 = Web();
  port0["spec"]["ports"][0]["port"] = 0;
  CHECK(Problem(port0).find("spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, "
                            "inclusive") != std::string::npos);
  json two = Web();
  two["spec"]["ports"].push_back({{"port", 443}});
  CHECK(Problem(two).find("spec.ports[0].name: Required value") != std::string::npos);
  json dup = Web();
  dup["spec"]["ports"] = {{{"name", "a"}, {"port", 80}}, {{"name", "a"}, {"port", 81}}};
  CHECK(Problem(dup).find("spec.ports[1].name: Duplicate value: \"a\"") != std::string::npos);
  json node_port = Web();
  node_port["spec"]["ports"][0]["nodePort"] = 30080;
  CHECK(Problem(node_port).find("spec.ports[0].nodePort: Forbidden: may not be used when `type` "
                                "is 'ClusterIP'") != std::string::npos);
  json named = Web();
  named["spec"]["ports"][0]["targetPort"] = "Http_Port";
  CHECK(Problem(named).find("spec.ports[0].targetPort: Invalid value: Http_Port") !=
        std::string::npos);
  json affinity = Web();
  affinity["spec"]["sessionAffinity"] = "Cookie";
  CHECK(Problem(affinity).find("spec.sessionAffinity: Unsupported value: \"Cookie\"") !=
        std::string::npos);
  CHECK(Problem(Svc("1web", Web()["spec"])).find("a DNS-1035 label") != std::string::npos);
  json ip = Web();
  ip["spec"]["clusterIP"] = "10.96.0.300";
  CHECK(Problem(ip).find("spec.clusterIPs[0]: Invalid value: 10.96.0.300: must be a valid IP") !=
        std::string::npos);
  json sctp = Web();
  sctp["spec"]["ports"][0]["protocol"] = "SCTP";
  CHECK(Problem(sctp).find("supported values: \"TCP\", \"UDP\"") != std::string::npos);
}

TEST_CASE("cluster IPs are unique, run out with a 500, and come back when released", "[services]") {
  // A /29: eight addresses, six usable (not the network's nor the broadcast one).
  ServiceAllocator a = Allocator("10.96.0.0/29");
  std::map<std::string, std::string> used;
  std::set<std::string> ips;
  for (int i = 0; i < 6; ++i) {
    json s = Svc("s" + std::to_string(i), Web()["spec"]);
    REQUIRE(Create(a, s, used).ok());
    std::string ip = s["spec"]["clusterIP"];
    CHECK(Ipv4Cidr::Parse("10.96.0.0/29").value().Contains(ip));
    CHECK(ip != "10.96.0.0");
    CHECK(ip != "10.96.0.7");
    CHECK(s["spec"]["clusterIPs"] == json::array({ip}));
    ips.insert(ip);
  }
  CHECK(ips.size() == 6);
  json full = Svc("full", Web()["spec"]);
  tug::Status s = Create(a, full, used);
  CHECK(s.code() == tug::Status::Code::kError);
  CHECK(s.message() == "Internal error occurred: failed to allocate a serviceIP: range is full");
  // Release one (its holding key goes with the Service): the next gets it.
  std::string freed = *ips.begin();
  used.erase(ServiceAllocator::IpKey(freed));
  json again = Svc("again", Web()["spec"]);
  REQUIRE(Create(a, again, used).ok());
  CHECK(again["spec"]["clusterIP"] == freed);
}

TEST_CASE("a cluster IP or node port the client asks for is checked", "[services]") {
  ServiceAllocator a = Allocator("10.96.0.0/16");
  std::map<std::string, std::string> used;
  json first = Web("NodePort");
  first["spec"]["clusterIP"] = "10.96.0.10";
  first["spec"]["ports"][0]["nodePort"] = 30080;
  REQUIRE(Create(a, first, used).ok());
  CHECK(first["spec"]["clusterIP"] == "10.96.0.10");
  CHECK(used.count(ServiceAllocator::IpKey("10.96.0.10")));
  CHECK(used.count(ServiceAllocator::PortKey(30080)));

  json same_ip = Svc("other", Web()["spec"]);
  same_ip["spec"]["clusterIP"] = "10.96.0.10";
  tug::Status s = Create(a, same_ip, used);
  CHECK(s.code() == tug::Status::Code::kInvalid);
  CHECK(s.message() ==
        "Service \"other\" is invalid: spec.clusterIPs: Invalid value: [\"10.96.0.10\"]: failed "
        "to allocate IP 10.96.0.10: provided IP is already allocated");
  json outside = Svc("outside", Web()["spec"]);
  outside["spec"]["clusterIP"] = "10.97.0.1";
  CHECK(
      Create(a, outside, used)
          .message()
          .find("the provided IP (10.97.0.1) is not in the valid range. The range of valid IPs is "
                "10.96.0.0/16") != std::string::npos);
  json same_port = Svc("other", Web("NodePort")["spec"]);
  same_port["spec"]["ports"][0]["nodePort"] = 30080;
  CHECK(Create(a, same_port, used).message() ==
        "Service \"other\" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided "
        "port is already allocated");
  json low = Svc("low", Web("NodePort")["spec"]);
  low["spec"]["ports"][0]["nodePort"] = 8080;
  CHECK(Create(a, low, used)
            .message()
            .find("provided port is not in the valid range. The range "
                  "of valid ports is 30000-32767") != std::string::npos);
}

TEST_CASE("node ports run out and are kept across updates", "[services]") {
  ServiceAllocator a = Allocator("10.96.0.0/24", 30000, 30002);
  std::map<std::string, std::string> used;
  json two = Svc("two", Web("NodePort")["spec"]);
  two["spec"]["ports"] = {{{"name", "a"}, {"port", 80}}, {{"name", "b"}, {"port", 81}}};
  REQUIRE(Create(a, two, used).ok());
  CHECK(two["spec"]["ports"][0]["nodePort"] != two["spec"]["ports"][1]["nodePort"]);
  json one = Svc("one", Web("NodePort")["spec"]);
  REQUIRE(Create(a, one, used).ok());
  json none = Svc("none", Web("NodePort")["spec"]);
  CHECK(Create(a, none, used).message() ==
        "Internal error occurred: failed to allocate a nodePort: range is full");

  // An update that leaves the node port and cluster IP out (kubectl apply) keeps them.
  json update = tug::api::PrepareService(Svc("one", Web("NodePort")["spec"])).value();
  REQUIRE(a.Assign(update, &one, used, "/registry/services/default/one").ok());
  CHECK(update["spec"]["clusterIP"] == one["spec"]["clusterIP"]);
  CHECK(update["spec"]["ports"][0]["nodePort"] == one["spec"]["ports"][0]["nodePort"]);
  CHECK(a.Held(update) == a.Held(one));
  // The cluster IP may not change.
  json moved = update;
  moved["spec"]["clusterIP"] = "10.96.0.99";
  tug::Status s = a.Assign(moved, &one, used, "/registry/services/default/one");
  CHECK(s.message().find("may not change once set") != std::string::npos);
  // Becoming a ClusterIP Service gives its node port back.
  json plain = tug::api::PrepareService(Svc("one", Web()["spec"])).value();
  REQUIRE(a.Assign(plain, &one, used, "/registry/services/default/one").ok());
  CHECK(a.Held(plain) == std::set<std::string>{ServiceAllocator::IpKey(one["spec"]["clusterIP"])});
}

TEST_CASE("Endpoints hold the matching pods, ready or not, and resolve named ports", "[services]") {
  json svc = tug::api::PrepareService(Web()).value();
  json named = Web();
  named["spec"]["ports"][0]["targetPort"] = "http";
  named = tug::api::PrepareService(named).value();
  json a = PodAt("a", "10.244.0.5", true), b = PodAt("b", "10.244.1.5", false),
       other = PodAt("other", "10.244.0.6", true, {{"app", "db"}}),
       failed = PodAt("failed", "10.244.0.7", true), unplaced = PodAt("unplaced", "", false),
       lost = PodAt("lost", "10.244.2.5", true, {{"app", "web"}}, "node-c");
  failed["status"]["phase"] = "Failed";
  std::vector<const json*> pods = {&a, &b, &other, &failed, &unplaced, &lost};
  auto ready = [](const std::string& node) { return node != "node-c"; };

  auto subsets = tug::cp::ComputeEndpoints(tug::api::ReadService(svc), pods, ready);
  REQUIRE(subsets.size() == 1);
  REQUIRE(subsets[0].addresses.size() == 1);
  CHECK(subsets[0].addresses[0].ip == "10.244.0.5");
  CHECK(subsets[0].addresses[0].pod_name == "a");
  CHECK(subsets[0].addresses[0].node_name == "node-a");
  // Not ready, and on a node judged lost: not ready.
  REQUIRE(subsets[0].not_ready.size() == 2);
  CHECK(subsets[0].not_ready[0].ip == "10.244.1.5");
  CHECK(subsets[0].not_ready[1].ip == "10.244.2.5");
  REQUIRE(subsets[0].ports.size() == 1);
  CHECK(subsets[0].ports[0].port == 8080);

  auto by_name = tug::cp::ComputeEndpoints(tug::api::ReadService(named), pods, ready);
  REQUIRE(by_name.size() == 1);
  CHECK(by_name[0].ports[0].port == 8080);
  // A pod without the named port is left out.
  json unnamed = PodAt("unnamed", "10.244.0.9", true);
  unnamed["spec"]["containers"][0]["ports"][0].erase("name");
  CHECK(tug::cp::ComputeEndpoints(tug::api::ReadService(named), {&unnamed}, ready).empty());

  // A host-network pod serves on the host port its agent gave it.
  json host = PodAt("host", "192.0.2.1", true);
  host["status"]["containerStatuses"] = {
      {{"name", "main"}, {"ports", {{{"containerPort", 8080}, {"hostPort", 41234}}}}}};
  auto on_host = tug::cp::ComputeEndpoints(tug::api::ReadService(svc), {&host, &a}, ready);
  REQUIRE(on_host.size() == 2);  // different ports: different subsets
  std::set<int> ports = {on_host[0].ports[0].port, on_host[1].ports[0].port};
  CHECK(ports == std::set<int>{8080, 41234});

  // The JSON round trip is exact.
  json j = tug::api::EndpointSubsetsJson(subsets);
  CHECK(j[0]["addresses"][0]["targetRef"]["name"] == "a");
  json ep = {{"subsets", j}};
  CHECK(tug::api::EndpointSubsetsJson(tug::api::ReadEndpoints(ep)) == j);
}
