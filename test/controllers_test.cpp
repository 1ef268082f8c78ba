// The controllers against three real tugd processes and simulated agents (HTTP clients that
// register a Node, heartbeat, and report the pods bound to them Running and Ready).
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "test/support/tugd_cluster.h"

using namespace std::chrono_literals;
using nlohmann::json;
using tug::net::HttpClient;
using tug::testing::B64;
using tug::testing::ClusterOptions;
using tug::testing::GetJson;
using tug::testing::SendJson;
using tug::testing::TugdCluster;
using tug::testing::WaitFor;

namespace {

const std::string kDeployments = "/apis/apps/v1/namespaces/default/deployments";
const std::string kPods = "/api/v1/namespaces/default/pods";

// A worker that does what tug-agent will: registers, heartbeats, and reports the pods bound to
// it as Running and Ready. Stops (goes silent) when told.
class FakeAgent {
 public:
  FakeAgent(const TugdCluster& c, std::string name, std::string cpu = "4")
      : c_(c), name_(std::move(name)), cpu_(std::move(cpu)) {}
  ~FakeAgent() { Stop(); }

  void Start() {
    stop_ = false;
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  const std::string& name() const { return name_; }

 private:
  void Run() {
    HttpClient c(c_.Apis(), c_.Token());
    json node = {{"apiVersion", "v1"},
                 {"kind", "Node"},
                 {"metadata", {{"name", name_}, {"labels", {{"agent", name_}}}}},
                 {"status",
                  {{"capacity", {{"cpu", cpu_}, {"memory", "8Gi"}}},
                   {"addresses", {{{"type", "InternalIP"}, {"address", "127.0.0.1"}}}},
                   {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}};
    while (!stop_ && SendJson(c, "POST", "/api/v1/nodes", node) != 201) {
      if (SendJson(c, "GET", "/api/v1/nodes/" + name_, nullptr) == 200) break;  // restarted
      std::this_thread::sleep_for(100ms);
    }
    while (!stop_) {
      SendJson(c, "POST", "/api/v1/nodes/" + name_ + "/heartbeat", json::object());
      json pods = GetJson(c, kPods + "?fieldSelector=spec.nodeName%3D" + name_);
      if (pods.is_object()) {
        for (auto p : pods["items"]) {
          std::string phase = p["status"].value("phase", "");
          if (phase == "Running" || phase == "Failed" || phase == "Succeeded") continue;
          p["status"]["phase"] = "Running";
          p["status"]["hostIP"] = "127.0.0.1";
          // An address of its own, as a pod with the pod network has.
          p["status"]["podIP"] =
              "10.250." + std::to_string(next_ip_ / 250) + "." + std::to_string(next_ip_ % 250 + 1);
          ++next_ip_;
          p["status"]["conditions"] = {{{"type", "Ready"}, {"status", "True"}}};
          SendJson(c, "PUT", kPods + "/" + p["metadata"]["name"].get<std::string>() + "/status", p);
        }
      }
      std::this_thread::sleep_for(200ms);
    }
  }

  const TugdCluster& c_;
  std::string name_, cpu_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  int next_ip_ = 0;
};

json Deployment(const std::string& name, int replicas, const std::string& cpu = "100m") {
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"replicas", replicas},
            {"selector", {{"matchLabels", {{"app", name}}}}},
            {"template",
             {{"metadata", {{"labels", {{"app", name}}}}},
              {"spec",
               {{"containers",
                 {{{"name", "main"},
                   {"command", {"/bin/web"}},
                   {"resources", {{"requests", {{"cpu", cpu}, {"memory", "64Mi"}}}}}}}}}}}}}}};
}

// Live pods of `app` by node ("" for unscheduled), counting only Running ones if asked.
std::map<std::string, int> PodsByNode(HttpClient& c, const std::string& app, bool running_only) {
  std::map<std::string, int> out;
  json pods = GetJson(c, kPods + "?labelSelector=app%3D" + app);
  if (!pods.is_object()) return out;
  for (const auto& p : pods["items"]) {
    std::string phase = p["status"].value("phase", "");
    if (phase == "Failed" || phase == "Succeeded") continue;
    if (running_only && phase != "Running") continue;
    ++out[p["spec"].value("nodeName", "")];
  }
  return out;
}

int Total(const std::map<std::string, int>& m) {
  int n = 0;
  for (const auto& [k, v] : m)
    n += v;
  return n;
}

