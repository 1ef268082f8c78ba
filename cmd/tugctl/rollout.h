// Where a deployment's rollout stands, in kubectl's words.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace tug::ctl {

struct RolloutState {
  bool done = false;
  std::string message;  // "Waiting for deployment "web" rollout to finish: 1 of 3 ..."
};

// As kubectl's deployment status viewer: the controller must have seen the latest spec,
// every replica must be of the current template, old ones gone, and all of them available.
RolloutState RolloutStatus(const nlohmann::json& deployment);

}  // namespace tug::ctl
