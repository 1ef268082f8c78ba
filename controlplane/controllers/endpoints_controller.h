// The endpoints controller: keeps each Service's Endpoints object (same namespace and name)
// equal to ComputeEndpoints (endpoints.h) over the pods its selector matches, as Kubernetes'
// does. Services without a selector are left alone (their Endpoints are the user's); the
// Endpoints of a deleted Service are deleted. A change of a pod re-checks the Services of its
// namespace; a change of a Node (NotReady when it is judged lost) re-checks every Service, so
// the lost node's pods leave `addresses` at once.
#pragma once

#include <map>
#include <set>
#include <string>

#include "controlplane/controllers/controller.h"

namespace tug::cp {

class EndpointsController : public Controller {
 public:
  using Controller::Controller;
  const char* name() const override { return "endpoints"; }
  void OnChange(const std::string& resource, const std::string& key, const nlohmann::json* before,
                const nlohmann::json* after) override;
  void Resync() override;
  void Process() override;

 private:
  void Sync(const std::string& ns, const std::string& name);

  std::map<std::string, std::set<std::string>> services_by_ns_;  // ns -> service names
  std::map<std::string, std::set<std::string>> pods_by_ns_;      // ns -> pod store keys
  std::set<std::pair<std::string, std::string>> dirty_;          // (ns, name) of services
};

}  // namespace tug::cp
