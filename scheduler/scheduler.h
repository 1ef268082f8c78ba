// Placement of pods onto nodes: a pure function of its inputs (no I/O, no clock, no store),
// deterministic (the same inputs give the same placements on every leader).
//
// For each pod, in the order given (a batch), as Nomad and Kubernetes do:
//  1. Filter: the node is Ready, schedulable, matches the pod's nodeSelector, and has room for
//     the pod's cpu and memory requests in what is left of its allocatable resources.
//  2. Rank the nodes left: first spread (fewest replicas of the pod's owner already there),
//     then least allocated (most free cpu and memory, as a fraction, after placing), then the
//     node name as the tie-break.
// A placement uses up the node's resources for the pods after it in the batch. A pod that
// fits nowhere gets Kubernetes' message, node by node:
//   "0/3 nodes are available: 2 Insufficient memory, 1 NotReady."
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tug::sched {

struct NodeState {
  std::string name;
  std::map<std::string, std::string> labels;
  bool ready = true;
  bool unschedulable = false;
  int64_t cpu_allocatable = 0;     // milli-cores
  int64_t memory_allocatable = 0;  // bytes
  int64_t cpu_requested = 0;       // by the pods already bound here
  int64_t memory_requested = 0;
  // Replicas already here, by owner (a Deployment's uid), for spreading.
  std::map<std::string, int> pods_by_owner;
};

struct PodRequest {
  std::string key;     // "namespace/name": how results refer to the pod
  std::string owner;   // the owning Deployment's uid, or "" for a bare pod
  int64_t cpu = 0;     // milli-cores
  int64_t memory = 0;  // bytes
  std::map<std::string, std::string> node_selector;
};

struct Placement {
  std::string pod;   // PodRequest::key
  std::string node;  // NodeState::name
};

struct Unschedulable {
  std::string pod;
  std::string message;  // "0/3 nodes are available: 2 Insufficient memory, 1 NotReady."
};

struct Decision {
  std::vector<Placement> placements;  // in the order of the pods
  std::vector<Unschedulable> unschedulable;
};

Decision Schedule(std::vector<NodeState> nodes, const std::vector<PodRequest>& pods);

}  // namespace tug::sched
