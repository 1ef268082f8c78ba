// tug-agent end to end: two real agents against a real three-member control plane run a
// deployment's pods as processes, report them, serve their logs through the API, restart a
// killed process, survive their own restart without duplicating a container, and when one
// agent goes silent its pods run on the other; when it returns it stops the pods that were
// moved away.
#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "test/support/agent_fleet.h"
#include "test/support/tugd_cluster.h"

using nlohmann::json;
using tug::net::HttpClient;
using tug::net::RequestOptions;
using tug::testing::AgentFleet;
using tug::testing::ClusterOptions;
using tug::testing::GetJson;
using tug::testing::ProcessGone;
using tug::testing::SendJson;
using tug::testing::TugdCluster;
using tug::testing::WaitFor;
using namespace std::chrono_literals;

namespace {

const std::string kDeployments = "/apis/apps/v1/namespaces/default/deployments";
const std::string kPods = "/api/v1/namespaces/default/pods";

std::string GetText(HttpClient& c, const std::string& path, int* status = nullptr) {
  RequestOptions o;
  o.timeout = 10s;
  auto r = c.Get(path, o);
  if (status) *status = r.ok() ? r->status : 0;
  return r.ok() ? r->body : "";
}

json WebDeployment(int replicas) {
  json container = {
      {"name", "web"},
      {"command",
       {"/bin/sh", "-c", "echo \"started $POD_NAME on $NODE_NAME port $PORT\"; exec sleep 100000"}},
      {"ports", {{{"name", "http"}, {"containerPort", 8080}}}},
      {"readinessProbe", {{"exec", {{"command", {"true"}}}}, {"periodSeconds", 1}}}};
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", "web"}}},
          {"spec",
           {{"replicas", replicas},
            {"selector", {{"matchLabels", {{"app", "web"}}}}},
            {"template",
             {{"metadata", {{"labels", {{"app", "web"}}}}},
              {"spec", {{"containers", {container}}, {"terminationGracePeriodSeconds", 2}}}}}}}};
}

// Running and Ready pods of app=web, by node.
std::map<std::string, std::vector<json>> ReadyByNode(HttpClient& c) {
  std::map<std::string, std::vector<json>> out;
  json pods = GetJson(c, kPods + "?labelSelector=app%3Dweb");
  if (!pods.is_object()) return out;
  for (const auto& p : pods["items"]) {
    if (p["status"].value("phase", "") != "Running") continue;
    bool ready = false;
    for (const auto& cond : p["status"].value("conditions", json::array()))
      ready = ready || (cond["type"] == "Ready" && cond["status"] == "True");
    if (ready) out[p["spec"].value("nodeName", "")].push_back(p);
  }
  return out;
}

size_t Total(const std::map<std::string, std::vector<json>>& m) {
  size_t n = 0;
  for (const auto& [k, v] : m)
    n += v.size();
  return n;
}

}  // namespace

