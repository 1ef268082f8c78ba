// What every controller is and what it gets. A controller is one reconciling loop of the
// control plane (deployments, scheduling, node lifecycle, Event expiry, ...); adding one is a
// new file here and a line in manager.cpp, not an edit of the others.
//
// Lifetime: the ControllerManager (manager.h) creates every controller when this member
// starts leading and destroys them when it stops, so a controller's state lives exactly one
// leadership: nothing a deposed leader's controller learned leaks into a later term, and a
// write answered after the loss finds its controller gone (Finish() checks) and does nothing.
//
// The calls, all on the io thread, in this order each round:
// - OnChange: an object of a cached kind changed in the shared cache (informer.h). It runs
//   while the store applies a write: mark work, never write.
// - Resync: look at everything again (periodic; repairs whatever a missed event left).
// - Tick: time-based work (back-off that ran out, node liveness), every `tick_ms`.
// - Process: do the marked work. Writes go through the registry, each guarded by the
//   resourceVersion the controller read, so a stale write is a 409 that just means "look
//   again".
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "api/resource.h"
#include "controlplane/registry.h"

namespace tug {
class Clock;
}
namespace tug::store {
class Store;
}

namespace tug::cp {

class Informer;

struct ControllerOptions {
  bool enabled = true;  // false: never start (a member that serves the API only)
  int64_t node_grace_ms = 5000;
  int64_t resync_ms = 30000;
  int64_t tick_ms = 100;       // how often leadership and node liveness are checked
  int64_t event_ttl_s = 3600;  // Events older than this are deleted (as Kubernetes does)
  // --cluster-cidr: every Node gets a /node_cidr_prefix of it as spec.podCIDR.
  std::string cluster_cidr = "10.244.0.0/16";
  int node_cidr_prefix = 24;
  // --service-cidr: Services' cluster IPs (given out by the API server, not a controller).
  std::string service_cidr = "10.96.0.0/16";
  // The clock of every verdict (node liveness, back-off, resync, Event expiry); nullptr: the
  // machine's. Tests pass a FakeClock and move it. Must outlive the manager.
  const Clock* clock = nullptr;
};

// What the manager hands every controller of one leadership.
struct ControllerContext {
  Registry& registry;
  store::Store& store;
  const Informer& cache;
  const Clock& clock;
  const ControllerOptions& options;
  std::function<void()> kick;  // asks for a Process round soon (coalesced)

  int64_t NowMs() const;  // the controllers' clock, for durations and verdicts
  // The controllers' wall clock as a Kubernetes timestamp (Events, condition transitions).
  std::string WallStamp() const;
  // Writes an Event about `involved` (best effort: a failure is logged at debug level).
  void RecordEvent(const nlohmann::json& involved, const std::string& type,
                   const std::string& reason, const std::string& message,
                   const std::string& component) const;
};

class Controller {
 public:
  explicit Controller(ControllerContext& ctx) : ctx_(ctx) {}
  virtual ~Controller() = default;
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  virtual const char* name() const = 0;
  // `resource` is the plural ("pods"); `before`/`after` are null for a create/delete.
  virtual void OnChange(const std::string& /*resource*/, const std::string& /*key*/,
                        const nlohmann::json* /*before*/, const nlohmann::json* /*after*/) {}
  virtual void Resync() {}
  virtual void Tick() {}
  virtual void Process() {}

 protected:
  // Marks a write for `token` in flight; false if one already is (then skip it).
  bool Begin(const std::string& token) { return inflight_.insert(token).second; }
  bool InFlight(const std::string& token) const { return inflight_.count(token) > 0; }
  void End(const std::string& token) { inflight_.erase(token); }
  // The callback that ends it: logs a failure (a conflict or a vanished object just means
  // "look again") and asks for another round. Does nothing once the controller is gone.
  ReplyFn Finish(const std::string& token, const std::string& what);
  // Expires with the controller: callbacks still queued on the io loop check it first.
  std::weak_ptr<int> Alive() const { return alive_; }

  ControllerContext& ctx_;

 private:
  std::set<std::string> inflight_;  // tokens of writes not yet answered
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

// Small helpers the controllers share.
// The served kind with this plural name, whatever its group (a crash if none: a bug here).
const api::ResourceInfo& Kind(const char* plural);
// metadata.<field> as a string, "" if absent.
std::string Meta(const nlohmann::json& obj, const char* field);
// Replaces (or adds) the condition of the same type in `status.conditions`.
void SetCondition(nlohmann::json& obj, const nlohmann::json& cond);
// A write of `next` (the registry guards it with the resourceVersion it carries).
Registry::Mutation Replace(nlohmann::json next);

}  // namespace tug::cp
