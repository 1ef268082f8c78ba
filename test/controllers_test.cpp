// The controllers against three real tugd processes and simulated agents (HTTP clients that
// register a Node, heartbeat, and report the pods bound to them Running and Ready).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "test/support/tugd_cluster.h"

using namespace std::chrono_literals;
using nlohmann::json;
using tug::net::HttpClient;
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
