// Client-side apply, as `kubectl apply` does it with JSON merge patches: the object a user
// applies is compared with what the server holds and with what the user applied last time
// (kept in the object's "kubectl.kubernetes.io/last-applied-configuration" annotation), and
// only the difference is sent. Fields the user set are brought to the file's values; fields
// the user set last time and has now removed are deleted; fields nobody applied (defaults,
// what controllers and other writers set) are left alone. Lists are replaced whole.
#pragma once

#include <nlohmann/json.hpp>

namespace tug::api {

// The annotation that records what was applied last.
inline constexpr const char* kLastAppliedAnnotation =
    "kubectl.kubernetes.io/last-applied-configuration";

// `desired` with the annotation set to `desired` itself (compact JSON, without the annotation
// and without status): what apply creates, or the `modified` side of the patch.
nlohmann::json WithLastApplied(const nlohmann::json& desired);

// The last-applied configuration recorded in `current`, or null without one (or with one
// that is not a JSON object).
nlohmann::json LastApplied(const nlohmann::json& current);

// The merge patch (RFC 7386) that takes `current` to what the user wants: every field of
// `modified` that differs from `current`, and null for every field of `original` (the last
// applied configuration, may be null) that `modified` no longer has. An empty object when
// nothing needs to change.
nlohmann::json ThreeWayMergePatch(const nlohmann::json& original, const nlohmann::json& modified,
                                  const nlohmann::json& current);

}  // namespace tug::api
