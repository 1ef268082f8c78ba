#include "controlplane/reconcile.h"

#include <algorithm>
#include <map>

#include "api/node.h"
#include "api/quantity.h"
#include "api/validation.h"

namespace tug::cp {

using nlohmann::json;

namespace {

const json& Field(const json& obj, const char* a) {
  static const json kNull;
  return obj.is_object() && obj.contains(a) ? obj[a] : kNull;
}

const json& Field(const json& obj, const char* a, const char* b) {
  return Field(Field(obj, a), b);
}

std::string Str(const json& obj, const char* a, const char* b) {
  const json& v = Field(obj, a, b);
  return v.is_string() ? v.get<std::string>() : "";
}

std::string Hash(const json& pod) {
  const json& labels = Field(pod, "metadata", "labels");
  return labels.is_object() && labels.contains("pod-template-hash") &&
                 labels["pod-template-hash"].is_string()
             ? labels["pod-template-hash"].get<std::string>()
             : "";
}

std::string Created(const json& pod) {
  return Str(pod, "metadata", "creationTimestamp");
}
std::string Name(const json& pod) {
  return Str(pod, "metadata", "name");
}

}  // namespace

bool PodTerminal(const json& pod) {
  std::string phase = Str(pod, "status", "phase");
  return phase == "Succeeded" || phase == "Failed";
}

bool PodReady(const json& pod) {
  const json& conds = Field(pod, "status", "conditions");
  if (!conds.is_array()) return false;
  for (const auto& c : conds) {
    if (api::StringField(c, "type") == "Ready") return api::StringField(c, "status") == "True";
  }
  return false;
}

std::string PodNode(const json& pod) {
  return Str(pod, "spec", "nodeName");
}

std::string PodOwner(const json& pod) {
  const json& refs = Field(pod, "metadata", "ownerReferences");
  if (!refs.is_array()) return "";
  for (const auto& r : refs) {
    if (r.is_object() && r.contains("controller") && r["controller"] == true)
      return api::StringField(r, "uid");
  }
  return "";
}

std::string TemplateHash(const json& pod_template) {
  // FNV-1a over the canonical JSON (nlohmann sorts object keys), spelled in Kubernetes'
  // "safe" alphabet.
  uint32_t h = 2166136261u;
  for (unsigned char c : pod_template.dump(-1, ' ', false, json::error_handler_t::replace)) {
    h ^= c;
    h *= 16777619u;
  }
  static const char* kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  std::string out;
  for (char d : std::to_string(h))
    out += kAlphabet[static_cast<unsigned char>(d) % 27];
  return out;
}

json PodForDeployment(const json& d, const std::string& suffix) {
  const json& tmpl = Field(d, "spec", "template");
  std::string hash = TemplateHash(tmpl);
  std::string base = Str(d, "metadata", "name");
  // A pod name is a DNS label: at most 63 characters.
  size_t room = 63 - hash.size() - suffix.size() - 2;
  if (base.size() > room) base = base.substr(0, room);
  while (!base.empty() && base.back() == '-')
    base.pop_back();
  json labels = Field(tmpl, "metadata", "labels").is_object() ? Field(tmpl, "metadata", "labels")
                                                              : json::object();
  labels["pod-template-hash"] = hash;
  json md = {{"name", base + "-" + hash + "-" + suffix},
             {"namespace", Str(d, "metadata", "namespace")},
             {"labels", labels},
             {"ownerReferences",
              {{{"apiVersion", "apps/v1"},
                {"kind", "Deployment"},
                {"name", Str(d, "metadata", "name")},
                {"uid", Str(d, "metadata", "uid")},
                {"controller", true},
                {"blockOwnerDeletion", true}}}}};
  if (Field(tmpl, "metadata", "annotations").is_object())
    md["annotations"] = Field(tmpl, "metadata", "annotations");
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", md},
          {"spec", Field(tmpl, "spec").is_object() ? Field(tmpl, "spec") : json::object()}};
}

