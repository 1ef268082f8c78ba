#include "controlplane/controllers/scheduling_controller.h"

#include <vector>

#include "controlplane/controllers/informer.h"
#include "controlplane/reconcile.h"
#include "scheduler/scheduler.h"

namespace tug::cp {

using nlohmann::json;

namespace {
const std::string kPods = "/registry/pods/";
}

void SchedulingController::OnChange(const std::string& resource, const std::string& key,
                                    const json* before, const json* after) {
  if (resource == "nodes") {
    dirty_ = true;
  } else if (resource == "pods") {
    // A pod that waits for a node, or one whose end frees room on its node.
    bool wants = !after || (PodNode(*after).empty() && !PodTerminal(*after)) ||
                 (PodTerminal(*after) && !(before && PodTerminal(*before)));
    if (!after) unschedulable_said_.erase(key);
    if (wants) dirty_ = true;
  } else {
    return;
  }
  ctx_.kick();
}

void SchedulingController::Process() {
  if (!dirty_) return;
  dirty_ = false;
  std::vector<const json*> nodes, pods;
  for (const auto& [k, n] : ctx_.cache.List("nodes"))
    nodes.push_back(&n);
  for (const auto& [k, p] : ctx_.cache.List("pods"))
    pods.push_back(&p);
  SchedulingInput in = BuildSchedulingInput(nodes, pods, assumed_);
  std::vector<sched::PodRequest> pending = std::move(in.pending);
  if (pending.empty()) return;
  sched::Decision decision = sched::Schedule(std::move(in.nodes), pending);
  for (const auto& placement : decision.placements) {
    std::string key = kPods + placement.pod;
    const json* found = ctx_.cache.Get("pods", key);
    if (!found) continue;
    const json pod = *found;
    json next = pod;
    next["spec"]["nodeName"] = placement.node;
    std::string token = "bind:" + key;
    Begin(token);
    assumed_[placement.pod] = placement.node;
    ReplyFn finish = Finish(token, "bind pod " + placement.pod);
    ctx_.registry.Update(Kind("pods"), Meta(pod, "namespace"), Meta(pod, "name"),
                         Registry::Part::kMain, Replace(next),
                         [this, alive = Alive(), finish, pod, node = placement.node,
                          placed = placement.pod](Reply r) {
                           if (alive.expired()) return;
                           assumed_.erase(placed);
                           if (!r.ok()) {
                             dirty_ = true;  // try again on fresh state
                           } else {
                             ctx_.RecordEvent(pod, "Normal", "Scheduled",
                                              "Successfully assigned " + Meta(pod, "namespace") +
                                                  "/" + Meta(pod, "name") + " to " + node,
                                              "scheduler");
                           }
                           finish(std::move(r));
                         });
  }
  for (const auto& u : decision.unschedulable) {
    std::string key = kPods + u.pod;
    const json* pod = ctx_.cache.Get("pods", key);
    if (!pod || unschedulable_said_[key] == u.message) continue;
    std::string token = "unschedulable:" + key;
    if (!Begin(token)) continue;
    unschedulable_said_[key] = u.message;
    json next = *pod;
    SetCondition(next, {{"type", "PodScheduled"},
                        {"status", "False"},
                        {"reason", "Unschedulable"},
                        {"message", u.message},
                        {"lastTransitionTime", ctx_.WallStamp()}});
    ctx_.RecordEvent(*pod, "Warning", "FailedScheduling", u.message, "scheduler");
    ctx_.registry.Update(Kind("pods"), Meta(next, "namespace"), Meta(next, "name"),
                         Registry::Part::kStatus, Replace(next),
                         Finish(token, "report pod " + u.pod + " unschedulable"));
  }
}

}  // namespace tug::cp
