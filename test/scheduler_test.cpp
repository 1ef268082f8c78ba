// The scheduler as a pure function: fit, selectors, spread, least allocated, tie-break, and
// the message for a pod that fits nowhere.
#include <catch2/catch.hpp>

#include "scheduler/scheduler.h"

using tug::sched::NodeState;
using tug::sched::PodRequest;
using tug::sched::Schedule;

namespace {

constexpr int64_t kGi = 1LL << 30;

NodeState Node(const std::string& name, int64_t cpu_milli = 4000, int64_t mem = 8 * kGi) {
  NodeState n;
  n.name = name;
  n.cpu_allocatable = cpu_milli;
  n.memory_allocatable = mem;
  return n;
}

PodRequest Pod(const std::string& name, int64_t cpu = 0, int64_t mem = 0,
               const std::string& owner = "") {
  PodRequest p;
  p.key = "default/" + name;
  p.cpu = cpu;
  p.memory = mem;
  p.owner = owner;
  return p;
}

std::string Where(const tug::sched::Decision& d, const std::string& pod) {
  for (const auto& p : d.placements) {
    if (p.pod == "default/" + pod) return p.node;
  }
  return "";
}

}  // namespace

TEST_CASE("a pod goes only where it fits", "[scheduler]") {
  auto small = Node("small", 1000, 1 * kGi);
  auto big = Node("big", 8000, 16 * kGi);
  auto d =
      Schedule({small, big}, {Pod("fits-both", 500, kGi / 2), Pod("needs-big", 2000, 4 * kGi)});
  CHECK(Where(d, "needs-big") == "big");
  CHECK(d.unschedulable.empty());

  // What is already requested counts.
  big.cpu_requested = 7500;
  d = Schedule({small, big}, {Pod("p", 1000)});
  CHECK(Where(d, "p") == "small");

  // Resources used by earlier pods of the same batch count too.
  d = Schedule({Node("one", 1000, kGi)}, {Pod("a", 600), Pod("b", 600)});
  CHECK(Where(d, "a") == "one");
  REQUIRE(d.unschedulable.size() == 1);
  CHECK(d.unschedulable[0].pod == "default/b");
  CHECK(d.unschedulable[0].message == "0/1 nodes are available: 1 Insufficient cpu.");
}

TEST_CASE("NotReady and unschedulable nodes get nothing, and node selectors are obeyed",
          "[scheduler]") {
  auto down = Node("a-down");
  down.ready = false;
  auto cordoned = Node("b-cordoned");
  cordoned.unschedulable = true;
  auto ssd = Node("c-ssd");
  ssd.labels = {{"disk", "ssd"}};
  auto hdd = Node("d-hdd");
  hdd.labels = {{"disk", "hdd"}};
  PodRequest wants_ssd = Pod("db");
  wants_ssd.node_selector = {{"disk", "ssd"}};
  auto d = Schedule({down, cordoned, ssd, hdd}, {wants_ssd, Pod("any")});
  CHECK(Where(d, "db") == "c-ssd");
  CHECK((Where(d, "any") == "c-ssd" || Where(d, "any") == "d-hdd"));

  PodRequest wants_gpu = Pod("gpu");
  wants_gpu.node_selector = {{"gpu", "yes"}};
  d = Schedule({down, cordoned, ssd, hdd}, {wants_gpu});
  REQUIRE(d.unschedulable.size() == 1);
  CHECK(d.unschedulable[0].message ==
        "0/4 nodes are available: 1 NotReady, 3 node(s) didn't match Pod's node selector, 1 "
        "node(s) were unschedulable.");
}

TEST_CASE("the Pending message counts every node's reasons", "[scheduler]") {
  auto a = Node("a", 4000, 1 * kGi);
  auto b = Node("b", 4000, 1 * kGi);
  auto c = Node("c");
  c.ready = false;
  auto d = Schedule({a, b, c}, {Pod("big", 100, 2 * kGi)});
  REQUIRE(d.unschedulable.size() == 1);
  CHECK(d.unschedulable[0].message ==
        "0/3 nodes are available: 2 Insufficient memory, 1 NotReady.");
  auto none = Schedule({}, {Pod("p")});
  REQUIRE(none.unschedulable.size() == 1);
  CHECK(none.unschedulable[0].message == "0/0 nodes are available: no nodes are registered.");
}

TEST_CASE("replicas of one deployment spread across nodes before stacking", "[scheduler]") {
  // "a" is much emptier, but spreading comes first.
  auto a = Node("a", 64000, 128 * kGi);
  auto b = Node("b");
  auto c = Node("c");
  std::vector<PodRequest> pods;
  for (int i = 0; i < 6; ++i)
    pods.push_back(Pod("web-" + std::to_string(i), 100, 0, "uid-web"));
  auto d = Schedule({a, b, c}, pods);
  std::map<std::string, int> per_node;
  for (const auto& p : d.placements)
    ++per_node[p.node];
  CHECK(per_node == std::map<std::string, int>{{"a", 2}, {"b", 2}, {"c", 2}});

  // Replicas already running count: the new one goes where there are fewest.
  a.pods_by_owner["uid-web"] = 3;
  b.pods_by_owner["uid-web"] = 1;
  c.pods_by_owner["uid-web"] = 2;
  d = Schedule({a, b, c}, {Pod("web-new", 100, 0, "uid-web")});
  CHECK(Where(d, "web-new") == "b");
}

TEST_CASE("among equals, the least allocated node wins, then the name", "[scheduler]") {
  auto busy = Node("a-busy");
  busy.cpu_requested = 3000;
  busy.memory_requested = 6 * kGi;
  auto idle = Node("b-idle");
  auto d = Schedule({busy, idle}, {Pod("p", 100, kGi)});
  CHECK(Where(d, "p") == "b-idle");

  // Identical nodes: the first name, whatever order they come in.
  auto x = Schedule({Node("n2"), Node("n1"), Node("n3")}, {Pod("p")});
  CHECK(Where(x, "p") == "n1");
  auto y = Schedule({Node("n3"), Node("n1"), Node("n2")}, {Pod("p")});
  CHECK(Where(y, "p") == "n1");
}

TEST_CASE("the same inputs give the same placements", "[scheduler]") {
  std::vector<NodeState> nodes;
  for (int i = 0; i < 50; ++i)
    nodes.push_back(Node("n" + std::to_string(i), 2000 + 100 * i));
  std::vector<PodRequest> pods;
  for (int i = 0; i < 300; ++i)
    pods.push_back(Pod("p" + std::to_string(i), 100 + i % 7 * 50, (i % 5) * kGi / 4,
                       "owner-" + std::to_string(i % 9)));
  auto a = Schedule(nodes, pods);
  auto b = Schedule(nodes, pods);
  REQUIRE(a.placements.size() == b.placements.size());
  for (size_t i = 0; i < a.placements.size(); ++i) {
    CHECK(a.placements[i].pod == b.placements[i].pod);
    CHECK(a.placements[i].node == b.placements[i].node);
  }
  // Nothing is overcommitted.
  std::map<std::string, int64_t> cpu;
  for (const auto& p : a.placements) {
    for (const auto& q : pods) {
      if (q.key == p.pod) cpu[p.node] += q.cpu;
    }
  }
  for (const auto& n : nodes)
    CHECK(cpu[n.name] <= n.cpu_allocatable);
}
