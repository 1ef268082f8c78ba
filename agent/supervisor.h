// The supervisor: the agent's decisions about the pods bound to its node, as a single-threaded
// state machine driven from outside (SetAssigned with what the API says, Tick with the time,
// ProbeDone with probe results), so that it is tested with real processes and a fake clock.
//
// - Pods assigned and not terminal on the server run; every other pod it knows is stopped
//   (SIGTERM to the container, SIGKILL after terminationGracePeriodSeconds) and forgotten.
// - Exited containers are restarted by restartPolicy with back-off (restart_policy.h).
// - Liveness failures (failureThreshold in a row) restart the container; readiness sets its
//   ready flag and the pod's Ready condition.
// - Every started container is recorded in `<pods_dir>/<ns>_<name>_<uid>/state.json`, with
//   the pod, so that a restarted agent (Recover) takes its running containers over instead of
//   starting them twice, and never mistakes another process that got a reused PID for one.
// - Reports() is each pod's status in Kubernetes' shape (phase, conditions, containerStatuses
//   with states, restart counts, exit codes and host ports). It changes only when something
//   happened, so the caller writes it only when it differs from what it wrote last.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/probe.h"
#include "agent/restart_policy.h"
#include "agent/runtime.h"

namespace tug::agent {

struct SupervisorOptions {
  std::string node_name;
  std::string host_ip = "127.0.0.1";
  std::string pods_dir;  // <data-dir>/pods
  BackoffOptions backoff;
  int64_t log_max_bytes = 10 << 20;
  int64_t log_check_ms = 1000;
  // Containers' PATH: the usual directories, and where the agent is installed, so that the
  // programs shipped with Tug (tug-web) run by name. "": the usual directories only.
  std::string container_path;
};

// Which probe a result belongs to; `run` tells results of an earlier run of the container
// (before a restart) from current ones.
struct ProbeKey {
  std::string pod_uid;
  size_t container = 0;
  bool liveness = false;
  uint64_t run = 0;
};

// Runs probes somewhere that may block (the agent: worker threads) and hands each result back
// through Supervisor::ProbeDone on the supervisor's thread.
class ProbeRunner {
 public:
  virtual ~ProbeRunner() = default;
  virtual void Run(const ProbeKey& key, const ProbeSpec& spec, const ProbeTarget& target) = 0;
};

// An Event about a pod, in Kubernetes' reasons (Started, Killing, BackOff, Unhealthy, Failed).
struct PodEvent {
  std::string ns, pod, uid;
  std::string type;  // Normal or Warning
  std::string reason, message;
};

struct PodReport {
  std::string ns, name, uid;
  nlohmann::json status;
};

class Supervisor {
 public:
  Supervisor(SupervisorOptions o, Runtime& runtime, ProbeRunner& probes);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Takes over the pods an earlier agent process left behind (their state files): running
  // containers are watched again, not started twice. Until the first SetAssigned they keep
  // running as they were: an agent cut off from the control plane does not stop its pods.
  void Recover(int64_t now_ms);
  // Everything bound to this node, as the API last listed it (the complete set).
  void SetAssigned(const std::vector<nlohmann::json>& pods, int64_t now_ms);
  // Notices exits, starts and restarts, escalates stops, starts probes, rotates logs.
  void Tick(int64_t now_ms);
  void ProbeDone(const ProbeKey& key, const ProbeResult& result, int64_t now_ms);

  // The status of every pod that still reports (not those being torn down, nor those the
  // server already considers finished).
  std::vector<PodReport> Reports() const;
  // The reports of the pods that changed since the last call (cheaper with many pods).
  std::vector<PodReport> TakeChangedReports();
  // Starts the containers that are due, without looking at the running ones (Tick does both).
  void StartDue(int64_t now_ms);
  std::vector<PodEvent> TakeEvents();
  // The log file of a pod's container ("" = its first container), if this node runs it.
  Result<std::string> LogPath(const std::string& ns, const std::string& pod,
                              const std::string& container) const;
  // Containers with a live process.
  size_t running() const;
  size_t pods() const;

  struct Pod;
  struct Container;

 private:
  void StartContainer(Pod& p, Container& c, int64_t now);
  void HandleExit(Pod& p, Container& c, const ContainerExit& e, int64_t now);
  void StopPod(Pod& p, int64_t now, const std::string& why);
  void StopContainer(Pod& p, Container& c, int64_t now);
  void Probe(Pod& p, size_t i, bool liveness, int64_t now);
  void SaveState(const Pod& p);
  PodReport ReportOf(const Pod& p) const;
  std::unique_ptr<Pod> NewPod(const nlohmann::json& pod, int64_t now, const nlohmann::json& saved);
  int AllocatePort();
  void Event(const Pod& p, const std::string& type, const std::string& reason,
             const std::string& message);

  SupervisorOptions o_;
  Runtime& runtime_;
  ProbeRunner& probes_;
  std::map<std::string, std::unique_ptr<Pod>> pods_;  // by uid
  std::set<int> ports_in_use_;
  std::vector<PodEvent> events_;
  int64_t last_log_check_ = 0;
  uint64_t next_run_ = 1;
};

// "$(NAME)" references expanded from `vars` as Kubernetes does for command, args and env:
// "$$" is a literal "$", and an unknown reference stays as written.
std::string ExpandVars(const std::string& s, const std::map<std::string, std::string>& vars);

}  // namespace tug::agent
