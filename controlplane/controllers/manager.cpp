#include "controlplane/controllers/manager.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <vector>

#include "base/clock.h"
#include "controlplane/controllers/deployment_controller.h"
#include "controlplane/controllers/endpoints_controller.h"
#include "controlplane/controllers/event_gc_controller.h"
#include "controlplane/controllers/informer.h"
#include "controlplane/controllers/node_ipam_controller.h"
#include "controlplane/controllers/node_lifecycle_controller.h"
#include "controlplane/controllers/scheduling_controller.h"
#include "raftstore/store.h"

namespace tug::cp {

struct ControllerManager::Timer {
  explicit Timer(boost::asio::io_context& io) : t(io) {}
  boost::asio::steady_timer t;
};

// Everything that lives for one leadership.
struct ControllerManager::Leadership {
  uint64_t term = 0;  // the term this member started the controllers in
  std::unique_ptr<Informer> cache;
  std::unique_ptr<ControllerContext> ctx;
  std::vector<std::unique_ptr<Controller>> controllers;
  NodeLifecycleController* nodes = nullptr;  // one of `controllers`, for heartbeats
};

ControllerManager::ControllerManager(boost::asio::io_context& io, store::Store& store,
                                     store::WatchHub& hub, Registry& registry, ControllerOptions o)
    : io_(io),
      store_(store),
      hub_(hub),
      registry_(registry),
      opt_(std::move(o)),
      timer_(std::make_unique<Timer>(io)) {
  if (opt_.clock == nullptr) opt_.clock = &SystemClock();
}

ControllerManager::~ControllerManager() {
  Stop();
}

int64_t ControllerManager::Now() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(opt_.clock->Now().time_since_epoch())
      .count();
}

bool ControllerManager::watching() const {
  return lead_ && lead_->cache->watching();
}

void ControllerManager::Start() {
  if (!opt_.enabled) return;
  timer_->t.expires_after(std::chrono::milliseconds(opt_.tick_ms));
  timer_->t.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    Start();  // first: a tick that fails must not end the controllers for good
    try {
      Tick();
    } catch (const std::exception& e) {
      spdlog::error("controllers: unexpected error in a tick, carrying on: {}", e.what());
    }
  });
}

void ControllerManager::Stop() {
  timer_->t.cancel();
  Lose("stopping");
}

void ControllerManager::Heartbeat(const std::string& node) {
  if (lead_) lead_->nodes->Heartbeat(node);
}

void ControllerManager::Tick() {
  if (lead_ && (!store_.is_leader() || store_.term() != lead_->term))
    Lose("this member is no longer the leader of the term it started in");
  if (!lead_ && store_.LeaderCaughtUp()) Become();
  if (!lead_) return;
  if (Now() - last_resync_ >= opt_.resync_ms) {
    last_resync_ = Now();
    for (auto& c : lead_->controllers)
      c->Resync();
  }
  for (auto& c : lead_->controllers)
    c->Tick();
  Process();
}

void ControllerManager::Become() {
  auto lead = std::make_unique<Leadership>();
  lead->term = store_.term();
  uint64_t epoch = ++epoch_;
  lead->cache = std::make_unique<Informer>(
      store_, hub_,
      std::map<std::string, bool>{{"deployments", true},
                                  {"pods", true},
                                  {"nodes", false},
                                  {"services", true},
                                  {"endpoints", false}},
      [l = lead.get()](const std::string& resource, const std::string& key,
                       const nlohmann::json* before, const nlohmann::json* after) {
        for (auto& c : l->controllers)
          c->OnChange(resource, key, before, after);
      },
      [this, alive = std::weak_ptr<int>(alive_), epoch](const std::string& why) {
        if (!alive.expired() && epoch == epoch_) Lose(why);
      });
  lead->ctx.reset(new ControllerContext{registry_, store_, *lead->cache, *opt_.clock, opt_,
                                        [this] { Kick(); }});
  auto nodes = std::make_unique<NodeLifecycleController>(*lead->ctx);
  lead->nodes = nodes.get();
  lead->controllers.push_back(std::make_unique<DeploymentController>(*lead->ctx));
  lead->controllers.push_back(std::make_unique<SchedulingController>(*lead->ctx));
  lead->controllers.push_back(std::move(nodes));
  lead->controllers.push_back(std::make_unique<NodeIpamController>(*lead->ctx));
  lead->controllers.push_back(std::make_unique<EndpointsController>(*lead->ctx));
  lead->controllers.push_back(std::make_unique<EventGcController>(*lead->ctx));
  lead_ = std::move(lead);
  last_resync_ = Now();
  Status started = lead_->cache->Start();
  if (!started.ok()) {
    Lose(started.message());
    return;
  }
  spdlog::info("controllers started: {} deployments, {} pods, {} nodes (nodes get {} ms of grace)",
               lead_->cache->List("deployments").size(), lead_->cache->List("pods").size(),
               lead_->cache->List("nodes").size(), opt_.node_grace_ms);
  for (auto& c : lead_->controllers)
    c->Resync();
  Kick();
}

void ControllerManager::Lose(const std::string& why) {
  if (!lead_) return;
  spdlog::info("controllers stopped: {}", why);
  ++epoch_;
  // Controllers first: they hold references to the cache and context.
  auto lead = std::move(lead_);
  lead->controllers.clear();
}

void ControllerManager::Kick() {
  if (kicked_ || !lead_) return;
  kicked_ = true;
  boost::asio::post(io_, [this, alive = std::weak_ptr<int>(alive_), epoch = epoch_] {
    if (alive.expired()) return;
    kicked_ = false;
    if (lead_ && epoch == epoch_) Process();
  });
}

void ControllerManager::Process() {
  if (!lead_) return;
  if (!store_.is_leader() || store_.term() != lead_->term) {
    Lose("this member is no longer the leader of the term it started in");
    return;
  }
  for (auto& c : lead_->controllers) {
    c->Process();
    if (!lead_) return;
  }
}

}  // namespace tug::cp
