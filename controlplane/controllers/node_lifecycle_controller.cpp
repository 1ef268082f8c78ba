#include "controlplane/controllers/node_lifecycle_controller.h"

#include <set>

#include "api/validation.h"
#include "controlplane/controllers/informer.h"
#include "controlplane/reconcile.h"

namespace tug::cp {

using nlohmann::json;

namespace {

bool NodeIsReady(const json& node) {
  if (!node.contains("status") || !node["status"].is_object()) return false;
  const json& st = node["status"];
  if (!st.contains("conditions") || !st["conditions"].is_array()) return false;
  for (const auto& c : st["conditions"]) {
    if (api::StringField(c, "type") == "Ready") return api::StringField(c, "status") == "True";
  }
  return false;
}

}  // namespace

NodeLifecycleController::NodeLifecycleController(ControllerContext& ctx)
    : Controller(ctx), judging_since_(ctx.NowMs()) {}

void NodeLifecycleController::Tick() {
  // Liveness is judged a few times per grace period, not on every tick: it looks at every
  // node, and a thousand nodes heartbeating must cost the leader little.
  // (The cadence is real time; the verdicts use the controllers' clock, fake in tests.)
  auto real_now = std::chrono::steady_clock::now();
  if (real_now - last_judged_ >=
      std::chrono::milliseconds(std::min<int64_t>(ctx_.options.node_grace_ms / 10, 250))) {
    last_judged_ = real_now;
    Judge();
  }
}

void NodeLifecycleController::Judge() {
  int64_t now = ctx_.NowMs();
  int64_t grace = ctx_.options.node_grace_ms;
  std::set<std::string> down;
  for (const auto& [key, n] : ctx_.cache.List("nodes")) {
    std::string name = Meta(n, "name");
    bool ready = NodeIsReady(n);
    auto hb = heartbeats_.find(name);
    int64_t last = hb == heartbeats_.end() ? 0 : hb->second;
    bool alive = NodeAlive(last, judging_since_, now, grace);
    bool heard = hb != heartbeats_.end() && now - last <= grace;
    std::string token = "node:" + key;
    if (!ready) down.insert(name);
    if (ready == alive || (!ready && !heard) || InFlight(token)) continue;
    json next = n;
    std::string stamp = ctx_.WallStamp();
    if (ready) {
      std::string message = "tug-agent stopped sending heartbeats: none for more than " +
                            std::to_string(grace) + " ms";
      SetCondition(next, ReadyCondition(false, "NodeStatusUnknown", message, stamp));
      ctx_.RecordEvent(n, "Warning", "NodeNotReady", "Node " + name + " is NotReady: " + message,
                       "node-controller");
    } else {
      SetCondition(next,
                   ReadyCondition(true, "AgentReady", "tug-agent is sending heartbeats", stamp));
      ctx_.RecordEvent(n, "Normal", "NodeReady", "Node " + name + " is Ready again",
                       "node-controller");
    }
    Begin(token);
    ctx_.registry.Update(Kind("nodes"), "", name, Registry::Part::kStatus, Replace(next),
                         Finish(token, "set node " + name + (ready ? " NotReady" : " Ready")));
  }
  if (down.empty()) return;
  // The pods of a node that is down are lost: fail them so that they are replaced.
  for (const auto& [key, p] : ctx_.cache.List("pods")) {
    std::string node = PodNode(p);
    if (node.empty() || !down.count(node) || PodTerminal(p)) continue;
    std::string token = "fail:" + key;
    if (!Begin(token)) continue;
    json next = p;
    if (!next.contains("status") || !next["status"].is_object()) next["status"] = json::object();
    next["status"]["phase"] = "Failed";
    next["status"]["reason"] = "NodeLost";
    next["status"]["message"] =
        "Node " + node + " which was running pod " + Meta(p, "name") + " is unresponsive";
    SetCondition(next, {{"type", "Ready"}, {"status", "False"}, {"reason", "NodeLost"}});
    ctx_.registry.Update(Kind("pods"), Meta(p, "namespace"), Meta(p, "name"),
                         Registry::Part::kStatus, Replace(next),
                         Finish(token, "fail pod " + Meta(p, "name") + " on lost node"));
  }
}

}  // namespace tug::cp
