// The scheduling controller: binds pending pods to nodes with the pure scheduler
// (scheduler/scheduler.h, fed by BuildSchedulingInput in reconcile.h), writing
// `spec.nodeName` guarded by the pod's resourceVersion, or says on the pod why it cannot
// (condition PodScheduled=False, reason Unschedulable, and a FailedScheduling Event, once per
// distinct message). Binds in flight count as placed (Kubernetes' assumed pods), so the next
// round does not pile more pods onto the same node before they land.
#pragma once

#include <map>
#include <string>

#include "controlplane/controllers/controller.h"

namespace tug::cp {

class SchedulingController : public Controller {
 public:
  using Controller::Controller;
  const char* name() const override { return "scheduler"; }
  void OnChange(const std::string& resource, const std::string& key, const nlohmann::json* before,
                const nlohmann::json* after) override;
  void Resync() override { dirty_ = true; }
  void Process() override;

 private:
  bool dirty_ = false;
  std::map<std::string, std::string> unschedulable_said_;  // pod key -> message written
  std::map<std::string, std::string> assumed_;             // "ns/name" -> node of a bind in flight
};

}  // namespace tug::cp