bool HasEvent(HttpClient& c, const std::string& reason, const std::string& name_part) {
  json evs = GetJson(c, "/api/v1/events?fieldSelector=reason%3D" + reason);
  if (!evs.is_object()) return false;
  for (const auto& e : evs["items"]) {
    if (e["involvedObject"].value("name", "").find(name_part) != std::string::npos ||
        e.value("message", "").find(name_part) != std::string::npos)
      return true;
  }
  return false;
}

}  // namespace

TEST_CASE("a deployment's replicas are placed on healthy nodes and replaced when a node dies",
          "[controllers][cluster]") {
  ClusterOptions o;
  o.extra_args = {"--node-grace-ms", "2000"};
  TugdCluster c(o);
  c.StartAll();
  REQUIRE(c.WaitLeader() >= 0);
  HttpClient api(c.Apis(), c.Token());
  FakeAgent a(c, "node-a"), b(c, "node-b"), z(c, "node-z");
  a.Start();
  b.Start();
  z.Start();
  REQUIRE(WaitFor([&] { return GetJson(api, "/api/v1/nodes")["items"].size() == 3; }, 20s));

  REQUIRE(SendJson(api, "POST", kDeployments, Deployment("web", 6)) == 201);
  // Six replicas Running, spread two per node, and the status says so.
  if (!WaitFor(
          [&] {
            return PodsByNode(api, "web", true).size() == 3 &&
                   Total(PodsByNode(api, "web", true)) == 6;
          },
          30s)) {
    FAIL("pods: " << GetJson(api, kPods).dump()
                  << "\nnodes: " << GetJson(api, "/api/v1/nodes").dump());
  }
  CHECK(PodsByNode(api, "web", true) ==
        std::map<std::string, int>{{"node-a", 2}, {"node-b", 2}, {"node-z", 2}});
  REQUIRE(WaitFor(
      [&] {
        json d = GetJson(api, kDeployments + "/web");
        return d.is_object() && d["status"].value("readyReplicas", 0) == 6 &&
               d["status"].value("replicas", 0) == 6 &&
               d["status"].value("observedGeneration", 0) == 1;
      },
      20s));
  json pod = GetJson(api, kPods + "?labelSelector=app%3Dweb")["items"][0];
  std::string pod_name = pod["metadata"]["name"];
  CHECK(pod_name.rfind(
            "web-" + pod["metadata"]["labels"]["pod-template-hash"].get<std::string>() + "-", 0) ==
        0);
  CHECK(pod["metadata"]["ownerReferences"][0]["kind"] == "Deployment");
  CHECK(HasEvent(api, "Scheduled", pod_name));
  CHECK(HasEvent(api, "SuccessfulCreate", "web"));

  // node-z goes silent: NotReady within the grace period, its pods failed and replaced on
  // the two others.
  auto silenced = std::chrono::steady_clock::now();
  z.Stop();
  REQUIRE(WaitFor(
      [&] {
        auto by = PodsByNode(api, "web", true);
        return by.count("node-z") == 0 && Total(by) == 6;
      },
      30s));
  auto took = std::chrono::steady_clock::now() - silenced;
  INFO("replaced after " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                         << " ms");
  CHECK(took < 2000ms + 10s);
  json z_node = GetJson(api, "/api/v1/nodes/node-z");
  bool ready = true;
  for (const auto& cond : z_node["status"]["conditions"]) {
    if (cond["type"] == "Ready") ready = cond["status"] == "True";
  }
  CHECK_FALSE(ready);
  CHECK(HasEvent(api, "NodeNotReady", "node-z"));
  json lost = GetJson(api, kPods + "?fieldSelector=status.phase%3DFailed");
  // The lost pods were failed with NodeLost (and then removed by their deployment).
  CHECK(GetJson(api, kPods + "?fieldSelector=spec.nodeName%3Dnode-z")["items"].size() == 0);

  // Scale down: the controller deletes down to the new count; status follows.
  REQUIRE(SendJson(api, "PATCH", kDeployments + "/web/scale", json{{"spec", {{"replicas", 2}}}},
                   "application/merge-patch+json") == 200);
  REQUIRE(WaitFor([&] { return Total(PodsByNode(api, "web", false)) == 2; }, 20s));
  REQUIRE(WaitFor(
      [&] {
        json d = GetJson(api, kDeployments + "/web");
        return d["status"].value("replicas", -1) == 2 &&
               d["status"].value("observedGeneration", 0) == 2;
      },
      20s));

  // node-z comes back: Ready again, and the pods that moved away stay away.
  z.Start();
  REQUIRE(WaitFor(
      [&] {
        json n = GetJson(api, "/api/v1/nodes/node-z");
        for (const auto& cond : n["status"]["conditions"]) {
          if (cond["type"] == "Ready") return cond["status"] == "True";
        }
        return false;
      },
      20s));
  CHECK(PodsByNode(api, "web", false).count("node-z") == 0);

  // Deleting the deployment deletes its pods.
  REQUIRE(SendJson(api, "DELETE", kDeployments + "/web", nullptr) == 200);
  REQUIRE(WaitFor([&] { return Total(PodsByNode(api, "web", false)) == 0; }, 20s));
}

