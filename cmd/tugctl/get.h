// How `get` prints objects of one kind, shared with the verbs that print what they did.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/printers.h"
#include "api/resource.h"

namespace tug::ctl {

// `output` "" or "wide": a kubectl table (with the header line if `headers`); "name":
// TYPE/NAME lines; "json", "yaml": each object.
std::string RenderObjects(const api::ResourceInfo& r, const std::vector<nlohmann::json>& objs,
                          const std::string& output, const api::PrintOptions& po, bool headers);

}  // namespace tug::ctl
