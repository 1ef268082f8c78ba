#include "api/strategic_merge.h"

#include <map>
#include <string>

namespace tug::api {

using json = nlohmann::json;

namespace {

// The lists that merge, by field name, and the key their elements are matched by, from the
// patchMergeKey tags of the Kubernetes types Tug serves (core/v1 Pod and Node, apps/v1
// Deployment, meta/v1 ObjectMeta). "" marks a list of scalars that merges as a set.
const std::map<std::string, std::string>& MergeKeys() {
  static const std::map<std::string, std::string> k = {
      {"containers", "name"},
      {"initContainers", "name"},
      {"ephemeralContainers", "name"},
      {"env", "name"},
      {"ports", "containerPort"},
      {"volumeMounts", "mountPath"},
      {"volumeDevices", "devicePath"},
      {"volumes", "name"},
      {"imagePullSecrets", "name"},
      {"hostAliases", "ip"},
      {"conditions", "type"},
      {"ownerReferences", "uid"},
      {"addresses", "type"},
      {"finalizers", ""},
      {"topologySpreadConstraints", "topologyKey"},
  };
  return k;
}

const std::string kPatch = "$patch";
const std::string kRetainKeys = "$retainKeys";
const std::string kOrderPrefix = "$setElementOrder/";
const std::string kDeletePrefix = "$deleteFromPrimitiveList/";

Result<json> MergeObject(const json& original, const json& patch, const std::string& path);

Result<json> MergeValue(const json* original, const json& patch, const std::string& field,
                        const std::string& path);

// Merges two lists whose elements match by `key`.
Result<json> MergeKeyedList(const json& original, const json& patch, const std::string& key,
                            const std::string& path) {
  json result = original.is_array() ? original : json::array();
  for (const auto& p : patch) {
    if (!p.is_object()) {
      return Status::Invalid(path + ": an element of a list merged by \"" + key +
                             "\" must be an object");
    }
    std::string directive =
        p.contains(kPatch) && p[kPatch].is_string() ? p[kPatch].get<std::string>() : "";
    if (directive == "replace") {
      // The whole list becomes the patch's other elements.
      json out = json::array();
      for (const auto& q : patch)
        if (!(q.is_object() && q.contains(kPatch))) out.push_back(q);
      return out;
    }
    if (!p.contains(key)) {
      return Status::Invalid(path + ": an element lacks its merge key \"" + key + "\"");
    }
    auto match = result.end();
    for (auto it = result.begin(); it != result.end(); ++it)
      if (it->is_object() && it->contains(key) && (*it)[key] == p[key]) match = it;
    if (directive == "delete") {
      if (match != result.end()) result.erase(match);
      continue;
    }
    if (!directive.empty() && directive != "merge")
      return Status::Invalid(path + ": unknown $patch directive \"" + directive + "\"");
    if (match == result.end()) {
      json clean = p;
      clean.erase(kPatch);
      auto merged = MergeObject(json::object(), clean, path);
      if (!merged.ok()) return merged.status();
      result.push_back(std::move(merged).value());
    } else {
      auto merged = MergeObject(*match, p, path + "[" + p[key].dump() + "]");
      if (!merged.ok()) return merged.status();
      *match = std::move(merged).value();
    }
  }
  return result;
}

// The list of scalars `original` with `patch`'s values added (a set).
json MergeScalarSet(const json& original, const json& patch) {
  json result = original.is_array() ? original : json::array();
  for (const auto& v : patch) {
    bool have = false;
    for (const auto& o : result)
      have = have || o == v;
    if (!have) result.push_back(v);
  }
  return result;
}

// Orders `list` as `order` says (elements matched by `key`, or by value for scalars); those
// the order does not name keep their relative order, after the named ones.
json Reorder(const json& list, const json& order, const std::string& key, bool scalars) {
  json out = json::array();
  std::vector<bool> used(list.size(), false);
  for (const auto& o : order) {
    for (size_t i = 0; i < list.size(); ++i) {
      if (used[i]) continue;
      bool same = scalars ? list[i] == o
                          : (list[i].is_object() && o.is_object() && list[i].contains(key) &&
                             o.contains(key) && list[i][key] == o[key]);
      if (same) {
        out.push_back(list[i]);
        used[i] = true;
        break;
      }
    }
  }
  for (size_t i = 0; i < list.size(); ++i)
    if (!used[i]) out.push_back(list[i]);
  return out;
}

Result<json> MergeValue(const json* original, const json& patch, const std::string& field,
                        const std::string& path) {
  if (patch.is_object()) {
    if (patch.contains(kPatch) && patch[kPatch] == "delete") return json();  // removed
    return MergeObject(original && original->is_object() ? *original : json::object(), patch, path);
  }
  if (patch.is_array()) {
    auto k = MergeKeys().find(field);
    if (k == MergeKeys().end()) return patch;  // no strategy: replaced
    if (k->second.empty()) return MergeScalarSet(original ? *original : json(), patch);
    return MergeKeyedList(original ? *original : json(), patch, k->second, path);
  }
  return patch;
}

Result<json> MergeObject(const json& original, const json& patch, const std::string& path) {
  if (!patch.is_object()) return Status::Invalid(path + ": a patch must be an object");
  json result = original.is_object() ? original : json::object();
  if (patch.contains(kPatch)) {
    const json& d = patch[kPatch];
    if (d == "replace") {
      json out = patch;
      out.erase(kPatch);
      return out;
    }
    if (d != "merge" && d != "delete")
      return Status::Invalid(path + ": unknown $patch directive " + d.dump());
  }
  if (patch.contains(kRetainKeys)) {
    const json& keep = patch[kRetainKeys];
    if (!keep.is_array()) return Status::Invalid(path + ": $retainKeys must be a list of keys");
    json kept = json::object();
    for (const auto& k : keep) {
      if (!k.is_string()) return Status::Invalid(path + ": $retainKeys must be a list of keys");
      if (result.contains(k.get<std::string>()))
        kept[k.get<std::string>()] = result[k.get<std::string>()];
    }
    result = std::move(kept);
  }
  std::map<std::string, const json*> orders, deletions;
  for (const auto& [k, v] : patch.items()) {
    std::string sub = path.empty() ? k : path + "." + k;
    if (k == kPatch || k == kRetainKeys) continue;
    if (k.rfind(kOrderPrefix, 0) == 0) {
      if (!v.is_array()) return Status::Invalid(sub + ": must be a list");
      orders[k.substr(kOrderPrefix.size())] = &v;
      continue;
    }
    if (k.rfind(kDeletePrefix, 0) == 0) {
      if (!v.is_array()) return Status::Invalid(sub + ": must be a list");
      deletions[k.substr(kDeletePrefix.size())] = &v;
      continue;
    }
    if (v.is_null()) {
      result.erase(k);
      continue;
    }
    const json* orig = result.contains(k) ? &result[k] : nullptr;
    auto merged = MergeValue(orig, v, k, sub);
    if (!merged.ok()) return merged.status();
    if (merged.value().is_null() && v.is_object()) {
      result.erase(k);  // "$patch": "delete"
    } else {
      result[k] = std::move(merged).value();
    }
  }
  for (const auto& [field, values] : deletions) {
    if (!result.contains(field) || !result[field].is_array()) continue;
    json kept = json::array();
    for (const auto& v : result[field]) {
      bool drop = false;
      for (const auto& d : *values)
        drop = drop || d == v;
      if (!drop) kept.push_back(v);
    }
    result[field] = std::move(kept);
  }
  for (const auto& [field, order] : orders) {
    if (!result.contains(field) || !result[field].is_array()) continue;
    auto k = MergeKeys().find(field);
    std::string key = k == MergeKeys().end() ? "" : k->second;
    result[field] = Reorder(result[field], *order, key, key.empty());
  }
  return result;
}

}  // namespace

Result<json> StrategicMergePatch(const json& original, const json& patch) {
  if (!patch.is_object()) return Status::Invalid("a strategic merge patch must be a JSON object");
  return MergeObject(original, patch, "");
}

}  // namespace tug::api
