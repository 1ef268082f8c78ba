// `describe`'s text for one object, as kubectl lays it out ("Name:  web", containers, states,
// conditions, then the object's Events), aligned by a tab writer with kubectl's settings.
// Pure: the related objects and the time are arguments.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/resource.h"

namespace tug::ctl {

// `events`: those about the object, in any order (shown oldest first). `pods`: for a node,
// the pods bound to it; for a deployment, its pods; ignored for other kinds.
std::string DescribeObject(const api::ResourceInfo& r, const nlohmann::json& obj,
                           const std::vector<nlohmann::json>& events,
                           const std::vector<nlohmann::json>& pods, int64_t now);

}  // namespace tug::ctl
