#include "agent/supervisor.h"

#include "api/timestamp.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <set>

#include "agent/runtime/process_runtime.h"
#include "api/validation.h"
#include "api/workload.h"

namespace tug::agent {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Readers that never throw: state files and pods are outside input.
int IntOr(const json& j, const char* key, int dflt) {
  return j.is_object() && j.contains(key) && j[key].is_number_integer() ? j[key].get<int>() : dflt;
}

bool BoolOr(const json& j, const char* key, bool dflt) {
  return j.is_object() && j.contains(key) && j[key].is_boolean() ? j[key].get<bool>() : dflt;
}

// PORT_<NAME>: upper case, with '-' (and anything else not allowed in a name) as '_'.
std::string PortVar(const std::string& name) {
  std::string out = "PORT_";
  for (char c : name)
    out += std::isalnum(static_cast<unsigned char>(c))
               ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
               : '_';
  return out;
}

}  // namespace

std::string ExpandVars(const std::string& s, const std::map<std::string, std::string>& vars) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '$' || i + 1 >= s.size()) {
      out += s[i];
      continue;
    }
    if (s[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    size_t close = s[i + 1] == '(' ? s.find(')', i + 2) : std::string::npos;
    if (close == std::string::npos) {
      out += s[i];
      continue;
    }
    std::string name = s.substr(i + 2, close - i - 2);
    auto it = vars.find(name);
    out += it == vars.end() ? s.substr(i, close - i + 1) : it->second;
    i = close;
  }
  return out;
}

struct PortBinding {
  std::string name;
  int container_port = 0;
  int host_port = 0;
  std::string protocol = "TCP";
};

json PortsJson(const std::vector<PortBinding>& ports) {
  json out = json::array();
  for (const auto& b : ports)
    out.push_back({{"name", b.name},
                   {"containerPort", b.container_port},
                   {"hostPort", b.host_port},
                   {"protocol", b.protocol}});
  return out;
}

struct ProbeState {
  std::optional<ProbeSpec> spec;
  int64_t next_ms = 0;
  bool in_flight = false;
  int failures = 0;
  int successes = 0;
};

struct Supervisor::Container {
  api::Container spec;
  ContainerLaunch launch;
  std::vector<PortBinding> ports;
  std::optional<ContainerHandle> running;
  bool starting = false;  // its runtime is starting it (an image pull may take minutes)
  bool ever_started = false;
  std::string started_at;  // wall clock, for the status
  int64_t started_ms = 0;
  int restarts = 0;
  int backoff_step = 0;
  int image_backoff_step = 0;  // failed pulls in a row (the kubelet's image back-off)
  std::string image_id;        // of the image its last run came from
  int64_t restart_at_ms = -1;  // when to (re)start; -1: not scheduled
  std::string waiting_reason = "ContainerCreating", waiting_message;
  json terminated;       // the current state when it ended for good
  json last_terminated;  // lastState.terminated
  int last_exit_code = 0;
  bool done = false;  // will not run again
  bool ready = false;
  bool stopping = false;
  int64_t kill_at_ms = 0;
  uint64_t run = 0;
  ProbeState liveness, readiness;
};

struct Supervisor::Pod {
  json pod;
  std::string uid, ns, name;
  PodKey key;
  Runtime* runtime = nullptr;  // the one that runs this pod (ChooseRuntime)
  Refusal refusal;             // why none can, when runtime is null
  std::vector<Container> containers;
  RestartPolicy policy = RestartPolicy::kAlways;
  int64_t grace_ms = 30'000;
  bool assigned = true;          // still bound to this node
  bool server_terminal = false;  // the server marked it Succeeded/Failed (e.g. NodeLost)
  bool awaiting_list = false;    // recovered with containers to start once the API agrees
  std::string reason, message;   // a pod-level failure (UnsupportedImage)
  bool own_network = false;      // in a network namespace of its own, at pod_ip
  std::string pod_ip;
  std::string start_time;
  mutable bool dirty = true;  // changed since its report was last taken
  bool active() const { return assigned && !server_terminal; }
  bool busy() const {  // a container runs, or is being started
    return std::any_of(containers.begin(), containers.end(),
                       [](const Container& c) { return c.running || c.starting; });
  }
};

Supervisor::Supervisor(SupervisorOptions o, SupervisorParts parts)
    : o_(std::move(o)), parts_(std::move(parts)) {
  if (!parts_.files) {
    own_files_ = std::make_unique<DiskPodFiles>(o_.pods_dir);
    parts_.files = own_files_.get();
  }
  if (!parts_.ports) {
    own_ports_ = std::make_unique<KernelHostPorts>();
    parts_.ports = own_ports_.get();
  }
  if (!parts_.clock) parts_.clock = &SystemClock();
}

Supervisor::Supervisor(SupervisorOptions o, Runtime& runtime, ProbeRunner& probes)
    : Supervisor(std::move(o), SupervisorParts{{&runtime}, &probes}) {}

