// Runs the controllers on the Raft leader only.
//
// Leadership: a member starts the controllers once it leads and has applied everything
// committed before its term, and stops them the moment it stops leading (or leads again in a
// later term: what it cached may have missed the interim leader's writes). Starting builds a
// fresh shared cache (informer.h) and a fresh instance of every controller (controller.h);
// stopping destroys them, so late answers to a deposed leader's writes find nothing to touch.
// Every write carries the resourceVersion the controller read, so a deposed leader's late
// write cannot overwrite newer state.
//
// Level-triggered: the cache is fed by the store's watch, every change marks the affected work
// dirty, and a periodic resync marks everything dirty to repair what any missed event left.
//
// The controllers, in the order each round runs them: deployment_controller,
// scheduling_controller, node_lifecycle_controller, node_ipam_controller,
// endpoints_controller, event_gc_controller.
//
// Runs on the node's io thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "controlplane/controllers/controller.h"

namespace boost::asio {
class io_context;
}
namespace tug::store {
class Store;
class WatchHub;
}  // namespace tug::store

namespace tug::cp {

class ControllerManager {
 public:
  ControllerManager(boost::asio::io_context& io, store::Store& store, store::WatchHub& hub,
                    Registry& registry, ControllerOptions o);
  ~ControllerManager();

  // Starts checking for leadership (a timer).
  void Start();
  void Stop();

  // A worker node's heartbeat, delivered on the leader (dropped when not running: a new
  // leadership gives every node a fresh grace period anyway).
  void Heartbeat(const std::string& node);

  // Whether this member currently runs the controllers.
  bool running() const { return lead_ != nullptr; }
  // Whether the controllers hold a watch on the store (not a client's, for /metrics).
  bool watching() const;
  // Runs one round now (tests with a fake clock call this instead of waiting for the timer).
  void Tick();

 private:
  struct Timer;
  struct Leadership;
  void Become();
  void Lose(const std::string& why);
  void Kick();
  void Process();
  int64_t Now() const;

  boost::asio::io_context& io_;
  store::Store& store_;
  store::WatchHub& hub_;
  Registry& registry_;
  ControllerOptions opt_;
  std::unique_ptr<Timer> timer_;
  std::unique_ptr<Leadership> lead_;  // null when not running
  uint64_t epoch_ = 0;                // bumped at every start and stop: stale kicks do nothing
  bool kicked_ = false;
  int64_t last_resync_ = 0;
  // Expires with the manager: callbacks still queued on the io loop check it first.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace tug::cp
