// The controllers' decisions as pure functions: what a Deployment needs done, its status,
// scheduling inputs, and node liveness.
#include <catch2/catch.hpp>

#include <set>

#include "controlplane/reconcile.h"

using nlohmann::json;
using namespace tug::cp;

namespace {

json Deployment(int replicas, const std::string& image = "web:1") {
  json d = json::parse(R"({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default", "uid": "uid-web", "generation": 3},
    "spec": {"selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "main"}]}}},
    "status": {}})");
  d["spec"]["replicas"] = replicas;
  d["spec"]["template"]["spec"]["containers"][0]["image"] = image;
  return d;
}

// A pod of `d` as the controller would have made it, in the given state.
json PodOf(const json& d, const std::string& suffix, const std::string& node, bool ready,
           const std::string& phase = "Running",
           const std::string& created = "2026-01-01T00:00:00Z") {
  json p = PodForDeployment(d, suffix);
  p["metadata"]["creationTimestamp"] = created;
  p["metadata"]["resourceVersion"] = "7";
  if (!node.empty()) p["spec"]["nodeName"] = node;
  p["status"] = {{"phase", phase},
                 {"conditions", {{{"type", "Ready"}, {"status", ready ? "True" : "False"}}}}};
  return p;
}

std::set<std::string> Names(const std::vector<json>& pods) {
  std::set<std::string> out;
  for (const auto& p : pods)
    out.insert(p["metadata"]["name"].get<std::string>());
  return out;
}

}  // namespace

TEST_CASE("pods made from a template are named, labeled and owned as Kubernetes does",
          "[reconcile]") {
  json d = Deployment(3);
  json p = PodForDeployment(d, "x7k2p");
  std::string hash = TemplateHash(d["spec"]["template"]);
  CHECK(p["metadata"]["name"] == "web-" + hash + "-x7k2p");
  CHECK(p["metadata"]["labels"]["app"] == "web");
  CHECK(p["metadata"]["labels"]["pod-template-hash"] == hash);
  CHECK(p["metadata"]["ownerReferences"][0]["uid"] == "uid-web");
  CHECK(p["metadata"]["ownerReferences"][0]["controller"] == true);
  CHECK(PodOwner(p) == "uid-web");
  CHECK(p["spec"] == d["spec"]["template"]["spec"]);
  // The hash is stable and follows the template.
  CHECK(TemplateHash(Deployment(5)["spec"]["template"]) == hash);
  CHECK(TemplateHash(Deployment(3, "web:2")["spec"]["template"]) != hash);
  for (char c : hash)
    CHECK(std::string("bcdfghjklmnpqrstvwxz2456789").find(c) != std::string::npos);
  // Long names are cut to fit a DNS label.
  json long_name = d;
  long_name["metadata"]["name"] = std::string(63, 'a');
  CHECK(PodForDeployment(long_name, "x7k2p")["metadata"]["name"].get<std::string>().size() <= 63);
}

TEST_CASE("a deployment creates what is missing and reports what it has", "[reconcile]") {
  json d = Deployment(3);
  auto plan = ReconcileDeployment(d, {});
  CHECK(plan.create == 3);
  CHECK(plan.remove.empty());
  CHECK(plan.status["replicas"] == 0);
  CHECK(plan.status["observedGeneration"] == 3);

  std::vector<json> pods = {PodOf(d, "a", "n1", true), PodOf(d, "b", "n2", false),
                            PodOf(d, "c", "", false, "Pending")};
  plan = ReconcileDeployment(d, pods);
  CHECK(plan.create == 0);
  CHECK(plan.remove.empty());
  CHECK(plan.status["replicas"] == 3);
  CHECK(plan.status["readyReplicas"] == 1);
  CHECK(plan.status["availableReplicas"] == 1);
  CHECK(plan.status["updatedReplicas"] == 3);
  CHECK(plan.status["unavailableReplicas"] == 2);
}

TEST_CASE("failed pods are removed and replaced", "[reconcile]") {
  json d = Deployment(2);
  std::vector<json> pods = {PodOf(d, "a", "n1", true), PodOf(d, "lost", "n2", false, "Failed")};
  auto plan = ReconcileDeployment(d, pods);
  CHECK(plan.create == 1);
  CHECK(Names(plan.remove) == std::set<std::string>{pods[1]["metadata"]["name"]});
  CHECK(plan.status["replicas"] == 1);
}

