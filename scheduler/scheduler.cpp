#include "scheduler/scheduler.h"

#include <algorithm>
#include <unordered_map>

namespace tug::sched {

namespace {

// Why a node was filtered out; a node gives every reason that applies.
enum Reason { kNotReady, kUnschedulable, kSelector, kCpu, kMemory, kReasons };

const char* const kReasonText[kReasons] = {"NotReady", "node(s) were unschedulable",
                                           "node(s) didn't match Pod's node selector",
                                           "Insufficient cpu", "Insufficient memory"};

bool SelectorMatches(const std::map<std::string, std::string>& selector,
                     const std::map<std::string, std::string>& labels) {
  for (const auto& [k, v] : selector) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

// Free fraction of cpu and memory after placing the pod, in [0, 2]; resources the node does
// not report count as full.
double FreeAfter(const NodeState& n, const PodRequest& p) {
  auto frac = [](int64_t alloc, int64_t used) {
    return alloc > 0 ? static_cast<double>(alloc - used) / static_cast<double>(alloc) : 0.0;
  };
  return frac(n.cpu_allocatable, n.cpu_requested + p.cpu) +
         frac(n.memory_allocatable, n.memory_requested + p.memory);
}

std::string Message(size_t nodes, const int (&counts)[kReasons]) {
  std::string msg = "0/" + std::to_string(nodes) + " nodes are available";
  // Alphabetical by reason text, as Kubernetes prints them.
  std::vector<std::pair<std::string, int>> parts;
  for (int r = 0; r < kReasons; ++r) {
    if (counts[r] > 0) parts.emplace_back(kReasonText[r], counts[r]);
  }
  std::sort(parts.begin(), parts.end());
  for (size_t i = 0; i < parts.size(); ++i) {
    msg += (i ? ", " : ": ") + std::to_string(parts[i].second) + " " + parts[i].first;
  }
  if (nodes == 0) msg += ": no nodes are registered";
  return msg + ".";
}

}  // namespace

Decision Schedule(std::vector<NodeState> nodes, const std::vector<PodRequest>& pods) {
  Decision d;
  // The tie-break is by name: sort once so the scan order is the tie-break order.
  std::sort(nodes.begin(), nodes.end(),
            [](const NodeState& a, const NodeState& b) { return a.name < b.name; });
  // Replicas per node of each owner seen in this batch, as dense vectors (an owner's count on
  // a node is looked up once per pod and node: 10,000 pods x 1,000 nodes).
  std::unordered_map<std::string, std::vector<int>> spread;
  auto counts_for = [&](const std::string& owner) -> std::vector<int>& {
    auto it = spread.find(owner);
    if (it != spread.end()) return it->second;
    std::vector<int> c(nodes.size(), 0);
    for (size_t i = 0; i < nodes.size(); ++i) {
      auto o = nodes[i].pods_by_owner.find(owner);
      if (o != nodes[i].pods_by_owner.end()) c[i] = o->second;
    }
    return spread.emplace(owner, std::move(c)).first->second;
  };
  for (const PodRequest& p : pods) {
    std::vector<int>* owner_counts = p.owner.empty() ? nullptr : &counts_for(p.owner);
    int reasons[kReasons] = {};
    size_t best = nodes.size();
    int best_spread = 0;
    double best_free = 0;
    for (size_t i = 0; i < nodes.size(); ++i) {
      const NodeState& n = nodes[i];
      bool ok = true;
      if (!n.ready) {
        ++reasons[kNotReady];
        continue;  // nothing else about a node that is down matters
      }
      if (n.unschedulable) {
        ++reasons[kUnschedulable];
        ok = false;
      }
      if (!p.node_selector.empty() && !SelectorMatches(p.node_selector, n.labels)) {
        ++reasons[kSelector];
        ok = false;
      }
      if (p.cpu > 0 && n.cpu_requested + p.cpu > n.cpu_allocatable) {
        ++reasons[kCpu];
        ok = false;
      }
      if (p.memory > 0 && n.memory_requested + p.memory > n.memory_allocatable) {
        ++reasons[kMemory];
        ok = false;
      }
      if (!ok) continue;
      int s = owner_counts ? (*owner_counts)[i] : 0;
      double free = FreeAfter(n, p);
      // Strictly better only: on a tie the earlier (smaller) name stays.
      if (best == nodes.size() || s < best_spread || (s == best_spread && free > best_free)) {
        best = i;
        best_spread = s;
        best_free = free;
      }
    }
    if (best == nodes.size()) {
      d.unschedulable.push_back({p.key, Message(nodes.size(), reasons)});
      continue;
    }
    NodeState& n = nodes[best];
    n.cpu_requested += p.cpu;
    n.memory_requested += p.memory;
    if (owner_counts) ++(*owner_counts)[best];
    d.placements.push_back({p.key, n.name});
  }
  return d;
}

}  // namespace tug::sched
