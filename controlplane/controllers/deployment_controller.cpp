#include "controlplane/controllers/deployment_controller.h"

#include <algorithm>
#include <random>

#include "api/validation.h"
#include "controlplane/controllers/informer.h"

namespace tug::cp {

using nlohmann::json;

namespace {

// Big scale-ups go in rounds (the next starts when this one is answered), so a million
// replicas do not become a million proposals at once.
constexpr int kMaxCreatesPerRound = 256;

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

}  // namespace

void DeploymentController::OnChange(const std::string& resource, const std::string& key,
                                    const json* before, const json* after) {
  if (resource == "deployments") {
    if (after) {
      by_uid_[Meta(*after, "uid")] = key;
      dirty_.insert(key);
    } else {
      if (before) by_uid_.erase(Meta(*before, "uid"));
      orphans_dirty_ = true;  // its pods go with it
    }
  } else if (resource == "pods") {
    std::string owner_before = before ? PodOwner(*before) : "";
    std::string owner_after = after ? PodOwner(*after) : "";
    if (!owner_before.empty()) pods_by_owner_[owner_before].erase(key);
    if (!owner_after.empty()) pods_by_owner_[owner_after].insert(key);
    for (const auto& owner : {owner_before, owner_after}) {
      auto d = by_uid_.find(owner);
      if (d != by_uid_.end()) dirty_.insert(d->second);
    }
  } else {
    return;
  }
  ctx_.kick();
}

void DeploymentController::Resync() {
  for (const auto& [key, d] : ctx_.cache.List("deployments"))
    dirty_.insert(key);
  orphans_dirty_ = true;
}

void DeploymentController::Tick() {
  // Deployments whose failed pods are held: look again once their back-off has passed.
  for (auto it = held_.begin(); it != held_.end();) {
    auto b = backoff_.find(*it);
    if (b == backoff_.end() || ctx_.NowMs() >= b->second.until_ms) {
      dirty_.insert(*it);
      it = held_.erase(it);
    } else {
      ++it;
    }
  }
}

void DeploymentController::Process() {
  if (orphans_dirty_) {
    orphans_dirty_ = false;
    DeleteOrphans();
  }
  auto dirty = std::move(dirty_);
  dirty_.clear();
  for (const auto& key : dirty)
    Sync(key);
}

// Kubernetes replaces a failed pod at once, every time; a pod that fails as soon as it starts
// (an image no node can run, a command that exits at once with restartPolicy Never) then
// becomes a loop of creates and deletes, a few Raft writes each, as fast as the agents
// report, and the failed pods vanish before anyone reads why they failed. Here failures in a
// row are replaced after 0 s, 1 s, 2 s, ... up to 5 min, and the failed pods stay (with their
// reason) until then. Pods that failed because their node was lost are not the pods' fault:
// they are replaced at once. The streak ends when the deployment has all its replicas ready.
void DeploymentController::HoldFailedPods(const std::string& key, const json& d,
                                          const std::vector<json>& pods, DeploymentPlan* plan) {
  ReplaceBackoff& b = backoff_[key];
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
  int64_t now = ctx_.NowMs();
  // A round of failures counts once, however many replicas failed in it.
  if (new_failure) {
    int64_t delay =
        b.streak == 0 ? 0 : std::min<int64_t>(300'000, int64_t{1000} << std::min(b.streak - 1, 20));
    b.until_ms = std::max(b.until_ms, now + delay);
    ++b.streak;
  }
  b.counted = std::move(still_failed);
  if (failed.empty() || now >= b.until_ms) return;
  // Keep them, and do not count them as missing yet.
  std::set<std::string> held(failed.begin(), failed.end());
  auto& rm = plan->remove;
  size_t before = rm.size();
  rm.erase(std::remove_if(rm.begin(), rm.end(),
                          [&](const json& p) { return held.count(Meta(p, "uid")) > 0; }),
           rm.end());
  plan->create = std::max(0, plan->create - static_cast<int>(before - rm.size()));
  held_.insert(key);
}

void DeploymentController::Sync(const std::string& key) {
  const json* found = ctx_.cache.Get("deployments", key);
  if (!found) {
    backoff_.erase(key);
    failure_said_.erase(key);
    return;
  }
  std::string token = "sync:" + key;
  if (InFlight(token)) return;  // marked dirty again when its writes finish
  const json d = *found;
  std::string uid = Meta(d, "uid"), ns = Meta(d, "namespace"), name = Meta(d, "name");
  std::vector<json> pods;
  auto owned = pods_by_owner_.find(uid);
  if (owned != pods_by_owner_.end()) {
    for (const auto& pk : owned->second) {
      if (const json* p = ctx_.cache.Get("pods", pk)) pods.push_back(*p);
    }
  }
  DeploymentPlan plan = ReconcileDeployment(d, pods);
  HoldFailedPods(key, d, pods, &plan);
  plan.create = std::min(plan.create, kMaxCreatesPerRound);
  bool status_changed = plan.status != d.value("status", json::object());
  size_t writes = static_cast<size_t>(plan.create) + plan.remove.size() + (status_changed ? 1 : 0);
  if (writes == 0) return;
  Begin(token);
  // One Event per kind of action per round, named after what was done.
  struct Round {
    size_t left;
    std::vector<std::string> created, deleted;
    std::string failure;  // the first error, if any write failed
  };
  auto round = std::make_shared<Round>(Round{writes, {}, {}, ""});
  auto done = [this, alive = Alive(), round, token, key, d]() {
    if (alive.expired() || --round->left > 0) return;
    End(token);
    if (!round->failure.empty()) {
      // Say it once per distinct failure, and look again on the next tick rather than at
      // once: a pod the API refuses would otherwise be retried in a tight loop.
      if (failure_said_[key] != round->failure) {
        failure_said_[key] = round->failure;
        ctx_.RecordEvent(d, "Warning", "FailedCreate", round->failure, "deployment-controller");
      }
      dirty_.insert(key);
      return;
    }
    failure_said_.erase(key);
    if (!round->created.empty()) {
      ctx_.RecordEvent(d, "Normal", "SuccessfulCreate", "Created pod(s): " + Names(round->created),
                       "deployment-controller");
    }
    if (!round->deleted.empty()) {
      ctx_.RecordEvent(d, "Normal", "SuccessfulDelete", "Deleted pod(s): " + Names(round->deleted),
                       "deployment-controller");
    }
    dirty_.insert(key);  // look again with the results in the cache
    ctx_.kick();
  };
  for (int i = 0; i < plan.create; ++i) {
    json pod = PodForDeployment(d, RandomSuffix());
    std::string pod_name = pod["metadata"]["name"];
    ctx_.registry.Create(Kind("pods"), ns, std::move(pod), [round, done, pod_name](Reply r) {
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
    ctx_.registry.Delete(Kind("pods"), ns, pod_name, Meta(p, "resourceVersion"),
                         [round, done, pod_name](Reply r) {
                           if (r.ok()) round->deleted.push_back(pod_name);
                           done();
                         });
  }
  if (status_changed) {
    json next = d;
    next["status"] = plan.status;
    ctx_.registry.Update(Kind("deployments"), ns, name, Registry::Part::kStatus, Replace(next),
                         [done](Reply) { done(); });
  }
}

void DeploymentController::DeleteOrphans() {
  for (const auto& [owner, keys] : pods_by_owner_) {
    if (owner.empty() || by_uid_.count(owner)) continue;
    for (const auto& pk : keys) {
      const json* p = ctx_.cache.Get("pods", pk);
      if (!p) continue;
      std::string token = "delete:" + pk;
      if (!Begin(token)) continue;
      ctx_.registry.Delete(Kind("pods"), Meta(*p, "namespace"), Meta(*p, "name"),
                           Meta(*p, "resourceVersion"), Finish(token, "delete orphaned pod"));
    }
  }
}

}  // namespace tug::cp