TEST_CASE("two agents run a deployment, restart, recover, and take over for each other",
          "[agent][integration]") {
  ClusterOptions co;
  co.extra_args = {"--node-grace-ms", "3000"};
  TugdCluster c(co);
  c.StartAll();
  REQUIRE(c.WaitLeader() >= 0);
  HttpClient api(c.Apis(), c.Token());
  AgentFleet agents(c);
  const std::vector<std::string> flags = {"--heartbeat-ms", "200", "--resync-ms", "5000"};
  agents.Start("node-a", flags);
  agents.Start("node-b", flags);
  INFO(agents.Logs());
  REQUIRE(WaitFor(
      [&] {
        json nodes = GetJson(api, "/api/v1/nodes");
        return nodes.is_object() && nodes["items"].size() == 2;
      },
      30s));
  json node = GetJson(api, "/api/v1/nodes/node-a");
  CHECK(node["status"]["daemonEndpoints"]["agentAddr"].get<std::string>().rfind("127.0.0.1:", 0) ==
        0);
  CHECK(node["status"]["capacity"].contains("cpu"));
  CHECK(node["metadata"]["labels"]["kubernetes.io/hostname"] == "node-a");

  // Four replicas, two per node, Running and Ready, each with its own host port.
  REQUIRE(SendJson(api, "POST", kDeployments, WebDeployment(4)) == 201);
  bool spread = WaitFor(
      [&] {
        auto by = ReadyByNode(api);
        return by["node-a"].size() == 2 && by["node-b"].size() == 2;
      },
      60s);
  if (!spread) FAIL("pods: " << GetJson(api, kPods).dump() << "\n" << agents.Logs());
  auto by = ReadyByNode(api);
  std::set<int> host_ports;
  for (const auto& [n, pods] : by) {
    for (const auto& p : pods) {
      json cs = p["status"]["containerStatuses"][0];
      CHECK(cs["restartCount"] == 0);
      CHECK(cs["state"].contains("running"));
      CHECK(p["status"]["hostIP"] == "127.0.0.1");
      host_ports.insert(cs["ports"][0]["hostPort"].get<int>());
    }
  }
  CHECK(host_ports.size() == 4);

  // Logs through the API, served by the pod's agent.
  json pod = by["node-a"][0];
  std::string name = pod["metadata"]["name"];
  int port = pod["status"]["containerStatuses"][0]["ports"][0]["hostPort"];
  std::string want = "started " + name + " on node-a port " + std::to_string(port);
  std::string log;
  REQUIRE(WaitFor(
      [&] {
        log = GetText(api, kPods + "/" + name + "/log");
        return log.find(want) != std::string::npos;
      },
      10s));
  CHECK(GetText(api, kPods + "/" + name + "/log?tailLines=1") == want + "\n");
  int status = 0;
  GetText(api, kPods + "/no-such-pod/log", &status);
  CHECK(status == 404);
  {
    // follow=true streams: the tail first, then what the container writes (here nothing
    // more, so the stream is cut by the client once the line is seen).
    HttpClient follower(c.Apis(), c.Token());
    std::string streamed;
    auto s = follower.Stream(
        "GET", kPods + "/" + name + "/log?follow=true&tailLines=1", "",
        [&](const std::string& chunk) {
          streamed += chunk;
          return streamed.find(want) == std::string::npos;
        },
        10s);
    CHECK(s.ok());
    CHECK(streamed.find(want) != std::string::npos);
  }

  // SIGKILL one pod's process: its agent restarts it, restartCount 1, same pod.
  auto pids = agents.ContainerPids("node-a");
  REQUIRE(pids.size() == 2);
  std::string victim_key;
  for (const auto& [key, pid] : pids) {
    if (key.find(name) != std::string::npos) victim_key = key;
  }
  REQUIRE_FALSE(victim_key.empty());
  REQUIRE(::kill(pids[victim_key], SIGKILL) == 0);
  REQUIRE(WaitFor(
      [&] {
        json p = GetJson(api, kPods + "/" + name);
        return p.is_object() && p["status"]["containerStatuses"][0]["restartCount"] == 1 &&
               p["status"]["containerStatuses"][0]["state"].contains("running");
      },
      20s));
  json restarted = GetJson(api, kPods + "/" + name);
  CHECK(restarted["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 137);
  CHECK(restarted["status"]["containerStatuses"][0]["ports"][0]["hostPort"] == port);

  // The agent restarts (SIGKILL, then started again): its containers are taken over, none
  // started twice, no restart counted.
  REQUIRE(WaitFor([&] { return agents.ContainerPids("node-a").size() == 2; }, 10s));
  auto before = agents.ContainerPids("node-a");
  agents.Kill("node-a");
  agents.Start("node-a");
  REQUIRE(WaitFor(
      [&] {
        return agents.ReadLog("node-a").find("took over 2 running containers") != std::string::npos;
      },
      10s));
  std::this_thread::sleep_for(2s);  // time in which a wrong agent would have started copies
  CHECK(agents.ContainerPids("node-a") == before);
  CHECK(ReadyByNode(api)["node-a"].size() == 2);
  CHECK(GetJson(api, kPods + "/" + name)["status"]["containerStatuses"][0]["restartCount"] == 1);

  // node-b's agent dies (its containers go on, as on a machine cut off from the network):
  // after the grace period its pods are replaced on node-a.
  auto b_containers = agents.ContainerPids("node-b");
  REQUIRE(b_containers.size() == 2);
  agents.Kill("node-b");
  bool moved = WaitFor(
      [&] {
        auto now = ReadyByNode(api);
        return now["node-a"].size() == 4 && now.count("node-b") == 0;
      },
      60s);
  if (!moved) FAIL("pods: " << GetJson(api, kPods).dump() << "\n" << agents.Logs());
  for (const auto& [key, pid] : b_containers)
    CHECK(!ProcessGone(pid));  // still running: nobody told them otherwise

  // node-b returns: the pods it ran are no longer bound to it, so it stops them.
  agents.Start("node-b");
  bool stopped = WaitFor([&] { return agents.ContainerPids("node-b").empty(); }, 30s);
  if (!stopped) FAIL(agents.Logs());
  // The shim goes first, its container's process a moment later.
  bool gone = WaitFor(
      [&] {
        for (const auto& [key, pid] : b_containers)
          if (!ProcessGone(pid)) return false;
        return true;
      },
      10s);
  CHECK(gone);
  CHECK(Total(ReadyByNode(api)) == 4);

  // The whole control plane goes away: the agents keep their pods running and keep trying;
  // when it is back they carry on, nothing restarted.
  auto running_a = agents.ContainerPids("node-a");
  for (int i = 0; i < c.size(); ++i)
    c.Kill(i);
  std::this_thread::sleep_for(3s);
  CHECK(agents.ContainerPids("node-a") == running_a);
  c.StartAll();
  REQUIRE(c.WaitLeader() >= 0);
  REQUIRE(WaitFor([&] { return Total(ReadyByNode(api)) == 4; }, 30s));
  std::this_thread::sleep_for(4s);  // past the new leader's grace period for the nodes
  CHECK(Total(ReadyByNode(api)) == 4);
  CHECK(agents.ContainerPids("node-a") == running_a);

  // Deleting the deployment stops everything.
  REQUIRE(SendJson(api, "DELETE", kDeployments + "/web", nullptr) == 200);
  REQUIRE(WaitFor(
      [&] {
        return agents.ContainerPids("node-a").empty() && agents.ContainerPids("node-b").empty();
      },
      30s));
}

TEST_CASE("a pod whose image no runtime can run fails with the reason, without a replace storm",
          "[agent][integration]") {
  TugdCluster c;
  c.StartAll();
  REQUIRE(c.WaitLeader() >= 0);
  HttpClient api(c.Apis(), c.Token());
  AgentFleet agents(c);
  // A node without runc (only the process runtime): nothing there can run an image.
  agents.Start("node-a", {"--heartbeat-ms", "200", "--runtimes", "process"});
  REQUIRE(WaitFor(
      [&] {
        json nodes = GetJson(api, "/api/v1/nodes");
        return nodes.is_object() && nodes["items"].size() == 1;
      },
      30s));
  // The seed's short form: one container with only an image.
  json db = {{"apiVersion", "apps/v1"},
             {"kind", "Deployment"},
             {"spec", {{"name", "database"}, {"replicas", 1}, {"image", "postgres:16"}}}};
  REQUIRE(SendJson(api, "POST", kDeployments, db) == 201);
  json failed;
  REQUIRE(WaitFor(
      [&] {
        json pods = GetJson(api, kPods + "?labelSelector=app%3Ddatabase");
        if (!pods.is_object()) return false;
        for (const auto& p : pods["items"]) {
          if (p["status"].value("phase", "") == "Failed") failed = p;
        }
        return failed.is_object();
      },
      30s));
  CHECK(failed["status"]["reason"] == "UnsupportedImage");
  std::string message = failed["status"]["message"];
  CHECK(message.find("postgres:16") != std::string::npos);
  CHECK(message.find("no runtime on this node can run image") != std::string::npos);
  // Replacements back off: over 4 s, a handful of pods, not hundreds.
  std::this_thread::sleep_for(4s);
  json events = GetJson(api, "/api/v1/namespaces/default/events");
  int creates = 0;
  for (const auto& e : events["items"]) {
    if (e["reason"] == "SuccessfulCreate") ++creates;
  }
  INFO(events.dump());
  CHECK(creates >= 2);
  CHECK(creates <= 5);
  // The failed pod is there to be read while its replacement waits.
  json pods = GetJson(api, kPods + "?labelSelector=app%3Ddatabase");
  bool any_failed = false;
  for (const auto& p : pods["items"])
    any_failed = any_failed || p["status"].value("phase", "") == "Failed";
  CHECK(any_failed);
}
