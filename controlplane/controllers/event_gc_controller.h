// Deletes Events older than `event_ttl_s` (an hour by default, as Kubernetes does), judged by
// their lastTimestamp (or creation time), at every resync. Events are not cached: there may be
// many, and this reads them once per resync straight from the store.
#pragma once

#include "controlplane/controllers/controller.h"

namespace tug::cp {

class EventGcController : public Controller {
 public:
  using Controller::Controller;
  const char* name() const override { return "event-gc"; }
  void Resync() override { due_ = true; }
  void Process() override;

 private:
  bool due_ = false;
};

}  // namespace tug::cp