TEST_CASE("a pod that fits nowhere stays Pending and says why, node by node",
          "[controllers][cluster]") {
  TugdCluster c;
  c.StartAll();
  REQUIRE(c.WaitLeader() >= 0);
  HttpClient api(c.Apis(), c.Token());
  FakeAgent a(c, "node-a", "1"), b(c, "node-b", "1");
  a.Start();
  b.Start();
  REQUIRE(WaitFor([&] { return GetJson(api, "/api/v1/nodes")["items"].size() == 2; }, 20s));
  REQUIRE(SendJson(api, "POST", kDeployments, Deployment("huge", 1, "3")) == 201);
  std::string message;
  REQUIRE(WaitFor(
      [&] {
        json pods = GetJson(api, kPods + "?labelSelector=app%3Dhuge");
        if (!pods.is_object() || pods["items"].empty()) return false;
        for (const auto& cond : pods["items"][0]["status"].value("conditions", json::array())) {
          if (cond["type"] == "PodScheduled" && cond["status"] == "False") {
            message = cond["message"];
            return true;
          }
        }
        return false;
      },
      20s));
  CHECK(message == "0/2 nodes are available: 2 Insufficient cpu.");
  CHECK(HasEvent(api, "FailedScheduling", "huge"));
  json pod = GetJson(api, kPods + "?labelSelector=app%3Dhuge")["items"][0];
  CHECK(pod["status"]["phase"] == "Pending");
  CHECK(pod["spec"].value("nodeName", "") == "");

  // A bigger node arrives: the pod is retried and placed there.
  FakeAgent big(c, "node-big", "8");
  big.Start();
  REQUIRE(WaitFor([&] { return PodsByNode(api, "huge", true).count("node-big") == 1; }, 20s));
}

TEST_CASE("a new leader takes over the controllers and gives every node a fresh grace period",
          "[controllers][cluster]") {
  ClusterOptions o;
  o.extra_args = {"--node-grace-ms", "3000"};
  TugdCluster c(o);
  c.StartAll();
  int leader = c.WaitLeader();
  REQUIRE(leader >= 0);
  HttpClient api(c.Apis(), c.Token());
  FakeAgent a(c, "node-a"), b(c, "node-b");
  a.Start();
  b.Start();
  REQUIRE(WaitFor([&] { return GetJson(api, "/api/v1/nodes")["items"].size() == 2; }, 20s));
  REQUIRE(SendJson(api, "POST", kDeployments, Deployment("web", 4)) == 201);
  REQUIRE(WaitFor([&] { return Total(PodsByNode(api, "web", true)) == 4; }, 30s));

  c.Kill(leader);
  REQUIRE(c.WaitLeader() >= 0);
  // The new leader scales as asked, and does not declare the healthy nodes dead.
  REQUIRE(SendJson(api, "PATCH", kDeployments + "/web", json{{"spec", {{"replicas", 6}}}},
                   "application/merge-patch+json") == 200);
  REQUIRE(WaitFor([&] { return Total(PodsByNode(api, "web", true)) == 6; }, 30s));
  for (const std::string n : {"node-a", "node-b"}) {
    json node = GetJson(api, "/api/v1/nodes/" + n);
    for (const auto& cond : node["status"]["conditions"]) {
      if (cond["type"] == "Ready") CHECK(cond["status"] == "True");
    }
  }
  CHECK(GetJson(api, kPods + "?fieldSelector=status.phase%3DFailed")["items"].empty());
}

namespace {

const std::string kServices = "/api/v1/namespaces/default/services";

json Service(const std::string& name, const std::string& app,
             const std::string& type = "ClusterIP") {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"type", type},
            {"selector", {{"app", app}}},
            {"ports", {{{"port", 80}, {"targetPort", 8080}}}}}}};
}