TEST_CASE("scaling down removes unscheduled pods, then not ready ones, then the newest",
          "[reconcile]") {
  json d = Deployment(5);
  std::vector<json> pods = {
      PodOf(d, "old-ready", "n1", true, "Running", "2026-01-01T00:00:00Z"),
      PodOf(d, "new-ready", "n1", true, "Running", "2026-01-02T00:00:00Z"),
      PodOf(d, "notready", "n2", false, "Running", "2026-01-01T00:00:00Z"),
      PodOf(d, "pending", "", false, "Pending", "2026-01-01T00:00:00Z"),
      PodOf(d, "mid-ready", "n2", true, "Running", "2026-01-01T12:00:00Z"),
  };
  auto name = [&](int i) {
    return pods[static_cast<size_t>(i)]["metadata"]["name"].get<std::string>();
  };
  d["spec"]["replicas"] = 4;
  CHECK(Names(ReconcileDeployment(d, pods).remove) == std::set<std::string>{name(3)});
  d["spec"]["replicas"] = 3;
  CHECK(Names(ReconcileDeployment(d, pods).remove) == std::set<std::string>{name(3), name(2)});
  d["spec"]["replicas"] = 2;
  CHECK(Names(ReconcileDeployment(d, pods).remove) ==
        std::set<std::string>{name(3), name(2), name(1)});
  d["spec"]["replicas"] = 0;
  auto plan = ReconcileDeployment(d, pods);
  CHECK(plan.remove.size() == 5);
  CHECK(plan.create == 0);
}

TEST_CASE("a new template replaces old pods without dropping below the ready count",
          "[reconcile]") {
  json v1 = Deployment(2, "web:1");
  json v2 = Deployment(2, "web:2");
  std::vector<json> pods = {PodOf(v1, "a", "n1", true), PodOf(v1, "b", "n2", true)};
  auto plan = ReconcileDeployment(v2, pods);
  CHECK(plan.create == 2);
  CHECK(plan.remove.empty());  // nothing new is ready yet
  pods.push_back(PodOf(v2, "c", "n1", true));
  pods.push_back(PodOf(v2, "d", "n2", false));
  plan = ReconcileDeployment(v2, pods);
  CHECK(plan.create == 0);
  CHECK(plan.remove.size() == 1);  // one new ready: one old may go
  pods[3] = PodOf(v2, "d", "n2", true);
  plan = ReconcileDeployment(v2, pods);
  CHECK(plan.remove.size() == 2);
  // An old pod that is not ready goes at once.
  plan = ReconcileDeployment(v2, {PodOf(v1, "a", "n1", false)});
  CHECK(plan.remove.size() == 1);
  CHECK(plan.create == 2);
}

TEST_CASE("scheduling input counts the requests of live bound pods", "[reconcile]") {
  json node = {{"metadata", {{"name", "n1"}, {"labels", {{"zone", "a"}}}}},
               {"status",
                {{"allocatable", {{"cpu", "2"}, {"memory", "1Gi"}}},
                 {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}};
  auto pod = [](const std::string& name, const std::string& node_name, const std::string& phase,
                const std::string& created) {
    return json{
        {"metadata",
         {{"name", name},
          {"namespace", "default"},
          {"creationTimestamp", created},
          {"ownerReferences", {{{"uid", "u1"}, {"controller", true}}}}}},
        {"spec",
         {{"nodeName", node_name},
          {"containers",
           {{{"name", "a"},
             {"image", "x"},
             {"resources", {{"requests", {{"cpu", "500m"}, {"memory", "128Mi"}}}}}},
            {{"name", "b"}, {"image", "x"}, {"resources", {{"requests", {{"cpu", "250m"}}}}}}}}}},
        {"status", {{"phase", phase}}}};
  };
  std::vector<json> pods = {pod("bound", "n1", "Running", "2026-01-01T00:00:00Z"),
                            pod("done", "n1", "Failed", "2026-01-01T00:00:00Z"),
                            pod("late", "", "Pending", "2026-01-03T00:00:00Z"),
                            pod("early", "", "Pending", "2026-01-02T00:00:00Z"),
                            pod("binding", "", "Pending", "2026-01-01T00:00:00Z")};
  std::vector<const json*> ptrs;
  for (const auto& p : pods)
    ptrs.push_back(&p);
  // "binding" has a bind in flight to n1: it counts as bound there.
  auto in = BuildSchedulingInput({&node}, ptrs, {{"default/binding", "n1"}});
  REQUIRE(in.nodes.size() == 1);
  CHECK(in.nodes[0].ready);
  CHECK(in.nodes[0].cpu_allocatable == 2000);
  CHECK(in.nodes[0].memory_allocatable == 1LL << 30);
  CHECK(in.nodes[0].cpu_requested == 1500);
  CHECK(in.nodes[0].memory_requested == 256LL << 20);
  CHECK(in.nodes[0].pods_by_owner.at("u1") == 2);
  REQUIRE(in.pending.size() == 2);
  CHECK(in.pending[0].key == "default/early");
  CHECK(in.pending[1].key == "default/late");
  CHECK(in.pending[0].cpu == 750);
}

TEST_CASE("a node is alive while its heartbeats are within the grace period", "[reconcile]") {
  // A new leader judges from when it started: everyone gets a full grace period.
  CHECK(NodeAlive(/*last=*/0, /*since=*/10000, /*now=*/14000, /*grace=*/5000));
  CHECK_FALSE(NodeAlive(0, 10000, 15001, 5000));
  CHECK(NodeAlive(14000, 10000, 19000, 5000));
  CHECK_FALSE(NodeAlive(14000, 10000, 19001, 5000));
}
