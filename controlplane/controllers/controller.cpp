#include "controlplane/controllers/controller.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "api/timestamp.h"
#include "api/validation.h"
#include "base/check.h"
#include "base/clock.h"

namespace tug::cp {

using nlohmann::json;

namespace {

std::string Field(const json& obj, const char* k) {
  return api::StringField(obj, k);
}

// The involvedObject of an Event about `obj`.
json Involved(const json& obj) {
  json o = {{"kind", Field(obj, "kind")},
            {"apiVersion", Field(obj, "apiVersion")},
            {"name", Meta(obj, "name")},
            {"uid", Meta(obj, "uid")}};
  if (!Meta(obj, "namespace").empty()) o["namespace"] = Meta(obj, "namespace");
  return o;
}

}  // namespace

int64_t ControllerContext::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.Now().time_since_epoch())
      .count();
}

std::string ControllerContext::WallStamp() const {
  return api::FormatRfc3339(
      std::chrono::duration_cast<std::chrono::seconds>(clock.WallNow().time_since_epoch()).count());
}

void ControllerContext::RecordEvent(const json& involved, const std::string& type,
                                    const std::string& reason, const std::string& message,
                                    const std::string& component) const {
  std::string ns = Meta(involved, "namespace");
  if (ns.empty()) ns = "default";  // events about cluster-scoped objects
  std::string stamp = WallStamp();
  json ev = {{"apiVersion", "v1"},
             {"kind", "Event"},
             {"metadata", {{"generateName", Meta(involved, "name") + "."}, {"namespace", ns}}},
             {"involvedObject", Involved(involved)},
             {"type", type},
             {"reason", reason},
             {"message", message},
             {"source", {{"component", component}}},
             {"count", 1},
             {"firstTimestamp", stamp},
             {"lastTimestamp", stamp}};
  registry.Create(Kind("events"), ns, std::move(ev), [reason](Reply r) {
    if (!r.ok()) spdlog::debug("event {} not recorded: {}", reason, r.message());
  });
}

ReplyFn Controller::Finish(const std::string& token, const std::string& what) {
  return [this, alive = Alive(), token, what, controller = std::string(name())](Reply r) {
    if (alive.expired()) return;  // leadership ended meanwhile: nothing of ours is left
    inflight_.erase(token);
    if (!r.ok() && r.code != 404 && r.code != 409)
      spdlog::warn("{} controller: {} failed: {}", controller, what, r.message());
    ctx_.kick();
  };
}

const api::ResourceInfo& Kind(const char* plural) {
  // The controllers name only kinds Tug serves, each plural once: anything else is a bug.
  const api::ResourceInfo* found = nullptr;
  for (const auto& r : api::Resources()) {
    if (r.name != plural) continue;
    TUG_CHECK(found == nullptr, std::string("two served kinds are named ") + plural);
    found = &r;
  }
  TUG_CHECK(found != nullptr, std::string("no served kind is named ") + plural);
  return *found;
}

std::string Meta(const json& obj, const char* field) {
  if (!obj.is_object() || !obj.contains("metadata") || !obj["metadata"].is_object()) return "";
  return api::StringField(obj["metadata"], field);
}

void SetCondition(json& obj, const json& cond) {
  if (!obj.contains("status") || !obj["status"].is_object()) obj["status"] = json::object();
  json& conds = obj["status"]["conditions"];
  if (!conds.is_array()) conds = json::array();
  for (auto& c : conds) {
    if (api::StringField(c, "type") == cond["type"]) {
      c = cond;
      return;
    }
  }
  conds.push_back(cond);
}

Registry::Mutation Replace(json next) {
  return [next = std::move(next)](const json&) -> std::variant<json, Reply> { return next; };
}

}  // namespace tug::cp
