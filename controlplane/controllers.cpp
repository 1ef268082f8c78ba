#include "controlplane/controllers.h"

#include "api/timestamp.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <random>

#include "api/node.h"
#include "api/resource.h"
#include "api/validation.h"
#include "base/check.h"
#include "controlplane/reconcile.h"
#include "raftstore/store.h"
#include "raftstore/watch_hub.h"

namespace tug::cp {

using nlohmann::json;

namespace {

const std::string kDeployments = "/registry/deployments/";
const std::string kPods = "/registry/pods/";
const std::string kNodes = "/registry/nodes/";

constexpr int kMaxCreatesPerRound = 256;

// The served kind with this plural name, whatever its group. The controllers name only kinds
// Tug serves, each plural once: anything else is a bug in this file.
const api::ResourceInfo& Kind(const char* name) {
  const api::ResourceInfo* found = nullptr;
  for (const auto& r : api::Resources()) {
    if (r.name != name) continue;
    TUG_CHECK(found == nullptr, std::string("two served kinds are named ") + name);
    found = &r;
  }
  TUG_CHECK(found != nullptr, std::string("no served kind is named ") + name);
  return *found;
}

bool StartsWith(const std::string& s, const std::string& p) {
  return s.rfind(p, 0) == 0;
}

std::string Meta(const json& obj, const char* field) {
  if (!obj.is_object() || !obj.contains("metadata") || !obj["metadata"].is_object()) return "";
  return api::StringField(obj["metadata"], field);
}

// Up to five names, then how many more: for Event messages about many pods.
std::string Names(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < 5; ++i)
    out += (i ? ", " : "") + names[i];
  if (names.size() > 5) out += " and " + std::to_string(names.size() - 5) + " more";
  return out;
}

std::string RandomSuffix() {
  static const char* kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  thread_local std::mt19937 rng{std::random_device{}()};
  std::string s;
  for (int i = 0; i < 5; ++i)
    s += kAlphabet[rng() % 27];
  return s;
}

// The involvedObject of an Event about `obj`.
json Involved(const json& obj) {
  json o = {{"kind", api::StringField(obj, "kind")},
            {"apiVersion", api::StringField(obj, "apiVersion")},
            {"name", Meta(obj, "name")},
            {"uid", Meta(obj, "uid")}};
  if (!Meta(obj, "namespace").empty()) o["namespace"] = Meta(obj, "namespace");
  return o;
}

// Replaces (or adds) the condition of the same type in `status.conditions`.
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

bool NodeIsReady(const json& node) {
  if (!node.contains("status") || !node["status"].is_object()) return false;
  const json& st = node["status"];
  if (!st.contains("conditions") || !st["conditions"].is_array()) return false;
  for (const auto& c : st["conditions"]) {
    if (api::StringField(c, "type") == "Ready") return api::StringField(c, "status") == "True";
  }
  return false;
}

// A write of `next` guarded by the resourceVersion the controller read.
Registry::Mutation Guarded(json next) {
  return [next = std::move(next)](const json&) -> std::variant<json, Reply> { return next; };
}

}  // namespace

struct ControllerManager::Timer {
  explicit Timer(boost::asio::io_context& io) : t(io) {}
  boost::asio::steady_timer t;
};

ControllerManager::ControllerManager(boost::asio::io_context& io, store::Store& node,
                                     store::WatchHub& hub, Registry& registry, ControllerOptions o)
    : io_(io),
      node_(node),
      hub_(hub),
      registry_(registry),
      opt_(std::move(o)),
      timer_(std::make_unique<Timer>(io)) {
  if (opt_.clock == nullptr) opt_.clock = &SystemClock();
}

ControllerManager::~ControllerManager() {
  Stop();
}

std::string ControllerManager::WallStamp() const {
  return api::FormatRfc3339(
      std::chrono::duration_cast<std::chrono::seconds>(opt_.clock->WallNow().time_since_epoch())
          .count());
}

int64_t ControllerManager::Now() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(opt_.clock->Now().time_since_epoch())
      .count();
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
  if (running_) Lose("stopping");
}

void ControllerManager::Heartbeat(const std::string& node) {
  heartbeats_[node] = Now();
}