// The ready and not-ready addresses of a Service's Endpoints, by IP, with their nodes.
struct Addresses {
  std::map<std::string, std::string> ready, not_ready;  // ip -> node
};
std::optional<Addresses> EndpointsOf(HttpClient& c, const std::string& name) {
  json ep = GetJson(c, "/api/v1/namespaces/default/endpoints/" + name);
  if (!ep.is_object()) return std::nullopt;
  Addresses a;
  for (const auto& sub : ep.value("subsets", json::array())) {
    for (const auto& x : sub.value("addresses", json::array()))
      a.ready[x["ip"]] = x.value("nodeName", "");
    for (const auto& x : sub.value("notReadyAddresses", json::array()))
      a.not_ready[x["ip"]] = x.value("nodeName", "");
  }
  return a;
}

// How many allocation keys (cluster IPs and node ports held) the store has.
int64_t Allocations(HttpClient& c) {
  std::string prefix = "/registry/allocations/";
  std::string end = prefix;
  end.back() = static_cast<char>(end.back() + 1);
  auto r = c.Post("/v3/kv/range",
                  json{{"key", B64(prefix)}, {"range_end", B64(end)}, {"count_only", true}}.dump());
  if (!r.ok() || r->status != 200) return -1;
  json j = json::parse(r->body, nullptr, false);
  return j.is_object() ? std::stoll(j.value("count", "0")) : -1;
}

}  // namespace

TEST_CASE("every node gets a pod range of its own, free again once the node is deleted",
          "[controllers][cluster][services]") {
  TugdCluster c;
  c.StartAll();
  REQUIRE(c.WaitLeader() >= 0);
  HttpClient api(c.Apis(), c.Token());
  FakeAgent a(c, "node-a"), b(c, "node-b"), d(c, "node-c");
  a.Start();
  b.Start();
  d.Start();
  std::map<std::string, std::string> ranges;
  REQUIRE(WaitFor(
      [&] {
        ranges.clear();
        json nodes = GetJson(api, "/api/v1/nodes");
        if (!nodes.is_object()) return false;
        for (const auto& n : nodes["items"]) {
          std::string cidr = n["spec"].value("podCIDR", "");
          if (cidr.empty()) return false;
          CHECK(n["spec"]["podCIDRs"] == json::array({cidr}));
          ranges[n["metadata"]["name"]] = cidr;
        }
        return ranges.size() == 3;
      },
      15s));
  std::set<std::string> distinct;
  for (const auto& [node, cidr] : ranges) {
    INFO(node << " " << cidr);
    CHECK(cidr.rfind("10.244.", 0) == 0);
    CHECK(cidr.size() > 3);
    CHECK(cidr.substr(cidr.size() - 3) == "/24");
    distinct.insert(cidr);
  }
  CHECK(distinct.size() == 3);
  CHECK(HasEvent(api, "CIDRAssignmentSucceeded", "node-b"));

  // node-b goes away for good: its range is free, and the next node gets it.
  b.Stop();
  REQUIRE(SendJson(api, "DELETE", "/api/v1/nodes/node-b", nullptr) == 200);
  FakeAgent e(c, "node-e");
  e.Start();
  std::string got;
  REQUIRE(WaitFor(
      [&] {
        json n = GetJson(api, "/api/v1/nodes/node-e");
        got = n.is_object() ? n["spec"].value("podCIDR", "") : "";
        return !got.empty();
      },
      15s));
  CHECK(got == ranges["node-b"]);
}

