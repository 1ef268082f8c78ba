// The controllers in-process against a real one-member store, with a fake clock: node
// liveness is judged by the clock the test moves, not by waiting.
#include <catch2/catch.hpp>

#include <boost/asio.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "api/resource.h"
#include "controlplane/controllers.h"
#include "controlplane/registry.h"
#include "raftstore/node.h"
#include "raftstore/watch_hub.h"

using nlohmann::json;
using namespace tug;

namespace {

struct Harness {
  boost::asio::io_context io;
  std::string dir;
  std::unique_ptr<store::RaftNode> node;
  std::unique_ptr<store::WatchHub> hub;
  std::unique_ptr<cp::Registry> registry;
  std::unique_ptr<cp::ControllerManager> controllers;
  int64_t now = 1'000'000;

  Harness() {
    char tmpl[] = "/tmp/tug-controllers-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    store::NodeOptions o;
    o.name = "cp1";
    o.data_dir = dir;
    boost::asio::ip::tcp::acceptor probe(
        io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    std::string addr = "127.0.0.1:" + std::to_string(probe.local_endpoint().port());
    probe.close();
    o.peer_addr = addr;
    o.api_addr = "127.0.0.1:1";  // not served here: only the peer port is bound
    auto members = store::ParseInitialCluster("cp1=" + addr);
    REQUIRE(members.ok());
    o.initial_cluster = members.value();
    o.heartbeat_ms = 10;
    o.election_ms = 50;
    auto n = store::RaftNode::Open(io, o);
    REQUIRE(n.ok());
    node = std::move(n).value();
    hub = std::make_unique<store::WatchHub>(node->kv());
    registry = std::make_unique<cp::Registry>(*node);
    cp::ControllerOptions co;
    co.node_grace_ms = 5000;
    co.resync_ms = 1'000'000'000;  // only what changes trigger
    co.tick_ms = 10;               // real time; liveness is judged on the fake clock
    co.now_ms = [this] { return now; };
    controllers = std::make_unique<cp::ControllerManager>(io, *node, *hub, *registry, co);
    REQUIRE(node->Start().ok());
    REQUIRE(RunUntil([&] { return node->LeaderCaughtUp(); }));
    controllers->Start();
  }
  ~Harness() {
    controllers.reset();
    bool stopped = false;
    node->Shutdown([&] { stopped = true; });
    RunUntil([&] { return stopped; });
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  // Runs the io loop until `pred` holds (a deadline, not a sleep: usually a few ms).
  bool RunUntil(const std::function<bool()>& pred) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io.run_for(std::chrono::milliseconds(5));
      if (io.stopped()) io.restart();
    }
    return true;
  }

  // A few controller rounds (ticks) and the writes they made.
  void Round() {
    io.run_for(std::chrono::milliseconds(50));
    if (io.stopped()) io.restart();
  }

  cp::Reply Call(std::function<void(cp::ReplyFn)> f) {
    std::optional<cp::Reply> out;
    f([&](cp::Reply r) { out = std::move(r); });
    REQUIRE(RunUntil([&] { return out.has_value(); }));
    return *out;
  }

  json List(const char* resource, const std::string& group = "") {
    auto r = Call([&](cp::ReplyFn done) {
      registry->List(*api::FindResource(group, resource), "", cp::ListOptions{}, done);
    });
    REQUIRE(r.ok());
    return r.body["items"];
  }
};

bool NodeReady(Harness& h, const std::string& name) {
  for (const auto& n : h.List("nodes")) {
    if (n["metadata"]["name"] != name) continue;
    for (const auto& c : n["status"]["conditions"]) {
      if (c["type"] == "Ready") return c["status"] == "True";
    }
  }
  return false;
}

}  // namespace

TEST_CASE("node liveness follows the heartbeats on the leader's clock", "[controllers]") {
  Harness h;
  json node = {{"metadata", {{"name", "n1"}}},
               {"status",
                {{"capacity", {{"cpu", "4"}, {"memory", "8Gi"}}},
                 {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}};
  REQUIRE(h.Call([&](cp::ReplyFn d) {
             h.registry->Create(*api::FindResource("", "nodes"), "", node, d);
           }).code == 201);
  json deploy = {{"metadata", {{"name", "web"}}},
                 {"spec",
                  {{"replicas", 2},
                   {"template",
                    {{"metadata", {{"labels", {{"app", "web"}}}}},
                     {"spec", {{"containers", {{{"name", "c"}, {"image", "x"}}}}}}}}}}};
  REQUIRE(h.Call([&](cp::ReplyFn d) {
             h.registry->Create(*api::FindResource("apps", "deployments"), "default", deploy, d);
           }).code == 201);

  // Active once this member leads and is caught up.
  REQUIRE(h.RunUntil([&] { return h.controllers->running(); }));
  // Two pods, both bound to n1.
  REQUIRE(h.RunUntil([&] {
    auto pods = h.List("pods");
    if (pods.size() != 2) return false;
    for (const auto& p : pods) {
      if (p["spec"].value("nodeName", "") != "n1") return false;
    }
    return true;
  }));

  // A fresh leader gives the node a full grace period, even without heartbeats.
  h.now += 4999;
  h.Round();
  CHECK(NodeReady(h, "n1"));
  // Heartbeats keep it alive past the first grace period.
  h.controllers->Heartbeat("n1");
  h.now += 4000;
  h.Round();
  CHECK(NodeReady(h, "n1"));
  // Silence for longer than the grace period: NotReady, its pods failed and replaced; the
  // replacements cannot go anywhere and say why.
  h.now += 5001;
  h.Round();
  REQUIRE(h.RunUntil([&] { return !NodeReady(h, "n1"); }));
  REQUIRE(h.RunUntil([&] {
    auto pods = h.List("pods");
    int pending = 0;
    for (const auto& p : pods) {
      if (p["spec"].value("nodeName", "").empty()) ++pending;
    }
    return pods.size() == 2 && pending == 2;
  }));
  REQUIRE(h.RunUntil([&] {
    for (const auto& p : h.List("pods")) {
      bool said = false;
      for (const auto& c : p["status"].value("conditions", json::array())) {
        if (c["type"] == "PodScheduled" && c["message"] == "0/1 nodes are available: 1 NotReady.")
          said = true;
      }
      if (!said) return false;
    }
    return true;
  }));
  bool lost_event = false;
  for (const auto& e : h.List("events"))
    lost_event |= e["reason"] == "NodeNotReady";
  CHECK(lost_event);

  // Heartbeats again: Ready, and the pending pods are placed.
  h.controllers->Heartbeat("n1");
  h.Round();
  REQUIRE(h.RunUntil([&] { return NodeReady(h, "n1"); }));
  h.Round();
  REQUIRE(h.RunUntil([&] {
    for (const auto& p : h.List("pods")) {
      if (p["spec"].value("nodeName", "") != "n1") return false;
    }
    return true;
  }));
}