void ControllerManager::Tick() {
  // Leading again in a later term is a new leadership: what was cached may have missed the
  // interim leader's writes. Start over.
  if (running_ && (!node_.is_leader() || node_.term() != term_))
    Lose("this member is no longer the leader of the term it started in");
  if (!running_ && node_.LeaderCaughtUp()) Become();
  if (!running_) return;
  if (Now() - last_resync_ >= opt_.resync_ms) {
    last_resync_ = Now();
    for (const auto& [key, d] : deployments_)
      dirty_deployments_.insert(key);
    schedule_dirty_ = true;
    orphans_dirty_ = true;
    CollectEvents();
  }
  // Deployments whose failed pods are held: look again once their back-off has passed.
  for (auto it = held_deployments_.begin(); it != held_deployments_.end();) {
    auto b = replace_backoff_.find(*it);
    if (b == replace_backoff_.end() || Now() >= b->second.until_ms) {
      dirty_deployments_.insert(*it);
      it = held_deployments_.erase(it);
    } else {
      ++it;
    }
  }
  // Liveness is judged a few times per grace period, not on every tick: it looks at every
  // node, and a thousand nodes heartbeating must cost the leader little.
  // (The cadence is real time; the verdicts use the controllers' clock, fake in tests.)
  auto real_now = std::chrono::steady_clock::now();
  if (real_now - last_judged_ >=
      std::chrono::milliseconds(std::min<int64_t>(opt_.node_grace_ms / 10, 250))) {
    last_judged_ = real_now;
    JudgeNodes();
  }
  Process();
}

void ControllerManager::Become() {
  ++epoch_;
  running_ = true;
  term_ = node_.term();
  judging_since_ = Now();
  last_resync_ = Now();
  heartbeats_.clear();  // only heartbeats received while leading count
  storepb::RangeRequest rr;
  rr.set_key("/registry/");
  rr.set_range_end(Registry::PrefixEnd("/registry/"));
  auto all = node_.kv().Range(rr);
  for (const auto& kv : all.response.kvs()) {
    auto obj = Registry::Decode(kv.value(), kv.mod_revision());
    if (obj.ok()) OnEvent(kv.key(), nullptr, &obj.value());
  }
  auto id = hub_.Watch(
      "/registry/", Registry::PrefixEnd("/registry/"), node_.kv().revision() + 1,
      [this, alive = std::weak_ptr<int>(alive_), epoch = epoch_](const store::WatchUpdate& u) {
        if (alive.expired()) return false;
        if (epoch != epoch_) return false;
        if (u.canceled) {
          watch_ = 0;
          Lose("the store was replaced by a snapshot");
          return false;
        }
        for (const auto& e : u.events) {
          const std::string& key =
              e.type() == storepb::Event::PUT ? e.kv().key() : e.prev_kv().key();
          std::optional<json> before, after;
          if (e.has_prev_kv() && !e.prev_kv().key().empty()) {
            auto b = Registry::Decode(e.prev_kv().value(), e.prev_kv().mod_revision());
            if (b.ok()) before = std::move(b).value();
          }
          if (e.type() == storepb::Event::PUT) {
            auto a = Registry::Decode(e.kv().value(), e.kv().mod_revision());
            if (a.ok()) after = std::move(a).value();
          }
          OnEvent(key, before ? &*before : nullptr, after ? &*after : nullptr);
        }
        return true;
      });
  if (!id.ok()) {
    Lose(id.status().message().c_str());
    return;
  }
  watch_ = id.value();
  spdlog::info("controllers started: {} deployments, {} pods, {} nodes (nodes get {} ms of grace)",
               deployments_.size(), pods_.size(), nodes_.size(), opt_.node_grace_ms);
  schedule_dirty_ = true;
  orphans_dirty_ = true;
  Kick();
}

void ControllerManager::Lose(const char* why) {
  if (!running_) return;
  spdlog::info("controllers stopped: {}", why);
  running_ = false;
  ++epoch_;
  if (watch_) hub_.Cancel(watch_);
  watch_ = 0;
  deployments_.clear();
  pods_.clear();
  nodes_.clear();
  deployment_by_uid_.clear();
  pods_by_owner_.clear();
  dirty_deployments_.clear();
  inflight_.clear();
  unschedulable_said_.clear();
  failure_said_.clear();
  assumed_.clear();
  schedule_dirty_ = false;
  orphans_dirty_ = false;
}

