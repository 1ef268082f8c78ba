#include "api/apply_patch.h"

namespace tug::api {

using json = nlohmann::json;

json WithLastApplied(const json& desired) {
  json clean = desired;
  clean.erase("status");
  if (clean.contains("metadata") && clean["metadata"].is_object()) {
    json& m = clean["metadata"];
    if (m.contains("annotations") && m["annotations"].is_object()) {
      m["annotations"].erase(kLastAppliedAnnotation);
      if (m["annotations"].empty()) m.erase("annotations");
    }
  }
  json out = clean;
  out["metadata"]["annotations"][kLastAppliedAnnotation] =
      clean.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  return out;
}

json LastApplied(const json& current) {
  if (!current.is_object() || !current.contains("metadata")) return nullptr;
  const json& m = current["metadata"];
  if (!m.is_object() || !m.contains("annotations") || !m["annotations"].is_object()) return nullptr;
  const json& a = m["annotations"];
  if (!a.contains(kLastAppliedAnnotation) || !a[kLastAppliedAnnotation].is_string()) return nullptr;
  json parsed = json::parse(a[kLastAppliedAnnotation].get<std::string>(), nullptr, false);
  return parsed.is_object() ? parsed : json();
}

json ThreeWayMergePatch(const json& original, const json& modified, const json& current) {
  json patch = json::object();
  if (!modified.is_object()) return patch;
  for (const auto& [k, want] : modified.items()) {
    bool has = current.is_object() && current.contains(k);
    if (want.is_object() && has && current[k].is_object()) {
      const json& orig =
          original.is_object() && original.contains(k) ? original[k] : json::object();
      json sub = ThreeWayMergePatch(orig, want, current[k]);
      if (!sub.empty()) patch[k] = std::move(sub);
    } else if (!has || current[k] != want) {
      patch[k] = want;
    }
  }
  // What the user applied before and has removed since: delete it, if it is still there.
  if (original.is_object())
    for (const auto& [k, v] : original.items())
      if (!modified.contains(k) && current.is_object() && current.contains(k)) patch[k] = nullptr;
  return patch;
}

}  // namespace tug::api
