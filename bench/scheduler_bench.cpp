// The scheduler alone: 10,000 pending pods (100 deployments of 100 replicas, with cpu and
// memory requests, some with a node selector) placed onto 1,000 nodes in one batch, on one
// core. Prints the time per batch (median of 5) and per pod. Asserts nothing.
//
//   scheduler_bench [--nodes 1000] [--pods 10000]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "scheduler/scheduler.h"

int main(int argc, char** argv) {
  int nodes = 1000, pods = 10000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--nodes") nodes = std::atoi(argv[i + 1]);
    if (a == "--pods") pods = std::atoi(argv[i + 1]);
  }
  std::vector<tug::sched::NodeState> ns;
  for (int i = 0; i < nodes; ++i) {
    tug::sched::NodeState n;
    n.name = "node-" + std::to_string(i);
    n.labels = {{"zone", i % 3 == 0 ? "a" : "b"}};
    n.cpu_allocatable = 16000;
    n.memory_allocatable = 64LL << 30;
    n.cpu_requested = (i % 10) * 500;  // some already busy
    ns.push_back(n);
  }
  std::vector<tug::sched::PodRequest> ps;
  for (int i = 0; i < pods; ++i) {
    tug::sched::PodRequest p;
    p.key = "default/web-" + std::to_string(i);
    p.owner = "deploy-" + std::to_string(i % 100);
    p.cpu = 100 + (i % 4) * 100;
    p.memory = (128LL << 20) * (1 + i % 4);
    if (i % 100 < 10) p.node_selector = {{"zone", "a"}};
    ps.push_back(p);
  }
  std::vector<double> times;
  size_t placed = 0;
  for (int round = 0; round < 5; ++round) {
    auto t0 = std::chrono::steady_clock::now();
    auto d = tug::sched::Schedule(ns, ps);
    times.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    placed = d.placements.size();
  }
  std::sort(times.begin(), times.end());
  std::printf(
      "scheduler: %d pods onto %d nodes in one batch: median %.1f ms (%.1f us per pod), "
      "%zu placed\n",
      pods, nodes, times[2], times[2] * 1000 / pods, placed);
  return 0;
}
