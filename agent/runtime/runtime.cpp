#include "agent/runtime/runtime.h"

namespace tug::agent {

nlohmann::json ContainerHandle::ToJson() const {
  nlohmann::json j = {{"runtime", runtime}, {"id", id}, {"state", state}};
  if (!image_id.empty()) j["imageID"] = image_id;
  return j;
}

Result<ContainerHandle> ContainerHandle::FromJson(const nlohmann::json& j) {
  if (!j.is_object()) return Status::Invalid("a container handle must be an object");
  ContainerHandle h;
  if (j.contains("runtime") && j["runtime"].is_string() && j.contains("id") &&
      j["id"].is_string()) {
    h.runtime = j["runtime"].get<std::string>();
    h.id = j["id"].get<std::string>();
    h.state = j.contains("state") ? j["state"] : nlohmann::json();
    if (j.contains("imageID") && j["imageID"].is_string())
      h.image_id = j["imageID"].get<std::string>();
    return h;
  }
  // Agents before the runtime seam saved the process runtime's record itself.
  if (j.contains("pid") && j["pid"].is_number_integer()) {
    h.runtime = "process";
    h.id = std::to_string(j["pid"].get<int64_t>());
    h.state = j;
    return h;
  }
  return Status::Invalid("not a container handle: it names no runtime");
}

}  // namespace tug::agent