std::string Supervisor::WallStamp() const {
  return api::FormatRfc3339(
      std::chrono::duration_cast<std::chrono::seconds>(parts_.clock->WallNow().time_since_epoch())
          .count());
}

Supervisor::~Supervisor() = default;

void Supervisor::Event(const Pod& p, const std::string& type, const std::string& reason,
                       const std::string& message) {
  events_.push_back({p.ns, p.name, p.uid, type, reason, message});
}

std::vector<PodEvent> Supervisor::TakeEvents() {
  return std::exchange(events_, {});
}

std::unique_ptr<Supervisor::Pod> Supervisor::NewPod(const json& pod, int64_t now,
                                                    const json& saved) {
  auto p = std::make_unique<Pod>();
  p->pod = pod;
  const json& md = pod.contains("metadata") ? pod["metadata"] : json();
  p->uid = api::StringField(md, "uid");
  p->ns = api::StringField(md, "namespace").empty() ? "default" : api::StringField(md, "namespace");
  p->name = api::StringField(md, "name");
  p->key = {p->ns, p->name, p->uid};
  p->start_time = WallStamp();
  std::vector<std::string> errors;
  const json& spec_json = pod.contains("spec") && pod["spec"].is_object() ? pod["spec"] : json();
  api::PodSpec spec = api::ReadPodSpec(spec_json, "spec", &errors);
  p->policy = ParseRestartPolicy(spec.restart_policy);
  // At most a day: a huge value must not overflow into "kill at once" or "never".
  p->grace_ms = std::clamp<int64_t>(spec.termination_grace_period_seconds, 0, 86'400) * 1000;
  std::string host_ip = o_.host_ip;
  for (auto& cs : spec.containers) {
    Container c;
    c.spec = cs;
    ContainerPaths paths = parts_.files->Container(p->key, cs.name);
    c.launch.id = p->ns + "/" + p->name + "/" + cs.name;
    c.launch.image = cs.image;
    c.launch.work_dir = paths.work_dir;
    c.launch.state_dir = paths.state_dir;
    c.launch.log_path = paths.log_path;
    c.launch.memory_limit_bytes = cs.memory_limit.milli() / 1000;
    c.launch.memory_request_bytes = cs.memory_request.milli() / 1000;
    c.launch.runtime_class = spec.runtime_class_name;
    c.launch.pull_policy = cs.image_pull_policy;
    c.launch.hostname = p->name;
    c.launch.working_dir = cs.working_dir;
    c.launch.run_as_user = cs.run_as_user ? cs.run_as_user : spec.run_as_user;
    c.launch.run_as_group = cs.run_as_group ? cs.run_as_group : spec.run_as_group;
    c.launch.host_network = spec.host_network;
    // Its own network if the runtime that will run it gives one (an image's container; a host
    // process shares the host's network).
    bool own_net = false;
    if (parts_.network && !spec.host_network) {
      for (Runtime* rt : parts_.runtimes) {
        if (rt->CanRun(c.launch)) continue;
        own_net = rt->GivesPodNetwork(c.launch);
        break;
      }
    }
    if (own_net && !p->own_network) {
      p->own_network = true;
      auto ip = parts_.network->Assign(p->uid);
      if (ip.ok()) {
        p->pod_ip = *ip;
      } else {
        p->reason = "CreatePodSandboxError";
        p->message = "cannot give the pod an address: " + ip.status().message();
      }
    }
    c.launch.pod_uid = p->uid;
    c.launch.pod_namespace = p->ns;
    c.launch.pod_network = own_net;
    c.launch.cpu_limit_millis = cs.cpu_limit.milli();
    c.launch.cpu_request_millis = cs.cpu_request.milli();
    for (const auto& m : cs.volume_mounts) {
      for (const auto& v : spec.volumes) {
        if (v.name != m.name) continue;
        std::string source = v.kind == api::Volume::Kind::kHostPath
                                 ? v.host_path
                                 : parts_.files->VolumeDir(p->key, v.name);
        c.launch.mounts.push_back({source, m.mount_path, m.read_only});
      }
    }
    for (const auto& port : cs.ports) {
      PortBinding b{port.name, port.container_port, port.host_port, port.protocol};
      // An agent restarted while the pod runs keeps the ports the container already has.
      for (const auto& sc : saved) {
        if (!sc.is_object() || api::StringField(sc, "name") != cs.name || !sc.contains("ports") ||
            !sc["ports"].is_array())
          continue;
        for (const auto& sb : sc["ports"]) {
          if (sb.is_object() && sb.value("containerPort", 0) == b.container_port &&
              sb.contains("hostPort") && sb["hostPort"].is_number_integer())
            b.host_port = sb["hostPort"].get<int>();
        }
      }
      if (own_net) {
        // Its ports are the pod's own; a hostPort is forwarded to it (below), not allocated.
      } else if (b.host_port == 0) {
        b.host_port = parts_.ports->Allocate();
      } else {
        parts_.ports->Reserve(b.host_port);
      }
      c.ports.push_back(b);
    }
    // The environment: ours first, then the container's own, which may refer to ours.
    std::map<std::string, std::string> vars = {
        {"PATH", o_.container_path.empty() ? std::string(kDefaultPath) : o_.container_path},
        {"HOME", c.launch.work_dir},
        {"HOSTNAME", p->name},
        {"POD_NAME", p->name},
        {"POD_NAMESPACE", p->ns},
        {"POD_UID", p->uid},
        {"NODE_NAME", o_.node_name},
        {"POD_IP", own_net ? p->pod_ip : host_ip},
        {"HOST_IP", host_ip}};
    // The Services of its namespace, as they are when the pod starts (enableServiceLinks).
    if (parts_.service_env && !(spec_json.is_object() && spec_json.contains("enableServiceLinks") &&
                                spec_json["enableServiceLinks"] == false)) {
      for (auto& [k, v] : parts_.service_env(p->ns))
        vars.emplace(k, v);
    }
    // What only a process on the host needs: an image's container has its own PATH and HOME,
    // and its ports are its own, not the host's.
    std::set<std::string> host_only = {"PATH", "HOME"};
    for (size_t i = 0; i < c.ports.size() && !own_net; ++i) {
      if (i == 0) vars["PORT"] = std::to_string(c.ports[i].host_port);
      if (i == 0) host_only.insert("PORT");
      if (!c.ports[i].name.empty()) {
        vars[PortVar(c.ports[i].name)] = std::to_string(c.ports[i].host_port);
        host_only.insert(PortVar(c.ports[i].name));
      }
    }
    std::vector<std::string> order;
    for (const auto& [k, v] : vars)
      order.push_back(k);
    for (const auto& e : cs.env) {
      host_only.erase(e.name);
      if (!vars.count(e.name)) order.push_back(e.name);
      vars[e.name] = ExpandVars(e.value, vars);
    }
    for (const auto& k : order) {
      c.launch.env.push_back(k + "=" + vars[k]);
      if (!host_only.count(k)) c.launch.pod_env.push_back(k + "=" + vars[k]);
    }
    for (const auto& a : cs.command)
      c.launch.command.push_back(ExpandVars(a, vars));
    for (const auto& a : cs.args)
      c.launch.args.push_back(ExpandVars(a, vars));
    c.launch.argv = c.launch.command;
    c.launch.argv.insert(c.launch.argv.end(), c.launch.args.begin(), c.launch.args.end());
    for (auto [probe, state] : {std::pair{&cs.liveness_probe, &c.liveness},
                                std::pair{&cs.readiness_probe, &c.readiness}}) {
      if (probe->is_null()) continue;
      auto parsed = ParseProbe(*probe);
      if (parsed.ok()) {
        state->spec = parsed.value();
      } else {
        Event(*p, "Warning", "InvalidProbe",
              "container " + cs.name + ": the probe is ignored: " + parsed.status().message());
      }
    }
    c.restart_at_ms = now;
    p->containers.push_back(std::move(c));
  }
  // hostPorts of a pod with its own address: forwarded for as long as the pod is here (also
  // again after an agent restart, as the forwards ended with the agent).
  if (p->own_network && !p->pod_ip.empty() && parts_.forwards) {
    for (const auto& c : p->containers) {
      for (const auto& b : c.ports) {
        if (b.host_port <= 0 || b.protocol != "TCP") continue;
        std::string listen = o_.host_ip + ":" + std::to_string(b.host_port);
        std::string target = p->pod_ip + ":" + std::to_string(b.container_port);
        if (Status s = parts_.forwards->Open(p->uid, listen, target); !s)
          Event(*p, "Warning", "FailedHostPort",
                "container " + c.spec.name + ": hostPort " + std::to_string(b.host_port) +
                    " is not forwarded: " + s.message());
      }
    }
  }
  if (Status s = parts_.files->SavePod(p->key, pod.dump()); !s) {
    p->reason = "AgentError";
    p->message = s.message();
  }
  return p;
}

void Supervisor::SaveState(const Pod& p) {
  p.dirty = true;  // everything that changes a pod's state saves it
  json cs = json::array();
  for (const auto& c : p.containers) {
    cs.push_back({{"name", c.spec.name},
                  {"running", c.running ? c.running->ToJson() : json()},  // a handle
                  {"startedAt", c.started_at},
                  {"everStarted", c.ever_started},
                  {"restarts", c.restarts},
                  {"backoffStep", c.backoff_step},
                  {"done", c.done},
                  {"terminated", c.terminated},
                  {"lastTerminated", c.last_terminated},
                  {"ports", PortsJson(c.ports)}});
  }
  json state = {{"containers", cs}, {"startTime", p.start_time}};
  // A failed save costs only the restart safety net; the pod runs on.
  (void)parts_.files->SaveState(p.key, state.dump());
}

void Supervisor::Recover(int64_t now) {
  struct Saved {
    json pod, state, containers;
  };
  std::vector<Saved> saved;
  for (const auto& cp : parts_.files->Load()) {
    Saved sv;
    sv.pod = json::parse(cp.pod, nullptr, false);
    if (!sv.pod.is_object()) continue;
    if (!cp.state.empty()) sv.state = json::parse(cp.state, nullptr, false);
    sv.containers =
        sv.state.is_object() && sv.state.contains("containers") && sv.state["containers"].is_array()
            ? sv.state["containers"]
            : json::array();
    // Every saved port is taken before any pod picks new ones.
    for (const auto& sc : sv.containers) {
      if (!sc.is_object() || !sc.contains("ports") || !sc["ports"].is_array()) continue;
      for (const auto& b : sc["ports"])
        if (b.is_object() && b.contains("hostPort") && b["hostPort"].is_number_integer())
          parts_.ports->Reserve(b["hostPort"].get<int>());
    }
    saved.push_back(std::move(sv));
  }
  for (const auto& sv : saved) {
    auto p = NewPod(sv.pod, now, sv.containers);
    if (p->uid.empty() || pods_.count(p->uid)) continue;
    if (sv.state.is_object() && sv.state.contains("startTime") && sv.state["startTime"].is_string())
      p->start_time = sv.state["startTime"].get<std::string>();
    for (auto& c : p->containers) {
      for (const auto& sc : sv.containers) {
        if (!sc.is_object() || api::StringField(sc, "name") != c.spec.name) continue;
        c.restarts = IntOr(sc, "restarts", 0);
        c.backoff_step = IntOr(sc, "backoffStep", 0);
        c.ever_started = BoolOr(sc, "everStarted", false);
        c.started_at = api::StringField(sc, "startedAt");
        c.done = BoolOr(sc, "done", false);
        if (sc.contains("terminated") && sc["terminated"].is_object())
          c.terminated = sc["terminated"];
        if (sc.contains("lastTerminated") && sc["lastTerminated"].is_object())
          c.last_terminated = sc["lastTerminated"];
        // Not running now: it waits for the API's word before it runs again (the pod may have
        // been deleted or replaced meanwhile).
        c.restart_at_ms = -1;
        if (!c.done) p->awaiting_list = true;
        if (!sc.contains("running") || sc["running"].is_null()) continue;
        auto h = ContainerHandle::FromJson(sc["running"]);
        if (!h.ok()) continue;
        Runtime* rt = nullptr;
        for (Runtime* r : parts_.runtimes)
          if (r->name() == h->runtime) rt = r;
        if (!rt) continue;  // its runtime is not on this agent any more
        uint64_t run = next_run_++;
        // Followed again from here on; if it ended meanwhile, its exit comes as an event.
        // Not if the runtime says the handle no longer names it (saved before a reboot).
        if (!rt->Adopt(run, h.value()).ok()) continue;
        p->runtime = rt;
        runs_[run] = {p->uid, static_cast<size_t>(&c - p->containers.data())};
        p->awaiting_list = false;
        c.running = h.value();
        c.image_id = h->image_id;
        c.started_ms = now;
        c.restart_at_ms = -1;
        c.run = run;
        c.waiting_reason.clear();
        c.ready = !c.readiness.spec;
      }
    }
    pods_[p->uid] = std::move(p);
  }
  // Containers no checkpoint names (started just before the previous agent died), then the
  // networks of pods that are gone (deleted while the agent was down, or cut off half-way).
  for (Runtime* rt : parts_.runtimes) {
    std::vector<ContainerHandle> known;
    for (const auto& [uid, p] : pods_)
      for (const auto& c : p->containers)
        if (c.running && c.running->runtime == rt->name()) known.push_back(*c.running);
    rt->RemoveUnknown(known);
  }
  if (parts_.network) {
    std::set<std::string> live;
    for (const auto& [uid, p] : pods_)
      live.insert(uid);
    parts_.network->Prune(live);
  }
}

void Supervisor::SetAssigned(const std::vector<json>& pods, int64_t now) {
  std::set<std::string> seen;
  for (const auto& pod : pods) {
    if (!pod.is_object() || !pod.contains("metadata") || !pod["metadata"].is_object()) continue;
    std::string uid = api::StringField(pod["metadata"], "uid");
    if (uid.empty()) continue;
    seen.insert(uid);
    std::string phase = pod.contains("status") ? api::StringField(pod["status"], "phase") : "";
    bool terminal = phase == "Succeeded" || phase == "Failed";
    auto it = pods_.find(uid);
    if (it == pods_.end()) {
      if (terminal) continue;  // finished before we knew it: nothing to run
      pods_[uid] = NewPod(pod, now, json::array());
      continue;
    }
    Pod& p = *it->second;
    p.assigned = true;
    if (p.awaiting_list && !terminal) {
      p.awaiting_list = false;
      for (auto& c : p.containers) {
        if (!c.running && !c.done && c.restart_at_ms < 0) c.restart_at_ms = now;
      }
    }
    if (terminal && !p.server_terminal) {
      // Our own final report coming back, or the control plane giving the pod up (NodeLost
      // while we were cut off; it is replaced elsewhere): either way nothing more runs.
      p.server_terminal = true;
      StopPod(p, now, "the pod was marked " + phase + " by the control plane");
    }
  }
  for (auto& [uid, p] : pods_) {
    if (!seen.count(uid) && p->assigned) {
      p->assigned = false;
      StopPod(*p, now, "the pod is no longer bound to this node");
    }
  }
}

void Supervisor::StopPod(Pod& p, int64_t now, const std::string& why) {
  for (auto& c : p.containers) {
    c.restart_at_ms = -1;
    if (c.running) {
      if (!c.stopping)
        Event(p, "Normal", "Killing", "Stopping container " + c.spec.name + ": " + why);
      StopContainer(p, c, now);
    }
    c.done = true;
  }
}

void Supervisor::StopContainer(Pod& p, Container& c, int64_t now) {
  if (!c.running || c.stopping) return;
  p.dirty = true;
  c.stopping = true;
  c.kill_at_ms = now + p.grace_ms;
  p.runtime->Stop(*c.running, p.grace_ms == 0);
}

Runtime* Supervisor::ChooseRuntime(Pod& p) {
  if (p.runtime) return p.runtime;
  for (Runtime* rt : parts_.runtimes) {
    std::optional<Refusal> refused;
    for (const auto& c : p.containers) {
      refused = rt->CanRun(c.launch);
      if (refused) {
        // The first runtime's reason is the one reported if none can run the pod.
        if (p.refusal.reason.empty())
          p.refusal = {refused->reason, "container " + c.spec.name + ": " + refused->message};
        break;
      }
    }
    if (!refused) return p.runtime = rt;
  }
  if (p.refusal.reason.empty()) p.refusal = {"AgentError", "this agent has no container runtime"};
  return nullptr;
}

void Supervisor::StartContainer(Pod& p, size_t i, int64_t now) {
  Container& c = p.containers[i];
  c.restart_at_ms = -1;
  if (!ChooseRuntime(p)) {
    // Nothing on this node can ever run it: the pod fails with the reason, once.
    p.reason = p.refusal.reason;
    p.message = p.refusal.message;
    for (auto& cc : p.containers) {
      if (auto refused =
              parts_.runtimes.empty() ? std::nullopt : parts_.runtimes[0]->CanRun(cc.launch)) {
        cc.waiting_reason = refused->reason;
        cc.waiting_message = refused->message;
      }
    }
    for (auto& other : p.containers) {
      other.restart_at_ms = -1;
      other.done = true;
      if (other.running) StopContainer(p, other, now);
    }
    Event(p, "Warning", "Failed", p.message);
    SaveState(p);
    return;
  }
  // A fresh memory cgroup per run: one the kernel has not released yet (or that counted an
  // earlier run's OOM kill) is never reused.
  c.launch.cgroup_name = p.ns + "_" + p.name + "_" + p.uid + "_" + c.spec.name + "_" +
                         std::to_string(c.restarts + (c.ever_started ? 1 : 0));
  c.run = next_run_++;
  runs_[c.run] = {p.uid, i};
  c.starting = true;
  c.started_ms = now;
  c.waiting_reason = "ContainerCreating";
  c.waiting_message.clear();
  p.dirty = true;
  p.runtime->Start(c.run, c.launch);
}

void Supervisor::StartFailed(Pod& p, Container& c, const std::string& message, int64_t now,
                             const std::string& reason) {
  Event(p, "Warning", "Failed", "Error: " + message);
  ContainerExit e{128, "StartError", message};
  HandleExit(p, c, e, now);
  if (!c.done)
    c.waiting_reason = c.backoff_step > 1 ? "CrashLoopBackOff"
                       : reason.empty()   ? "RunContainerError"
                                          : reason;
  c.waiting_message = message;
}

void Supervisor::ImageFailed(Pod& p, Container& c, const std::string& reason,
                             const std::string& message, int64_t now) {
  // The kubelet's image back-off: 10 s doubling to 5 minutes, not a restart of the container
  // (it never ran), shown as ImagePullBackOff from the second failure on.
  p.dirty = true;
  ++c.image_backoff_step;
  int64_t delay = o_.image_backoff_initial_ms;
  for (int i = 1; i < c.image_backoff_step && delay < o_.image_backoff_max_ms; ++i)
    delay *= 2;
  delay = std::min(delay, o_.image_backoff_max_ms);
  Event(p, "Warning", "Failed", message);
  Event(p, "Warning", "Failed", "Error: " + reason);
  if (c.done || !p.active()) return;
  c.restart_at_ms = now + delay;
  c.waiting_reason = reason;
  c.waiting_message = message;
  if (reason == "ErrImagePull" && c.image_backoff_step > 1) {
    c.waiting_reason = "ImagePullBackOff";
    c.waiting_message = "Back-off pulling image \"" + c.spec.image + "\": " + message;
    Event(p, "Normal", "BackOff", "Back-off pulling image \"" + c.spec.image + "\"");
  }
  SaveState(p);
}

void Supervisor::Started(Pod& p, Container& c, const ContainerHandle& h, int64_t now) {
  c.running = h;
  c.image_id = h.image_id;
  if (c.done || !p.active()) {
    // Stopped while it started: it goes at once.
    StopContainer(p, c, now);
    SaveState(p);
    return;
  }
  if (c.ever_started) ++c.restarts;
  c.ever_started = true;
  c.image_backoff_step = 0;
  c.started_ms = now;
  c.started_at = WallStamp();
  c.waiting_reason.clear();
  c.waiting_message.clear();
  c.terminated = json();
  c.ready = !c.readiness.spec;
  c.liveness =
      ProbeState{c.liveness.spec, now + (c.liveness.spec ? c.liveness.spec->initial_delay_ms : 0)};
  c.readiness = ProbeState{c.readiness.spec,
                           now + (c.readiness.spec ? c.readiness.spec->initial_delay_ms : 0)};
  Event(p, "Normal", "Started", "Started container " + c.spec.name);
  SaveState(p);
}

void Supervisor::TakeRuntimeEvents(int64_t now) {
  for (Runtime* rt : parts_.runtimes) {
    for (auto& e : rt->Poll()) {
      auto where = runs_.find(e.run);
      Pod* p = nullptr;
      if (where != runs_.end()) {
        auto it = pods_.find(where->second.first);
        if (it != pods_.end() && where->second.second < it->second->containers.size())
          p = it->second.get();
      }
      Container* c = p ? &p->containers[where->second.second] : nullptr;
      if (!c || c->run != e.run) {
        // Not a run anyone waits for: a container no one will watch must not be left running.
        if (e.type == RuntimeEvent::Type::kStarted) rt->Stop(e.handle, true);
        if (where != runs_.end() && e.type != RuntimeEvent::Type::kStarted) runs_.erase(where);
        continue;
      }
      switch (e.type) {
        case RuntimeEvent::Type::kStarted:
          c->starting = false;
          Started(*p, *c, e.handle, now);
          break;
        case RuntimeEvent::Type::kStartFailed:
          c->starting = false;
          runs_.erase(where);
          if (e.image_failure) {
            ImageFailed(*p, *c, e.reason, e.message, now);
          } else {
            StartFailed(*p, *c, e.message, now, e.reason);
          }
          break;
        case RuntimeEvent::Type::kProgress:
          Event(*p, "Normal", e.reason, e.message);
          break;
        case RuntimeEvent::Type::kExited:
          runs_.erase(where);
          HandleExit(*p, *c, e.exit, now);
          break;
      }
    }
  }
}

void Supervisor::HandleExit(Pod& p, Container& c, const ContainerExit& e, int64_t now) {
  bool was_running = c.running.has_value();
  c.running.reset();
  c.ready = false;
  c.stopping = false;
  c.last_exit_code = e.exit_code;
  json term = {{"exitCode", e.exit_code}, {"reason", e.reason}, {"finishedAt", WallStamp()}};
  if (!e.message.empty()) term["message"] = e.message;
  if (was_running && !c.started_at.empty()) term["startedAt"] = c.started_at;
  if (c.done || !p.active()) {
    c.done = true;
    c.terminated = term;
    SaveState(p);
    return;
  }
  ExitFacts f;
  f.exit_code = e.exit_code;
  f.started_ms = c.started_ms;
  f.exited_ms = now;
  f.restarts = c.restarts;
  f.backoff_step = c.backoff_step;
  RestartDecision d = DecideRestart(p.policy, f, o_.backoff);
  if (d.restart) {
    c.last_terminated = term;
    c.terminated = json();
    c.restart_at_ms = d.at_ms;
    c.backoff_step = d.next_backoff_step;
    c.waiting_reason = d.waiting_reason;
    c.waiting_message.clear();
    if (!d.waiting_reason.empty()) {
      c.waiting_message = "back-off " + std::to_string((d.at_ms - now) / 1000) +
                          "s restarting failed container=" + c.spec.name + " pod=" + p.name + "_" +
                          p.ns + "(" + p.uid + ")";
      Event(p, "Warning", "BackOff", "Back-off restarting failed container " + c.spec.name);
    }
  } else {
    c.done = true;
    c.terminated = term;
  }
  SaveState(p);
}

void Supervisor::Probe(Pod& p, size_t i, bool liveness, int64_t now) {
  Container& c = p.containers[i];
  ProbeState& s = liveness ? c.liveness : c.readiness;
  if (!s.spec || s.in_flight || now < s.next_ms) return;
  s.in_flight = true;
  s.next_ms = now + s.spec->period_ms;
  ProbeTarget t;
  for (const auto& b : c.ports) {
    int port = p.own_network ? b.container_port : b.host_port;
    t.ports[b.container_port] = port;
    if (!b.name.empty()) t.named_ports[b.name] = port;
  }
  if (p.own_network) t.host = p.pod_ip;
  if (c.running) t.exec_prefix = p.runtime->ExecPrefix(*c.running);
  t.env = c.launch.env;
  t.work_dir = c.launch.work_dir;
  parts_.probes->Run(ProbeKey{p.uid, i, liveness, c.run}, *s.spec, t);
}

void Supervisor::ProbeDone(const ProbeKey& key, const ProbeResult& r, int64_t now) {
  auto it = pods_.find(key.pod_uid);
  if (it == pods_.end() || key.container >= it->second->containers.size()) return;
  Pod& p = *it->second;
  Container& c = p.containers[key.container];
  ProbeState& s = key.liveness ? c.liveness : c.readiness;
  if (key.run != c.run) return;  // a result about an earlier run
  s.in_flight = false;
  if (!c.running || c.stopping || !s.spec) return;
  if (r.success) {
    s.failures = 0;
    if (++s.successes >= s.spec->success_threshold && !key.liveness && !c.ready) {
      c.ready = true;
      p.dirty = true;
    }
    return;
  }
  s.successes = 0;
  ++s.failures;
  Event(p, "Warning", "Unhealthy",
        std::string(key.liveness ? "Liveness" : "Readiness") + " probe failed: " + r.message);
  if (s.failures < s.spec->failure_threshold) return;
  if (!key.liveness) {
    p.dirty = p.dirty || c.ready;
    c.ready = false;
    return;
  }
  s.failures = 0;
  Event(p, "Normal", "Killing",
        "Container " + c.spec.name + " failed liveness probe, will be restarted");
  StopContainer(p, c, now);
}

bool Supervisor::Due(const Pod& p, const Container& c, int64_t now) {
  return !c.running && !c.starting && !c.done && c.restart_at_ms >= 0 && now >= c.restart_at_ms &&
         p.active();
}

void Supervisor::Tick(int64_t now) {
  TakeRuntimeEvents(now);
  uint64_t runs_before = next_run_;  // every start takes a run number
  bool check_logs = now - last_log_check_ >= o_.log_check_ms;
  if (check_logs) last_log_check_ = now;
  for (auto it = pods_.begin(); it != pods_.end();) {
    Pod& p = *it->second;
    for (size_t i = 0; i < p.containers.size(); ++i) {
      Container& c = p.containers[i];
      if (c.running && c.stopping && now >= c.kill_at_ms) p.runtime->Stop(*c.running, true);
      if (Due(p, c, now)) StartContainer(p, i, now);
      if (c.running && !c.stopping) {
        Probe(p, i, true, now);
        Probe(p, i, false, now);
      }
      if (check_logs && c.ever_started)
        parts_.files->RotateLog(c.launch.log_path, o_.log_max_bytes);
    }
    if (!p.assigned && !p.busy()) {
      // Gone from the API and stopped: its files (logs included) go with it.
      if (p.own_network) {
        if (parts_.forwards) parts_.forwards->Close(p.uid);
        // A failure is retried by Prune when the agent starts again.
        if (Status s = parts_.network->Detach(p.uid); !s)
          Event(p, "Warning", "FailedKillPod", "cannot remove the pod's network: " + s.message());
      } else {
        for (const auto& c : p.containers)
          for (const auto& b : c.ports)
            parts_.ports->Release(b.host_port);
      }
      parts_.files->Remove(p.key);
      it = pods_.erase(it);
      continue;
    }
    ++it;
  }
  // What the starts above already know (a quick runtime's outcome), without a second look at
  // every container on the ticks that started nothing.
  if (next_run_ != runs_before) TakeRuntimeEvents(now);
}

std::vector<PodReport> Supervisor::Reports() const {
  std::vector<PodReport> out;
  for (const auto& [uid, p] : pods_) {
    if (p->active()) out.push_back(ReportOf(*p));
  }
  return out;
}

std::vector<PodReport> Supervisor::TakeChangedReports() {
  std::vector<PodReport> out;
  for (const auto& [uid, p] : pods_) {
    if (p->dirty && p->active()) out.push_back(ReportOf(*p));
    p->dirty = false;
  }
  return out;
}

void Supervisor::StartDue(int64_t now) {
  uint64_t runs_before = next_run_;
  for (auto& [uid, p] : pods_) {
    for (size_t i = 0; i < p->containers.size(); ++i) {
      if (Due(*p, p->containers[i], now)) StartContainer(*p, i, now);
    }
  }
  if (next_run_ != runs_before) TakeRuntimeEvents(now);
}

PodReport Supervisor::ReportOf(const Pod& p) const {
  {
    json statuses = json::array();
    bool all_ready = !p.containers.empty(), any_pending = false, all_done = true, all_ok = true;
    std::vector<std::string> unready;
    for (const auto& c : p.containers) {
      json st = {{"name", c.spec.name},
                 {"image", c.spec.image},
                 {"imageID", c.image_id},
                 {"ready", c.ready && c.running.has_value() && !c.stopping},
                 {"started", c.running.has_value()},
                 {"restartCount", c.restarts}};
      if (c.running) {
        st["containerID"] = c.running->runtime + "://" + c.running->id;
        st["state"] = {{"running", {{"startedAt", c.started_at}}}};
      } else if (c.done && !c.terminated.is_null()) {
        st["state"] = {{"terminated", c.terminated}};
      } else {
        json w = json::object();
        if (!c.waiting_reason.empty()) w["reason"] = c.waiting_reason;
        if (!c.waiting_message.empty()) w["message"] = c.waiting_message;
        st["state"] = {{"waiting", w}};
      }
      st["lastState"] =
          c.last_terminated.is_null() ? json::object() : json{{"terminated", c.last_terminated}};
      if (!c.ports.empty()) st["ports"] = PortsJson(c.ports);
      statuses.push_back(st);
      if (!st["ready"].get<bool>()) {
        all_ready = false;
        unready.push_back(c.spec.name);
      }
      if (!c.ever_started && !c.done) any_pending = true;
      if (!c.done) all_done = false;
      if (c.done && c.terminated.is_object() && IntOr(c.terminated, "exitCode", 1) != 0)
        all_ok = false;
      if (c.done && c.terminated.is_null()) all_ok = false;
    }
    std::string phase = !p.reason.empty() ? "Failed"
                        : any_pending     ? "Pending"
                        : all_done        ? (all_ok ? "Succeeded" : "Failed")
                                          : "Running";
    json st = {{"phase", phase},
               {"hostIP", o_.host_ip},
               {"podIP", p.own_network ? p.pod_ip : o_.host_ip},
               {"podIPs", {{{"ip", p.own_network ? p.pod_ip : o_.host_ip}}}},
               {"startTime", p.start_time},
               {"containerStatuses", statuses}};
    if (!p.reason.empty()) {
      st["reason"] = p.reason;
      st["message"] = p.message;
    }
    std::string not_ready_msg;
    if (!unready.empty()) {
      not_ready_msg = "containers with unready status: [";
      for (size_t i = 0; i < unready.size(); ++i)
        not_ready_msg += (i ? " " : "") + unready[i];
      not_ready_msg += "]";
    }
    json conds = json::array();
    conds.push_back({{"type", "Initialized"}, {"status", "True"}});
    for (const char* type : {"ContainersReady", "Ready"}) {
      json cond = {{"type", type}, {"status", all_ready ? "True" : "False"}};
      if (!all_ready) {
        cond["reason"] = all_done ? "PodCompleted" : "ContainersNotReady";
        cond["message"] = not_ready_msg;
      }
      conds.push_back(cond);
    }
    st["conditions"] = conds;
    return {p.ns, p.name, p.uid, st};
  }
}

const Supervisor::Pod* Supervisor::Find(const std::string& ns, const std::string& pod) const {
  const Pod* found = nullptr;
  for (const auto& [uid, p] : pods_) {
    if (p->ns == ns && p->name == pod && (!found || p->active())) found = p.get();
  }
  return found;
}

Result<std::string> Supervisor::Logs(const std::string& ns, const std::string& pod,
                                     const std::string& container, int tail_lines) const {
  auto path = LogPath(ns, pod, container);
  if (!path.ok()) return path.status();
  const Pod* p = Find(ns, pod);
  Runtime* rt =
      p && p->runtime ? p->runtime : (parts_.runtimes.empty() ? nullptr : parts_.runtimes[0]);
  if (!rt) return std::string();
  return rt->Logs(path.value(), tail_lines);
}

Result<std::string> Supervisor::LogPath(const std::string& ns, const std::string& pod,
                                        const std::string& container) const {
  const Pod* found = Find(ns, pod);
  if (!found) return Status::NotFound("pod " + ns + "/" + pod + " does not run on this node");
  if (found->containers.empty())
    return Status::NotFound("pod " + ns + "/" + pod + " has no containers");
  if (container.empty()) {
    if (found->containers.size() > 1) {
      std::string names;
      for (const auto& c : found->containers)
        names += (names.empty() ? "" : " ") + c.spec.name;
      return Status::Invalid("a container name must be specified for pod " + pod +
                             ", choose one of: [" + names + "]");
    }
    return found->containers[0].launch.log_path;
  }
  for (const auto& c : found->containers) {
    if (c.spec.name == container) return c.launch.log_path;
  }
  return Status::NotFound("container " + container + " is not valid for pod " + pod);
}

size_t Supervisor::running() const {
  size_t n = 0;
  for (const auto& [uid, p] : pods_)
    for (const auto& c : p->containers)
      n += c.running ? 1 : 0;
  return n;
}

std::vector<std::string> Supervisor::ImagesInUse() const {
  std::vector<std::string> out;
  for (const auto& [uid, p] : pods_)
    for (const auto& c : p->containers)
      if (!c.spec.image.empty()) out.push_back(c.spec.image);
  return out;
}

size_t Supervisor::pods() const {
  return pods_.size();
}

}  // namespace tug::agent