void ControllerManager::OnEvent(const std::string& key, const json* before, const json* after) {
  // Objects written around the API (raw /v3 puts) may have any shape: the controllers only
  // look at ones with an object spec, and treat the others as absent.
  auto usable = [](const json* o) {
    return o && o->contains("spec") && (*o)["spec"].is_object() &&
           (!o->contains("status") || (*o)["status"].is_object() || (*o)["status"].is_null());
  };
  if (!StartsWith(key, kNodes)) {
    if (!usable(before)) before = nullptr;
    if (!usable(after)) after = nullptr;
  }
  if (StartsWith(key, kDeployments)) {
    if (after) {
      deployments_[key] = *after;
      deployment_by_uid_[Meta(*after, "uid")] = key;
      dirty_deployments_.insert(key);
    } else {
      deployments_.erase(key);
      if (before) deployment_by_uid_.erase(Meta(*before, "uid"));
      // Its pods go with it (later, in Process: this runs while the store applies a write).
      orphans_dirty_ = true;
    }
  } else if (StartsWith(key, kPods)) {
    std::string owner_before = before ? PodOwner(*before) : "";
    std::string owner_after = after ? PodOwner(*after) : "";
    if (!owner_before.empty()) pods_by_owner_[owner_before].erase(key);
    bool wants_scheduling = !after || (PodNode(*after).empty() && !PodTerminal(*after)) ||
                            (PodTerminal(*after) && !(before && PodTerminal(*before)));
    if (after) {
      pods_[key] = *after;
      if (!owner_after.empty()) pods_by_owner_[owner_after].insert(key);
    } else {
      pods_.erase(key);
      unschedulable_said_.erase(key);
    }
    for (const auto& owner : {owner_before, owner_after}) {
      auto d = deployment_by_uid_.find(owner);
      if (d != deployment_by_uid_.end()) dirty_deployments_.insert(d->second);
    }
    if (wants_scheduling) schedule_dirty_ = true;
  } else if (StartsWith(key, kNodes)) {
    if (after) {
      nodes_[key] = *after;
    } else {
      nodes_.erase(key);
    }
    schedule_dirty_ = true;
  } else {
    return;
  }
  Kick();
}

void ControllerManager::Kick() {
  if (kicked_ || !running_) return;
  kicked_ = true;
  boost::asio::post(io_, [this, alive = std::weak_ptr<int>(alive_), epoch = epoch_] {
    if (alive.expired()) return;
    kicked_ = false;
    if (running_ && epoch == epoch_) Process();
  });
}

void ControllerManager::Process() {
  if (!running_) return;
  if (!node_.is_leader() || node_.term() != term_) {
    Lose("this member is no longer the leader of the term it started in");
    return;
  }
  if (orphans_dirty_) {
    orphans_dirty_ = false;
    DeleteOrphans();
  }
  auto dirty = std::move(dirty_deployments_);
  dirty_deployments_.clear();
  for (const auto& key : dirty)
    SyncDeployment(key);
  if (schedule_dirty_) {
    schedule_dirty_ = false;
    SchedulePending();
  }
}

bool ControllerManager::Begin(const std::string& token) {
  return inflight_.insert(token).second;
}

ReplyFn ControllerManager::Finish(const std::string& token, const std::string& what) {
  return [this, alive = std::weak_ptr<int>(alive_), token, what, epoch = epoch_](Reply r) {
    // Leadership changed meanwhile (or the controllers are gone): nothing of ours is left.
    if (alive.expired() || epoch != epoch_) return;
    inflight_.erase(token);
    if (!r.ok() && r.code != 404 && r.code != 409) {
      spdlog::warn("controller: {} failed: {}", what, r.message());
    }
    Kick();
  };
}

