// Label and field selectors, as Kubernetes writes them in `?labelSelector=` and
// `?fieldSelector=` (and `tugctl get -l`):
//
//   labels:  app=web, tier!=cache, env in (prod,staging), env notin (dev), canary, !legacy
//   fields:  spec.nodeName=node-a, status.phase!=Running, metadata.name==web-1
//
// Requirements separated by commas must all hold. An empty selector matches everything.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace tug::api {

struct Requirement {
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kNotExists };
  std::string key;
  Op op = Op::kEquals;
  std::vector<std::string> values;  // one for (not) equals, several for (not) in
};

class LabelSelector {
 public:
  // Errors say what was expected where: `unable to parse requirement: "a b": ...`.
  static Result<LabelSelector> Parse(const std::string& text);
  // From a Deployment's `matchLabels` map.
  static LabelSelector FromMatchLabels(const nlohmann::json& match_labels);

  // `labels` is a JSON object of strings (or null: no labels).
  bool Matches(const nlohmann::json& labels) const;
  bool empty() const { return reqs_.empty(); }
  const std::vector<Requirement>& requirements() const { return reqs_; }
  // Back to text, in the order given ("app=web,tier!=cache").
  std::string ToString() const;

 private:
  std::vector<Requirement> reqs_;
};

class FieldSelector {
 public:
  // Only =, == and != are allowed on fields (as in Kubernetes).
  static Result<FieldSelector> Parse(const std::string& text);

  // `value_of(field)` gives the object's value of a field ("" when unset).
  bool Matches(const std::function<std::string(const std::string&)>& value_of) const;
  bool empty() const { return reqs_.empty(); }
  const std::vector<Requirement>& requirements() const { return reqs_; }

 private:
  std::vector<Requirement> reqs_;
};

// The value of a dotted field path ("spec.nodeName") in an object, as a selector compares it:
// strings as they are, booleans and numbers as text, absent fields as "".
std::string FieldValue(const nlohmann::json& obj, const std::string& path);

}  // namespace tug::api