TEST_CASE("a Service's Endpoints follow its pods, and a lost node's pods leave them at once",
          "[controllers][cluster][services]") {
  ClusterOptions o;
  o.extra_args = {"--node-grace-ms", "2000"};
  TugdCluster c(o);
  c.StartAll();
  REQUIRE(c.WaitLeader() >= 0);
  HttpClient api(c.Apis(), c.Token());
  FakeAgent a(c, "node-a"), b(c, "node-b");
  a.Start();
  b.Start();
  // Replicas only on node-a (a node selector): when node-a is lost, no replacement can start,
  // so addresses that go away went because the node was judged lost.
  json d = Deployment("web", 3);
  d["spec"]["template"]["spec"]["nodeSelector"] = {{"agent", "node-a"}};
  REQUIRE(SendJson(api, "POST", kDeployments, d) == 201);
  REQUIRE(SendJson(api, "POST", kDeployments, Deployment("db", 1)) == 201);
  REQUIRE(SendJson(api, "POST", kServices, Service("web", "web")) == 201);
  REQUIRE(SendJson(api, "POST", kServices, Service("db", "db")) == 201);
  std::optional<Addresses> web;
  REQUIRE(WaitFor(
      [&] {
        web = EndpointsOf(api, "web");
        return web && web->ready.size() == 3 && web->not_ready.empty();
      },
      20s));
  for (const auto& [ip, node] : web->ready)
    CHECK(node == "node-a");
  json ep = GetJson(api, "/api/v1/namespaces/default/endpoints/web");
  CHECK(ep["subsets"][0]["ports"] == json::parse(R"([{"port":8080,"protocol":"TCP"}])"));
  CHECK(ep["subsets"][0]["addresses"][0]["targetRef"]["kind"] == "Pod");
  REQUIRE(WaitFor(
      [&] { return EndpointsOf(api, "db") && EndpointsOf(api, "db")->ready.size() == 1; }, 20s));

  // Scale to 0: no addresses; back to 2: two.
  REQUIRE(SendJson(api, "PATCH", kDeployments + "/web", {{"spec", {{"replicas", 0}}}},
                   "application/merge-patch+json") == 200);
  REQUIRE(WaitFor(
      [&] {
        auto e = EndpointsOf(api, "web");
        return e && e->ready.empty() && e->not_ready.empty();
      },
      20s));
  REQUIRE(SendJson(api, "PATCH", kDeployments + "/web", {{"spec", {{"replicas", 2}}}},
                   "application/merge-patch+json") == 200);
  REQUIRE(WaitFor(
      [&] { return EndpointsOf(api, "web") && EndpointsOf(api, "web")->ready.size() == 2; }, 20s));

  // node-a goes silent: once it is judged lost its pods leave `addresses`.
  a.Stop();
  REQUIRE(WaitFor(
      [&] {
        auto e = EndpointsOf(api, "web");
        return e && e->ready.empty();
      },
      15s));
  // The other Service, whose pod is on node-b or node-a, keeps only live addresses.
  auto db = EndpointsOf(api, "db");
  REQUIRE(db);
  for (const auto& [ip, node] : db->ready)
    CHECK(node == "node-b");

  // Deleting a Service deletes its Endpoints, and what it held.
  int64_t held = Allocations(api);
  CHECK(held == 2);
  REQUIRE(SendJson(api, "DELETE", kServices + "/web", nullptr) == 200);
  REQUIRE(WaitFor(
      [&] {
        return SendJson(api, "GET", "/api/v1/namespaces/default/endpoints/web", nullptr) == 404;
      },
      10s));
  CHECK(Allocations(api) == 1);
}

TEST_CASE("cluster IPs stay unique under concurrent creates through every member and a failover",
          "[controllers][cluster][services]") {
  TugdCluster c;
  c.StartAll();
  int leader = c.WaitLeader();
  REQUIRE(leader >= 0);
  constexpr int kThreads = 4, kEach = 15;
  std::atomic<int> created{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Each thread talks to one member first (followers forward to the leader).
      std::vector<std::string> servers = c.Apis();
      std::rotate(servers.begin(), servers.begin() + t % servers.size(), servers.end());
      HttpClient client(servers, c.Token());
      for (int i = 0; i < kEach; ++i) {
        json s = Service("s" + std::to_string(t) + "-" + std::to_string(i), "x",
                         i % 2 ? "NodePort" : "ClusterIP");
        auto deadline = std::chrono::steady_clock::now() + 20s;
        while (std::chrono::steady_clock::now() < deadline) {
          int code = SendJson(client, "POST", kServices, s);
          if (code == 201 || code == 409) {  // 409: an earlier try that timed out had won
            ++created;
            break;
          }
          std::this_thread::sleep_for(100ms);
        }
      }
    });
  }
  // The leader dies while the creates run.
  HttpClient api(c.Apis(), c.Token());
  REQUIRE(WaitFor([&] { return created >= 10; }, 30s));
  c.Kill(leader);
  for (auto& t : threads)
    t.join();
  CHECK(created == kThreads * kEach);
  REQUIRE(c.WaitLeader() >= 0);
  json list = GetJson(api, kServices);
  REQUIRE(list.is_object());
  std::set<std::string> ips;
  std::set<int> ports;
  int node_ports = 0;
  for (const auto& s : list["items"]) {
    std::string ip = s["spec"].value("clusterIP", "");
    CHECK(ip.rfind("10.96.", 0) == 0);
    ips.insert(ip);
    if (s["spec"]["type"] == "NodePort") {
      int port = s["spec"]["ports"][0].value("nodePort", 0);
      CHECK(port >= 30000);
      CHECK(port <= 32767);
      ports.insert(port);
      ++node_ports;
    }
  }
  CHECK(list["items"].size() == kThreads * kEach);
  CHECK(ips.size() == list["items"].size());
  CHECK(static_cast<int>(ports.size()) == node_ports);
  // Exactly what the Services hold is held: nothing leaked by the failed attempts.
  CHECK(Allocations(api) == static_cast<int64_t>(ips.size() + ports.size()));
}

