// The controllers' decisions as pure functions of the objects they read (no store, no clock
// beyond the `now` passed in): what a Deployment needs done to its pods, what its status
// should say, and whether a worker node is alive. The controllers (controllers/) feed them
// from the leader's cache and carry out the result with conditional writes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scheduler/scheduler.h"

namespace tug::cp {

// Pod facts the controllers look at.
bool PodTerminal(const nlohmann::json& pod);     // phase Succeeded or Failed
bool PodReady(const nlohmann::json& pod);        // condition Ready is True
std::string PodNode(const nlohmann::json& pod);  // spec.nodeName, "" if unscheduled
// The uid of the Deployment that controls the pod, or "".
std::string PodOwner(const nlohmann::json& pod);

// A short hash of a pod template, spelled as Kubernetes spells pod-template-hash (digits and
// consonants only, so it never forms words).
std::string TemplateHash(const nlohmann::json& pod_template);

// A new pod for `deployment`: named <deployment>-<hash>-<suffix>, the template's labels plus
// pod-template-hash, an owner reference, the template's spec.
nlohmann::json PodForDeployment(const nlohmann::json& deployment, const std::string& suffix);

struct DeploymentPlan {
  int create = 0;                      // new pods to make from the current template
  std::vector<nlohmann::json> remove;  // pods to delete (failed ones, surplus, outdated)
  nlohmann::json status;               // the status the Deployment should report
};

// `pods` are the pods the Deployment owns. Keeps `spec.replicas` pods of the current template
// alive: failed pods are removed and replaced; on scale down the unscheduled go first, then
// the not ready, then the newest; pods of an older template are removed once enough current
// ones are Ready to keep the ready count (or at once if they are not ready themselves).
DeploymentPlan ReconcileDeployment(const nlohmann::json& deployment,
                                   const std::vector<nlohmann::json>& pods);

// What the scheduler needs from the cache: every node's state (requests of the live pods
// bound to it, replicas per owner) and the pods waiting for a node, oldest first. `assumed`
// ("namespace/name" -> node) are binds in flight: they count as bound (Kubernetes' assumed
// pods), or the next round would place more pods on the same node before they land.
struct SchedulingInput {
  std::vector<sched::NodeState> nodes;
  std::vector<sched::PodRequest> pending;
};
SchedulingInput BuildSchedulingInput(const std::vector<const nlohmann::json*>& nodes,
                                     const std::vector<const nlohmann::json*>& pods,
                                     const std::map<std::string, std::string>& assumed = {});

// A node's Ready condition as the node controller sets it: {"type":"Ready","status":...}.
nlohmann::json ReadyCondition(bool ready, const std::string& reason, const std::string& message,
                              const std::string& now_rfc3339);

// Whether the node's heartbeats say it is alive: its last heartbeat (or the moment this
// leader started judging, whichever is later) is within `grace_ms` of `now_ms`.
inline bool NodeAlive(int64_t last_heartbeat_ms, int64_t judging_since_ms, int64_t now_ms,
                      int64_t grace_ms) {
  return now_ms - std::max(last_heartbeat_ms, judging_since_ms) <= grace_ms;
}

}  // namespace tug::cp
