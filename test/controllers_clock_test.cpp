// The controllers in-process over the in-memory store (raftstore/memory_store.h: no port, no
// process, no Raft), with a fake clock: node liveness is judged by the clock the test moves,
// not by waiting. controllers_test.cpp runs them on a real three-member cluster.
#include <catch2/catch.hpp>

#include <boost/asio.hpp>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>

#include "api/resource.h"
#include "base/clock.h"
#include "controlplane/controllers/manager.h"
#include "controlplane/registry.h"
#include "raftstore/memory_store.h"
#include "raftstore/watch_hub.h"

using nlohmann::json;
using namespace tug;

namespace {

struct Harness {
  boost::asio::io_context io;
  store::MemoryStore store{io};
  store::WatchHub hub{store.kv()};
  cp::Registry registry_impl{store};
  cp::Registry* registry = &registry_impl;
  std::unique_ptr<cp::ControllerManager> controllers;
  FakeClock clock;

  Harness() {
    cp::ControllerOptions co;
    co.node_grace_ms = 5000;
    co.resync_ms = 1'000'000'000;  // only what changes trigger
    co.tick_ms = 10;               // real time; liveness is judged on the fake clock
    co.clock = &clock;
    controllers = std::make_unique<cp::ControllerManager>(io, store, hub, registry_impl, co);
    controllers->Start();
  }
  ~Harness() { controllers.reset(); }

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
  h.clock.Advance(std::chrono::milliseconds(4999));
  h.Round();
  CHECK(NodeReady(h, "n1"));
  // Heartbeats keep it alive past the first grace period.
  h.controllers->Heartbeat("n1");
  h.clock.Advance(std::chrono::milliseconds(4000));
  h.Round();
  CHECK(NodeReady(h, "n1"));
  // Silence for longer than the grace period: NotReady, its pods failed and replaced; the
  // replacements cannot go anywhere and say why.
  h.clock.Advance(std::chrono::milliseconds(5001));
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

TEST_CASE("controllers stop when the store loses leadership and start again in a new term",
          "[controllers]") {
  Harness h;
  REQUIRE(h.RunUntil([&] { return h.controllers->running(); }));
  CHECK(h.controllers->watching());
  h.store.SetLeader(false);
  REQUIRE(h.RunUntil([&] { return !h.controllers->running(); }));
  CHECK(!h.controllers->watching());

  // A new term: the controllers start again (a fresh cache from the store) and reconcile.
  h.store.SetLeader(true);
  REQUIRE(h.store.term() == 2);
  json deploy = {{"metadata", {{"name", "web"}}},
                 {"spec",
                  {{"replicas", 1},
                   {"template",
                    {{"metadata", {{"labels", {{"app", "web"}}}}},
                     {"spec", {{"containers", {{{"name", "c"}, {"image", "x"}}}}}}}}}}};
  REQUIRE(h.Call([&](cp::ReplyFn d) {
             h.registry->Create(*api::FindResource("apps", "deployments"), "default", deploy, d);
           }).code == 201);
  REQUIRE(h.RunUntil([&] { return h.controllers->running(); }));
  REQUIRE(h.RunUntil([&] { return h.List("pods").size() == 1; }));
}