TEST_CASE("the API refuses cluster IPs and node ports that are taken, and runs out with a 500",
          "[controllers][cluster][services]") {
  ClusterOptions o;
  o.extra_args = {"--service-cidr", "10.96.0.0/30", "--run-controllers", "false"};
  TugdCluster c(o);
  c.StartAll();
  REQUIRE(c.WaitLeader() >= 0);
  HttpClient api(c.Apis(), c.Token());
  auto post = [&](const json& body, json* answer) {
    auto r = api.Post(kServices, body.dump());
    REQUIRE(r.ok());
    *answer = json::parse(r->body, nullptr, false);
    return r->status;
  };
  json a, b, full, taken, port_taken;
  json first = Service("first", "web", "NodePort");
  first["spec"]["ports"][0]["nodePort"] = 30080;
  REQUIRE(post(first, &a) == 201);
  CHECK(a["spec"]["ports"][0]["nodePort"] == 30080);
  REQUIRE(post(Service("second", "web"), &b) == 201);
  CHECK(a["spec"]["clusterIP"] != b["spec"]["clusterIP"]);
  // A /30 has two usable addresses.
  CHECK(post(Service("third", "web"), &full) == 500);
  CHECK(full["reason"] == "InternalError");
  CHECK(full["message"] ==
        "Internal error occurred: failed to allocate a serviceIP: range is full");
  json same_ip = Service("third", "web");
  same_ip["spec"]["clusterIP"] = a["spec"]["clusterIP"];
  CHECK(post(same_ip, &taken) == 422);
  CHECK(taken["reason"] == "Invalid");
  CHECK(taken["message"] ==
        "Service \"third\" is invalid: spec.clusterIPs: Invalid value: [\"" +
            a["spec"]["clusterIP"].get<std::string>() + "\"]: failed to allocate IP " +
            a["spec"]["clusterIP"].get<std::string>() + ": provided IP is already allocated");
  CHECK(taken["details"]["causes"][0]["field"] == "spec.clusterIPs");
  // With an address free again, the taken node port is what is refused.
  REQUIRE(SendJson(api, "DELETE", kServices + "/second", nullptr) == 200);
  json same_port = Service("third", "web", "NodePort");
  same_port["spec"]["ports"][0]["nodePort"] = 30080;
  CHECK(post(same_port, &port_taken) == 422);
  CHECK(port_taken["message"] ==
        "Service \"third\" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided "
        "port is already allocated");
  // Deleting one frees its address and port for the next.
  REQUIRE(SendJson(api, "DELETE", kServices + "/first", nullptr) == 200);
  json reused;
  same_port["spec"]["clusterIP"] = a["spec"]["clusterIP"];
  REQUIRE(post(same_port, &reused) == 201);
  CHECK(reused["spec"]["clusterIP"] == a["spec"]["clusterIP"]);
  CHECK(reused["spec"]["ports"][0]["nodePort"] == 30080);
  // An update without the cluster IP (as kubectl apply sends it) keeps it; a change is refused.
  json put = reused;
  put["spec"].erase("clusterIP");
  put["spec"].erase("clusterIPs");
  put["spec"]["ports"][0].erase("nodePort");
  auto kept = api.Do("PUT", kServices + "/third", put.dump());
  REQUIRE(kept.ok());
  REQUIRE(kept->status == 200);
  json k = json::parse(kept->body);
  CHECK(k["spec"]["clusterIP"] == reused["spec"]["clusterIP"]);
  CHECK(k["spec"]["ports"][0]["nodePort"] == 30080);
  json moved = k;
  moved["spec"]["clusterIP"] = b["spec"]["clusterIP"];
  auto refused = api.Do("PUT", kServices + "/third", moved.dump());
  REQUIRE(refused.ok());
  CHECK(refused->status == 422);
  CHECK(Allocations(api) == 2);  // third's address and node port
}
