#include "agent/supervisor.h"

#include "api/timestamp.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <filesystem>

#include "agent/log_file.h"
#include "agent/memory_cgroup.h"
#include "agent/process_runtime.h"
#include "api/validation.h"
#include "api/workload.h"
#include "base/file.h"

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

// Written whole or not at all (tmp + rename), but not fsync'd: the files are there for an
// agent that restarts while the machine stays up (the page cache survives a process); after
// a machine crash the containers are gone with it. An fsync per container start cost ~10 ms
// each, serialized, and put seconds between a burst of binds and the last container running.
Status WriteAtomically(const std::string& path, const std::string& text) {
  return WriteFileAtomically(path, text, {.mode = 0644, .durable = false});
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
  std::optional<RunningContainer> running;
  bool ever_started = false;
  std::string started_at;  // wall clock, for the status
  int64_t started_ms = 0;
  int restarts = 0;
  int backoff_step = 0;
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
  std::string uid, ns, name, dir;
  std::vector<Container> containers;
  RestartPolicy policy = RestartPolicy::kAlways;
  int64_t grace_ms = 30'000;
  bool assigned = true;          // still bound to this node
  bool server_terminal = false;  // the server marked it Succeeded/Failed (e.g. NodeLost)
  bool awaiting_list = false;    // recovered with containers to start once the API agrees
  std::string reason, message;   // a pod-level failure (UnsupportedImage)
  std::string start_time;
  mutable bool dirty = true;  // changed since its report was last taken
  bool active() const { return assigned && !server_terminal; }
};

Supervisor::Supervisor(SupervisorOptions o, Runtime& runtime, ProbeRunner& probes)
    : o_(std::move(o)), runtime_(runtime), probes_(probes) {
  std::error_code ec;
  fs::create_directories(o_.pods_dir, ec);
}

Supervisor::~Supervisor() = default;

void Supervisor::Event(const Pod& p, const std::string& type, const std::string& reason,
                       const std::string& message) {
  events_.push_back({p.ns, p.name, p.uid, type, reason, message});
}

std::vector<PodEvent> Supervisor::TakeEvents() {
  return std::exchange(events_, {});
}

int Supervisor::AllocatePort() {
  // The kernel picks a free port; we remember what we handed out, as a port may be free
  // now only because its container is restarting.
  for (int attempt = 0; attempt < 50; ++attempt) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    socklen_t len = sizeof(a);
    int port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
      port = ntohs(a.sin_port);
    ::close(fd);
    if (port > 0 && ports_in_use_.insert(port).second) return port;
  }
  return 0;
}

