// The controllers that make the cluster match what was asked, run by the Raft leader only:
//
// - deployment: creates and deletes a Deployment's pods so that `spec.replicas` of its
//   current template are alive, replaces failed ones, reports the status, deletes the pods
//   of a deleted Deployment;
// - scheduler: binds pending pods to nodes (scheduler/), or says on the pod why it cannot;
// - node lifecycle: worker heartbeats are kept in the leader's memory (never written); a node
//   silent for longer than the grace period is marked NotReady with one write and its pods
//   are failed (reason NodeLost) so that they are replaced elsewhere; a node that heartbeats
//   again is Ready again.
//
// Leadership: a member starts the controllers once it leads and has applied everything
// committed before its term, and stops them the moment it stops leading. A new leader gives
// every node a fresh grace period. Every write carries the resourceVersion the controller
// read, so a deposed leader's late write cannot overwrite newer state.
//
// Level-triggered: the leader's cache of objects is fed by the store's watch (so it is exactly
// the applied state), every change marks the affected work dirty, and a periodic resync marks
// everything dirty to repair what any missed event left behind.
//
// Runs on the node's io thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "controlplane/reconcile.h"
#include "controlplane/registry.h"

namespace boost::asio {
class io_context;
}
namespace tug::store {
class Store;
class WatchHub;
}  // namespace tug::store

namespace tug::cp {

struct ControllerOptions {
  bool enabled = true;  // false: never start (a member that serves the API only)
  int64_t node_grace_ms = 5000;
  int64_t resync_ms = 30000;
  int64_t tick_ms = 100;       // how often leadership and node liveness are checked
  int64_t event_ttl_s = 3600;  // Events older than this are deleted (as Kubernetes does)
  // The clock of every verdict (node liveness, back-off, resync, Event expiry); nullptr: the
  // machine's. Tests pass a FakeClock and move it. Must outlive the manager.
  const Clock* clock = nullptr;
};

class ControllerManager {
 public:
  ControllerManager(boost::asio::io_context& io, store::Store& node, store::WatchHub& hub,
                    Registry& registry, ControllerOptions o);
  ~ControllerManager();

  // Starts checking for leadership (a timer).
  void Start();
  void Stop();

  // A worker node's heartbeat, delivered on the leader.
  void Heartbeat(const std::string& node);

  // Whether this member currently runs the controllers.
  bool running() const { return running_; }
  // Whether the controllers hold a watch on the store (not a client's, for /metrics).
  bool watching() const { return watch_ != 0; }
  // Runs one round now (tests with a fake clock call this instead of waiting for the timer).
  void Tick();

 private:
  struct Timer;
  void Become();
  void Lose(const char* why);
  // Called while the store applies a write: updates the cache and marks work, never writes.
  void OnEvent(const std::string& key, const nlohmann::json* before, const nlohmann::json* after);
  void Kick();
  void Process();
  void SyncDeployment(const std::string& key);
  void HoldFailedPods(const std::string& key, const nlohmann::json& d,
                      const std::vector<nlohmann::json>& pods, DeploymentPlan* plan);
  void DeleteOrphans();
  void SchedulePending();
  void JudgeNodes();
  void CollectEvents();
  void RecordEvent(const nlohmann::json& involved, const std::string& type,
                   const std::string& reason, const std::string& message,
                   const std::string& component);
  // Marks a write for `token` in flight; false if one already is (then skip it).
  bool Begin(const std::string& token);
  // The callback that ends it: logs a failure (a conflict just means "look again") and asks
  // for another round.
  ReplyFn Finish(const std::string& token, const std::string& what);
  int64_t Now() const;
  // The controllers' wall clock as a Kubernetes timestamp (Events, condition transitions).
  std::string WallStamp() const;

  boost::asio::io_context& io_;
  store::Store& node_;
  store::WatchHub& hub_;
  Registry& registry_;
  ControllerOptions opt_;
  std::unique_ptr<Timer> timer_;

  bool running_ = false;
  uint64_t epoch_ = 0;  // bumped when leadership is lost: late callbacks are ignored
  uint64_t watch_ = 0;
  bool kicked_ = false;
  int64_t judging_since_ = 0;
  int64_t last_resync_ = 0;
  std::chrono::steady_clock::time_point last_judged_{};

  // The leader's cache: store key -> object (with resourceVersion), by kind.
  std::map<std::string, nlohmann::json> deployments_, pods_, nodes_;
  std::map<std::string, std::string> deployment_by_uid_;        // uid -> key
  std::map<std::string, std::set<std::string>> pods_by_owner_;  // owner uid -> pod keys

  std::set<std::string> dirty_deployments_;
  bool schedule_dirty_ = false;
  bool orphans_dirty_ = false;
  std::set<std::string> inflight_;                         // tokens of writes not yet answered
  std::map<std::string, int64_t> heartbeats_;              // node name -> last heartbeat (ms)
  std::map<std::string, std::string> unschedulable_said_;  // pod key -> message written
  std::map<std::string, std::string> assumed_;             // "ns/name" -> node of a bind in flight
  std::map<std::string, std::string> failure_said_;        // deployment key -> last FailedCreate
  // Pods that keep failing are replaced with back-off (see SyncDeployment).
  struct ReplaceBackoff {
    int streak = 0;                 // failures in a row without the deployment becoming healthy
    int64_t until_ms = 0;           // failed pods are kept (not replaced) until then
    std::set<std::string> counted;  // failed pods' uids already counted
  };
  std::map<std::string, ReplaceBackoff> replace_backoff_;  // deployment key ->
  std::set<std::string> held_deployments_;                 // with failed pods held back
  uint64_t term_ = 0;  // the term this member started the controllers in
  // Expires with the manager: callbacks still queued on the io loop check it first.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace tug::cp
