// The Deployment controller: keeps `spec.replicas` pods of each Deployment's current template
// alive (the plan is the pure ReconcileDeployment, reconcile.h), replaces failed pods with
// back-off, reports the Deployment's status, and deletes the pods of a deleted Deployment.
// Writes Events SuccessfulCreate, SuccessfulDelete and FailedCreate as Kubernetes does.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "controlplane/controllers/controller.h"
#include "controlplane/reconcile.h"

namespace tug::cp {

class DeploymentController : public Controller {
 public:
  using Controller::Controller;
  const char* name() const override { return "deployment"; }
  void OnChange(const std::string& resource, const std::string& key, const nlohmann::json* before,
                const nlohmann::json* after) override;
  void Resync() override;
  void Tick() override;
  void Process() override;

 private:
  void Sync(const std::string& key);
  void HoldFailedPods(const std::string& key, const nlohmann::json& d,
                      const std::vector<nlohmann::json>& pods, DeploymentPlan* plan);
  void DeleteOrphans();

  std::map<std::string, std::string> by_uid_;                   // uid -> deployment key
  std::map<std::string, std::set<std::string>> pods_by_owner_;  // owner uid -> pod keys
  std::set<std::string> dirty_;
  bool orphans_dirty_ = false;
  std::map<std::string, std::string> failure_said_;  // deployment key -> last FailedCreate
  // Pods that keep failing are replaced with back-off (see HoldFailedPods).
  struct ReplaceBackoff {
    int streak = 0;                 // failures in a row without the deployment becoming healthy
    int64_t until_ms = 0;           // failed pods are kept (not replaced) until then
    std::set<std::string> counted;  // failed pods' uids already counted
  };
  std::map<std::string, ReplaceBackoff> backoff_;  // deployment key ->
  std::set<std::string> held_;                     // deployments with failed pods held back
};

}  // namespace tug::cp