// Kubernetes replaces a failed pod at once, every time; a pod that fails as soon as it starts
// (an image no node can run, a command that exits at once with restartPolicy Never) then
// becomes a loop of creates and deletes, a few Raft writes each, as fast as the agents
// report, and the failed pods vanish before anyone reads why they failed. Here failures in a
// row are replaced after 0 s, 1 s, 2 s, ... up to 5 min, and the failed pods stay (with their
// reason) until then. Pods that failed because their node was lost are not the pods' fault:
// they are replaced at once. The streak ends when the deployment has all its replicas ready.
void ControllerManager::HoldFailedPods(const std::string& key, const json& d,
                                       const std::vector<json>& pods, DeploymentPlan* plan) {
  ReplaceBackoff& b = replace_backoff_[key];
  auto integer = [](const json& obj, const char* k, int64_t dflt) {
    return obj.is_object() && obj.contains(k) && obj[k].is_number_integer() ? obj[k].get<int64_t>()
                                                                            : dflt;
  };
  int64_t want = integer(d.contains("spec") ? d["spec"] : json(), "replicas", 1);
  int64_t ready = integer(d.contains("status") ? d["status"] : json(), "readyReplicas", 0);
  if (want > 0 && ready >= want) {
    b.streak = 0;
    b.counted.clear();
  }
  // Only pods of the current template are held: a fixed template is rolled out at once.
  const json& tmpl = d.contains("spec") && d["spec"].is_object() && d["spec"].contains("template")
                         ? d["spec"]["template"]
                         : json();
  std::string hash = TemplateHash(tmpl);
  std::vector<std::string> failed;
  bool new_failure = false;
  std::set<std::string> still_failed;
  for (const auto& p : pods) {
    if (!PodTerminal(p)) continue;
    const json& ps = p.contains("status") ? p["status"] : json();
    if (api::StringField(ps, "reason") == "NodeLost") continue;
    const json& md = p.contains("metadata") ? p["metadata"] : json();
    const json& labels = md.is_object() && md.contains("labels") ? md["labels"] : json();
    if (api::StringField(labels, "pod-template-hash") != hash) continue;
    std::string uid = Meta(p, "uid");
    failed.push_back(uid);
    still_failed.insert(uid);
    new_failure = b.counted.insert(uid).second || new_failure;
  }
  // A round of failures counts once, however many replicas failed in it.
  if (new_failure) {
    int64_t delay =
        b.streak == 0 ? 0 : std::min<int64_t>(300'000, int64_t{1000} << std::min(b.streak - 1, 20));
    b.until_ms = std::max(b.until_ms, Now() + delay);
    ++b.streak;
  }
  b.counted = std::move(still_failed);
  if (failed.empty() || Now() >= b.until_ms) return;
  // Keep them, and do not count them as missing yet.
  std::set<std::string> held(failed.begin(), failed.end());
  auto& rm = plan->remove;
  size_t before = rm.size();
  rm.erase(std::remove_if(rm.begin(), rm.end(),
                          [&](const json& p) { return held.count(Meta(p, "uid")) > 0; }),
           rm.end());
  plan->create = std::max(0, plan->create - static_cast<int>(before - rm.size()));
  held_deployments_.insert(key);
}

void ControllerManager::SyncDeployment(const std::string& key) {
  auto it = deployments_.find(key);
  if (it == deployments_.end()) {
    replace_backoff_.erase(key);
    return;
  }
  std::string token = "sync:" + key;
  if (inflight_.count(token)) return;  // marked dirty again when its writes finish
  const json d = it->second;
  std::string uid = Meta(d, "uid"), ns = Meta(d, "namespace"), name = Meta(d, "name");
  std::vector<json> pods;
  auto owned = pods_by_owner_.find(uid);
  if (owned != pods_by_owner_.end()) {
    for (const auto& pk : owned->second) {
      auto p = pods_.find(pk);
      if (p != pods_.end()) pods.push_back(p->second);
    }
  }
  DeploymentPlan plan = ReconcileDeployment(d, pods);
  HoldFailedPods(key, d, pods, &plan);
  // Big scale-ups go in rounds (the next starts when this one is answered), so a million
  // replicas do not become a million proposals at once.
  plan.create = std::min(plan.create, kMaxCreatesPerRound);
  bool status_changed = plan.status != d.value("status", json::object());
  size_t writes = static_cast<size_t>(plan.create) + plan.remove.size() + (status_changed ? 1 : 0);
  if (writes == 0) return;
  inflight_.insert(token);
  // One Event per kind of action per round, named after what was done.
  struct Round {
    size_t left;
    std::vector<std::string> created, deleted;
    std::string failure;  // the first error, if any write failed
  };
  auto round = std::make_shared<Round>(Round{writes, {}, {}, ""});
  auto done = [this, alive = std::weak_ptr<int>(alive_), round, token, key, d, epoch = epoch_]() {
    if (alive.expired() || epoch != epoch_ || --round->left > 0) return;
    inflight_.erase(token);
    if (!round->failure.empty()) {
      // Say it once per distinct failure, and look again on the next tick rather than at
      // once: a pod the API refuses would otherwise be retried in a tight loop.
      if (failure_said_[key] != round->failure) {
        failure_said_[key] = round->failure;
        RecordEvent(d, "Warning", "FailedCreate", round->failure, "deployment-controller");
      }
      dirty_deployments_.insert(key);
      return;
    }
    failure_said_.erase(key);
    if (!round->created.empty()) {
      RecordEvent(d, "Normal", "SuccessfulCreate", "Created pod(s): " + Names(round->created),
                  "deployment-controller");
    }
    if (!round->deleted.empty()) {
      RecordEvent(d, "Normal", "SuccessfulDelete", "Deleted pod(s): " + Names(round->deleted),
                  "deployment-controller");
    }
    dirty_deployments_.insert(key);  // look again with the results in the cache
    Kick();
  };
  for (int i = 0; i < plan.create; ++i) {
    json pod = PodForDeployment(d, RandomSuffix());
    std::string pod_name = pod["metadata"]["name"];
    registry_.Create(Kind("pods"), ns, std::move(pod), [round, done, pod_name](Reply r) {
      if (r.ok()) {
        round->created.push_back(pod_name);
      } else if (r.code != 409 && round->failure.empty()) {
        round->failure = "Error creating pod: " + r.message();
      }
      done();
    });
  }
  for (const auto& p : plan.remove) {
    std::string pod_name = Meta(p, "name");
    registry_.Delete(Kind("pods"), ns, pod_name, Meta(p, "resourceVersion"),
                     [round, done, pod_name](Reply r) {
                       if (r.ok()) round->deleted.push_back(pod_name);
                       done();
                     });
  }
  if (status_changed) {
    json next = d;
    next["status"] = plan.status;
    registry_.Update(Kind("deployments"), ns, name, Registry::Part::kStatus, Guarded(next),
                     [done](Reply) { done(); });
  }
}

void ControllerManager::DeleteOrphans() {
  for (const auto& [owner, keys] : pods_by_owner_) {
    if (owner.empty() || deployment_by_uid_.count(owner)) continue;
    for (const auto& pk : keys) {
      auto p = pods_.find(pk);
      if (p == pods_.end()) continue;
      std::string token = "delete:" + pk;
      if (!Begin(token)) continue;
      registry_.Delete(Kind("pods"), Meta(p->second, "namespace"), Meta(p->second, "name"),
                       Meta(p->second, "resourceVersion"), Finish(token, "delete orphaned pod"));
    }
  }
}

void ControllerManager::SchedulePending() {
  std::vector<const json*> nodes, pods;
  for (const auto& [k, n] : nodes_)
    nodes.push_back(&n);
  for (const auto& [k, p] : pods_)
    pods.push_back(&p);
  SchedulingInput in = BuildSchedulingInput(nodes, pods, assumed_);
  std::vector<sched::PodRequest> pending = std::move(in.pending);
  if (pending.empty()) return;
  sched::Decision decision = sched::Schedule(std::move(in.nodes), pending);
  for (const auto& placement : decision.placements) {
    std::string key = kPods + placement.pod;
    auto it = pods_.find(key);
    if (it == pods_.end()) continue;
    json next = it->second;
    next["spec"]["nodeName"] = placement.node;
    std::string token = "bind:" + key;
    Begin(token);
    assumed_[placement.pod] = placement.node;
    ReplyFn finish = Finish(token, "bind pod " + placement.pod);
    json pod = it->second;
    std::string node = placement.node;
    registry_.Update(Kind("pods"), Meta(pod, "namespace"), Meta(pod, "name"), Registry::Part::kMain,
                     Guarded(next),
                     [this, alive = std::weak_ptr<int>(alive_), finish, pod, node,
                      placed = placement.pod, epoch = epoch_](Reply r) {
                       if (alive.expired()) return;
                       if (epoch == epoch_) {
                         assumed_.erase(placed);
                         if (!r.ok()) schedule_dirty_ = true;  // try again on fresh state
                       }
                       if (r.ok() && epoch == epoch_) {
                         RecordEvent(pod, "Normal", "Scheduled",
                                     "Successfully assigned " + Meta(pod, "namespace") + "/" +
                                         Meta(pod, "name") + " to " + node,
                                     "scheduler");
                       }
                       finish(std::move(r));
                     });
  }
  for (const auto& u : decision.unschedulable) {
    std::string key = kPods + u.pod;
    auto it = pods_.find(key);
    if (it == pods_.end() || unschedulable_said_[key] == u.message) continue;
    std::string token = "unschedulable:" + key;
    if (!Begin(token)) continue;
    unschedulable_said_[key] = u.message;
    json next = it->second;
    SetCondition(next, {{"type", "PodScheduled"},
                        {"status", "False"},
                        {"reason", "Unschedulable"},
                        {"message", u.message},
                        {"lastTransitionTime", WallStamp()}});
    RecordEvent(it->second, "Warning", "FailedScheduling", u.message, "scheduler");
    registry_.Update(Kind("pods"), Meta(next, "namespace"), Meta(next, "name"),
                     Registry::Part::kStatus, Guarded(next),
                     Finish(token, "report pod " + u.pod + " unschedulable"));
  }
}

void ControllerManager::JudgeNodes() {
  int64_t now = Now();
  std::set<std::string> down;
  for (const auto& [key, n] : nodes_) {
    // Only readiness matters here (this runs for every node several times a second).
    struct {
      std::string name;
      bool ready;
    } info{Meta(n, "name"), NodeIsReady(n)};
    auto hb = heartbeats_.find(info.name);
    int64_t last = hb == heartbeats_.end() ? 0 : hb->second;
    bool alive = NodeAlive(last, judging_since_, now, opt_.node_grace_ms);
    bool heard = hb != heartbeats_.end() && now - last <= opt_.node_grace_ms;
    std::string token = "node:" + key;
    if (!info.ready) down.insert(info.name);
    if (info.ready == alive || (!info.ready && !heard) || inflight_.count(token)) continue;
    json next = n;
    std::string stamp = WallStamp();
    std::string message;
    if (info.ready) {
      message = "tug-agent stopped sending heartbeats: none for more than " +
                std::to_string(opt_.node_grace_ms) + " ms";
      SetCondition(next, ReadyCondition(false, "NodeStatusUnknown", message, stamp));
      RecordEvent(n, "Warning", "NodeNotReady", "Node " + info.name + " is NotReady: " + message,
                  "node-controller");
    } else {
      message = "tug-agent is sending heartbeats";
      SetCondition(next, ReadyCondition(true, "AgentReady", message, stamp));
      RecordEvent(n, "Normal", "NodeReady", "Node " + info.name + " is Ready again",
                  "node-controller");
    }
    Begin(token);
    registry_.Update(
        Kind("nodes"), "", info.name, Registry::Part::kStatus, Guarded(next),
        Finish(token, "set node " + info.name + (info.ready ? " NotReady" : " Ready")));
  }
  if (down.empty()) return;
  // The pods of a node that is down are lost: fail them so that they are replaced.
  for (const auto& [key, p] : pods_) {
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
    registry_.Update(Kind("pods"), Meta(p, "namespace"), Meta(p, "name"), Registry::Part::kStatus,
                     Guarded(next), Finish(token, "fail pod " + Meta(p, "name") + " on lost node"));
  }
}

void ControllerManager::CollectEvents() {
  // Events older than the TTL, by their last timestamp (RFC 3339 strings compare in time
  // order).
  std::time_t cutoff_t =
      std::chrono::system_clock::to_time_t(opt_.clock->WallNow()) - opt_.event_ttl_s;
  std::tm tm{};
  gmtime_r(&cutoff_t, &tm);
  char cutoff[32];
  std::strftime(cutoff, sizeof cutoff, "%Y-%m-%dT%H:%M:%SZ", &tm);
  storepb::RangeRequest rr;
  rr.set_key("/registry/events/");
  rr.set_range_end(Registry::PrefixEnd("/registry/events/"));
  auto all = node_.kv().Range(rr);
  for (const auto& kv : all.response.kvs()) {
    auto ev = Registry::Decode(kv.value(), kv.mod_revision());
    if (!ev.ok()) continue;
    std::string last = api::StringField(ev.value(), "lastTimestamp");
    if (last.empty()) last = Meta(ev.value(), "creationTimestamp");
    if (last.empty() || last >= cutoff) continue;
    std::string token = "delete:" + kv.key();
    if (!Begin(token)) continue;
    registry_.Delete(Kind("events"), Meta(ev.value(), "namespace"), Meta(ev.value(), "name"),
                     Meta(ev.value(), "resourceVersion"), Finish(token, "delete an old event"));
  }
}

void ControllerManager::RecordEvent(const json& involved, const std::string& type,
                                    const std::string& reason, const std::string& message,
                                    const std::string& component) {
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
  registry_.Create(Kind("events"), ns, std::move(ev), [reason](Reply r) {
    if (!r.ok()) spdlog::debug("event {} not recorded: {}", reason, r.message());
  });
}

}  // namespace tug::cp