DeploymentPlan ReconcileDeployment(const json& d, const std::vector<json>& pods) {
  DeploymentPlan plan;
  const json& r = Field(d, "spec", "replicas");
  int64_t replicas = r.is_number_integer() ? std::max<int64_t>(0, r.get<int64_t>()) : 1;
  std::string hash = TemplateHash(Field(d, "spec", "template"));
  std::vector<const json*> current, old;
  int64_t ready = 0;
  for (const auto& p : pods) {
    if (PodTerminal(p)) {
      plan.remove.push_back(p);  // replaced below: it no longer counts
      continue;
    }
    if (PodReady(p)) ++ready;
    (Hash(p) == hash ? current : old).push_back(&p);
  }
  int64_t n_current = static_cast<int64_t>(current.size());
  plan.create = static_cast<int>(std::max<int64_t>(0, replicas - n_current));
  // Scale down: the least useful pods go first.
  auto worse_first = [](const json* a, const json* b) {
    auto rank = [](const json& p) { return std::make_pair(!PodNode(p).empty(), PodReady(p)); };
    if (rank(*a) != rank(*b)) return rank(*a) < rank(*b);
    if (Created(*a) != Created(*b)) return Created(*a) > Created(*b);  // newest first
    return Name(*a) > Name(*b);
  };
  std::sort(current.begin(), current.end(), worse_first);
  int64_t surplus = std::max<int64_t>(0, n_current - replicas);
  int64_t ready_current = 0;
  for (int64_t i = 0; i < n_current; ++i) {
    if (i < surplus) {
      plan.remove.push_back(*current[static_cast<size_t>(i)]);
    } else if (PodReady(*current[static_cast<size_t>(i)])) {
      ++ready_current;
    }
  }
  // Pods of an older template: the not ready go now; the ready go as current ones become
  // ready, so that the ready count does not drop below `replicas` on the way.
  std::sort(old.begin(), old.end(), worse_first);
  int64_t old_ready = 0;
  for (const json* p : old)
    old_ready += PodReady(*p) ? 1 : 0;
  int64_t removable_ready = std::max<int64_t>(0, ready_current + old_ready - replicas);
  for (const json* p : old) {
    if (!PodReady(*p)) {
      plan.remove.push_back(*p);
    } else if (removable_ready > 0) {
      plan.remove.push_back(*p);
      --removable_ready;
    }
  }
  int64_t live = static_cast<int64_t>(current.size() + old.size());
  json st = Field(d, "status").is_object() ? Field(d, "status") : json::object();
  st["replicas"] = live;
  st["updatedReplicas"] = n_current;
  st["readyReplicas"] = ready;
  st["availableReplicas"] = ready;
  st["unavailableReplicas"] = std::max<int64_t>(0, replicas - ready);
  const json& gen = Field(d, "metadata", "generation");
  st["observedGeneration"] = gen.is_number_integer() ? gen.get<int64_t>() : 0;
  plan.status = std::move(st);
  return plan;
}

namespace {

// A pod's requests and node selector, read without validating (the API did that): this runs
// for every pod in every scheduling round.
sched::PodRequest RequestOf(const json& p) {
  sched::PodRequest req;
  req.key = Str(p, "metadata", "namespace") + "/" + Name(p);
  req.owner = PodOwner(p);
  auto add = [](const json& q, int64_t scale) -> int64_t {
    if (!q.is_string() && !q.is_number()) return 0;
    auto v = api::Quantity::Parse(q.is_string() ? q.get<std::string>() : q.dump());
    return v.ok() ? v->milli() / scale : 0;
  };
  const json& containers = Field(p, "spec", "containers");
  if (containers.is_array()) {
    for (const auto& c : containers) {
      const json& requests = Field(c, "resources", "requests");
      if (!requests.is_object()) continue;
      if (requests.contains("cpu")) req.cpu += add(requests["cpu"], 1);
      if (requests.contains("memory")) req.memory += add(requests["memory"], 1000);
    }
  }
  const json& sel = Field(p, "spec", "nodeSelector");
  if (sel.is_object()) {
    for (const auto& [k, v] : sel.items()) {
      if (v.is_string()) req.node_selector[k] = v.get<std::string>();
    }
  }
  return req;
}

}  // namespace

SchedulingInput BuildSchedulingInput(const std::vector<const json*>& nodes,
                                     const std::vector<const json*>& pods,
                                     const std::map<std::string, std::string>& assumed) {
  SchedulingInput in;
  std::map<std::string, size_t> index;
  for (const json* n : nodes) {
    api::NodeInfo info = api::ReadNode(*n);
    sched::NodeState s;
    s.name = info.name;
    s.labels = info.labels;
    s.ready = info.ready;
    s.unschedulable = info.unschedulable;
    s.cpu_allocatable = info.cpu_allocatable.milli();
    s.memory_allocatable = info.memory_allocatable.milli() / 1000;
    index[s.name] = in.nodes.size();
    in.nodes.push_back(std::move(s));
  }
  std::vector<std::pair<std::string, sched::PodRequest>> pending;
  for (const json* p : pods) {
    if (PodTerminal(*p)) continue;
    sched::PodRequest req = RequestOf(*p);
    std::string node = PodNode(*p);
    if (node.empty()) {
      auto a = assumed.find(req.key);
      if (a != assumed.end()) node = a->second;
    }
    if (node.empty()) {
      pending.emplace_back(Created(*p) + "/" + req.key, std::move(req));
      continue;
    }
    auto it = index.find(node);
    if (it == index.end()) continue;
    sched::NodeState& s = in.nodes[it->second];
    s.cpu_requested += req.cpu;
    s.memory_requested += req.memory;
    if (!req.owner.empty()) ++s.pods_by_owner[req.owner];
  }
  std::sort(pending.begin(), pending.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [k, req] : pending)
    in.pending.push_back(std::move(req));
  return in;
}

json ReadyCondition(bool ready, const std::string& reason, const std::string& message,
                    const std::string& now) {
  return {{"type", "Ready"},           {"status", ready ? "True" : "Unknown"},
          {"reason", reason},          {"message", message},
          {"lastTransitionTime", now}, {"lastHeartbeatTime", now}};
}

}  // namespace tug::cp