std::unique_ptr<Supervisor::Pod> Supervisor::NewPod(const json& pod, int64_t now,
                                                    const json& saved) {
  auto p = std::make_unique<Pod>();
  p->pod = pod;
  const json& md = pod.contains("metadata") ? pod["metadata"] : json();
  p->uid = api::StringField(md, "uid");
  p->ns = api::StringField(md, "namespace").empty() ? "default" : api::StringField(md, "namespace");
  p->name = api::StringField(md, "name");
  p->dir = o_.pods_dir + "/" + FileSafe(p->ns) + "_" + FileSafe(p->name) + "_" + FileSafe(p->uid);
  p->start_time = api::NowRfc3339();
  std::vector<std::string> errors;
  const json& spec_json = pod.contains("spec") && pod["spec"].is_object() ? pod["spec"] : json();
  api::PodSpec spec = api::ReadPodSpec(spec_json, "spec", &errors);
  p->policy = ParseRestartPolicy(spec.restart_policy);
  // At most a day: a huge value must not overflow into "kill at once" or "never".
  p->grace_ms = std::clamp<int64_t>(spec.termination_grace_period_seconds, 0, 86'400) * 1000;
  std::error_code ec;
  fs::create_directories(p->dir, ec);
  std::string host_ip = o_.host_ip;
  for (auto& cs : spec.containers) {
    Container c;
    c.spec = cs;
    std::string cdir = p->dir + "/" + FileSafe(cs.name);
    fs::create_directories(cdir + "/work", ec);
    c.launch.id = p->ns + "/" + p->name + "/" + cs.name;
    c.launch.image = cs.image;
    c.launch.work_dir = cdir + "/work";
    c.launch.state_dir = cdir;
    c.launch.log_path = cdir + "/log";
    c.launch.memory_limit_bytes = cs.memory_limit.milli() / 1000;
    c.launch.memory_request_bytes = cs.memory_request.milli() / 1000;
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
      if (b.host_port == 0) {
        b.host_port = AllocatePort();
      } else {
        ports_in_use_.insert(b.host_port);
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
        {"POD_IP", host_ip},
        {"HOST_IP", host_ip}};
    for (size_t i = 0; i < c.ports.size(); ++i) {
      if (i == 0) vars["PORT"] = std::to_string(c.ports[i].host_port);
      if (!c.ports[i].name.empty())
        vars[PortVar(c.ports[i].name)] = std::to_string(c.ports[i].host_port);
    }
    std::vector<std::string> order;
    for (const auto& [k, v] : vars)
      order.push_back(k);
    for (const auto& e : cs.env) {
      if (!vars.count(e.name)) order.push_back(e.name);
      vars[e.name] = ExpandVars(e.value, vars);
    }
    for (const auto& k : order)
      c.launch.env.push_back(k + "=" + vars[k]);
    for (const auto& a : cs.command)
      c.launch.argv.push_back(ExpandVars(a, vars));
    for (const auto& a : cs.args)
      c.launch.argv.push_back(ExpandVars(a, vars));
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
  std::string pod_text = pod.dump();
  if (Status s = WriteAtomically(p->dir + "/pod.json", pod_text); !s) {
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
                  {"running", c.running ? c.running->ToJson() : json()},
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
  (void)WriteAtomically(p.dir + "/state.json", state.dump());
}

void Supervisor::Recover(int64_t now) {
  struct Saved {
    json pod, state, containers;
  };
  std::vector<Saved> saved;
  std::error_code ec;
  for (auto it = fs::directory_iterator(o_.pods_dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::string dir = it->path().string();
    std::string pod_text, state_text;
    if (!ReadWholeFile(dir + "/pod.json", &pod_text)) continue;
    Saved sv;
    sv.pod = json::parse(pod_text, nullptr, false);
    if (!sv.pod.is_object()) continue;
    if (ReadWholeFile(dir + "/state.json", &state_text))
      sv.state = json::parse(state_text, nullptr, false);
    sv.containers =
        sv.state.is_object() && sv.state.contains("containers") && sv.state["containers"].is_array()
            ? sv.state["containers"]
            : json::array();
    // Every saved port is taken before any pod picks new ones.
    for (const auto& sc : sv.containers) {
      if (!sc.is_object() || !sc.contains("ports") || !sc["ports"].is_array()) continue;
      for (const auto& b : sc["ports"])
        if (b.is_object() && b.contains("hostPort") && b["hostPort"].is_number_integer())
          ports_in_use_.insert(b["hostPort"].get<int>());
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
        if (!sc.contains("running")) continue;
        auto rc = RunningContainer::FromJson(sc["running"]);
        // A record from before a reboot names a PID that now belongs to someone else.
        if (!rc.ok() || rc->boot_id != CurrentBootId()) continue;
        p->awaiting_list = false;
        // Watched again from here on; if it ended meanwhile, the next Tick sees that.
        c.running = rc.value();
        c.started_ms = now;
        c.restart_at_ms = -1;
        c.run = next_run_++;
        c.waiting_reason.clear();
        c.ready = !c.readiness.spec;
      }
    }
    pods_[p->uid] = std::move(p);
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
  runtime_.Stop(*c.running, p.grace_ms == 0);
}

void Supervisor::StartContainer(Pod& p, Container& c, int64_t now) {
  c.restart_at_ms = -1;
  if (Status can = runtime_.CanRun(c.launch); !can) {
    // Nothing on this node can ever run it: the pod fails with the reason, once.
    p.reason = "UnsupportedImage";
    p.message = "container " + c.spec.name + ": " + can.message();
    c.waiting_reason = "UnsupportedImage";
    c.waiting_message = can.message();
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
  auto started = runtime_.Start(c.launch);
  if (!started.ok()) {
    Event(p, "Warning", "Failed", "Error: " + started.status().message());
    ContainerExit e{128, "StartError", started.status().message()};
    c.started_ms = now;
    HandleExit(p, c, e, now);
    if (!c.done) c.waiting_reason = c.backoff_step > 1 ? "CrashLoopBackOff" : "RunContainerError";
    c.waiting_message = started.status().message();
    return;
  }
  if (c.ever_started) ++c.restarts;
  c.ever_started = true;
  c.running = started.value();
  c.started_ms = now;
  c.started_at = api::NowRfc3339();
  c.run = next_run_++;
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

void Supervisor::HandleExit(Pod& p, Container& c, const ContainerExit& e, int64_t now) {
  bool was_running = c.running.has_value();
  c.running.reset();
  c.ready = false;
  c.stopping = false;
  c.last_exit_code = e.exit_code;
  json term = {{"exitCode", e.exit_code}, {"reason", e.reason}, {"finishedAt", api::NowRfc3339()}};
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
    t.ports[b.container_port] = b.host_port;
    if (!b.name.empty()) t.named_ports[b.name] = b.host_port;
  }
  t.env = c.launch.env;
  t.work_dir = c.launch.work_dir;
  probes_.Run(ProbeKey{p.uid, i, liveness, c.run}, *s.spec, t);
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

void Supervisor::Tick(int64_t now) {
  bool check_logs = now - last_log_check_ >= o_.log_check_ms;
  if (check_logs) last_log_check_ = now;
  for (auto it = pods_.begin(); it != pods_.end();) {
    Pod& p = *it->second;
    for (size_t i = 0; i < p.containers.size(); ++i) {
      Container& c = p.containers[i];
      if (c.running) {
        if (auto e = runtime_.Inspect(*c.running)) {
          HandleExit(p, c, *e, now);
        } else if (c.stopping && now >= c.kill_at_ms) {
          runtime_.Stop(*c.running, true);
        }
      }
      if (!c.running && !c.done && c.restart_at_ms >= 0 && now >= c.restart_at_ms && p.active())
        StartContainer(p, c, now);
      if (c.running && !c.stopping) {
        Probe(p, i, true, now);
        Probe(p, i, false, now);
      }
      if (check_logs && c.ever_started) (void)RotateLog(c.launch.log_path, o_.log_max_bytes);
    }
    bool any_running = std::any_of(p.containers.begin(), p.containers.end(),
                                   [](const Container& c) { return c.running.has_value(); });
    if (!p.assigned && !any_running) {
      // Gone from the API and stopped: its files (logs included) go with it.
      for (const auto& c : p.containers)
        for (const auto& b : c.ports)
          ports_in_use_.erase(b.host_port);
      std::error_code ec;
      fs::remove_all(p.dir, ec);
      it = pods_.erase(it);
      continue;
    }
    ++it;
  }
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
  for (auto& [uid, p] : pods_) {
    for (auto& c : p->containers) {
      if (!c.running && !c.done && c.restart_at_ms >= 0 && now >= c.restart_at_ms && p->active())
        StartContainer(*p, c, now);
    }
  }
}

PodReport Supervisor::ReportOf(const Pod& p) const {
  {
    json statuses = json::array();
    bool all_ready = !p.containers.empty(), any_pending = false, all_done = true, all_ok = true;
    std::vector<std::string> unready;
    for (const auto& c : p.containers) {
      json st = {{"name", c.spec.name},
                 {"image", c.spec.image},
                 {"imageID", ""},
                 {"ready", c.ready && c.running.has_value() && !c.stopping},
                 {"started", c.running.has_value()},
                 {"restartCount", c.restarts}};
      if (c.running) {
        st["containerID"] = "process://" + std::to_string(c.running->process.pid);
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
               {"podIP", o_.host_ip},
               {"podIPs", {{{"ip", o_.host_ip}}}},
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

Result<std::string> Supervisor::LogPath(const std::string& ns, const std::string& pod,
                                        const std::string& container) const {
  const Pod* found = nullptr;
  for (const auto& [uid, p] : pods_) {
    if (p->ns == ns && p->name == pod && (!found || p->active())) found = p.get();
  }
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

size_t Supervisor::pods() const {
  return pods_.size();
}

}  // namespace tug::agent
