// The node lifecycle controller. Worker heartbeats are kept in the leader's memory (never
// written: a thousand nodes heartbeating must not be a thousand Raft writes a second). A node
// silent for longer than the grace period is marked NotReady with one write and its pods are
// failed (reason NodeLost) so that the Deployment controller replaces them elsewhere; a node
// that heartbeats again is Ready again. A new leader gives every node a fresh grace period
// (only heartbeats it received itself count).
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "controlplane/controllers/controller.h"

namespace tug::cp {

class NodeLifecycleController : public Controller {
 public:
  explicit NodeLifecycleController(ControllerContext& ctx);
  const char* name() const override { return "node-lifecycle"; }
  void Tick() override;

  // A worker's heartbeat, received by the leader.
  void Heartbeat(const std::string& node) { heartbeats_[node] = ctx_.NowMs(); }

 private:
  void Judge();

  int64_t judging_since_;                      // when this leadership began, on ctx_.clock
  std::map<std::string, int64_t> heartbeats_;  // node name -> last heartbeat (ms)
  std::chrono::steady_clock::time_point last_judged_{};
};

}  // namespace tug::cp
