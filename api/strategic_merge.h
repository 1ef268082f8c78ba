// Kubernetes' strategic merge patch (Content-Type application/strategic-merge-patch+json), the
// patch `kubectl apply`, `kubectl edit` and `kubectl scale` send. Like a JSON merge patch
// (RFC 7386: objects merge key by key, null deletes), except that some lists merge element by
// element, matched by a key (a Pod's `containers` by `name`, a container's `ports` by
// `containerPort`, ...) instead of being replaced, and that the patch may carry directives:
//   "$patch": "replace" | "delete" | "merge"       on an object, or as a list element
//   "$setElementOrder/<list>": [...]               the order of the merged list
//   "$deleteFromPrimitiveList/<list>": [...]       values to remove from a list of scalars
//   "$retainKeys": [...]                            the only keys the object keeps
// Which lists merge, and by what, comes from the Kubernetes types Tug serves (see the table
// in the .cpp); every other list is replaced, as Kubernetes does for lists without a strategy.
#pragma once

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace tug::api {

// The patched object, or Status::Invalid for a patch that is not an object or misuses a
// directive (the message says where).
Result<nlohmann::json> StrategicMergePatch(const nlohmann::json& original,
                                           const nlohmann::json& patch);

}  // namespace tug::api
