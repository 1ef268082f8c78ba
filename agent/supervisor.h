// The supervisor: the agent's decisions about the pods bound to its node, as a single-threaded
// state machine driven from outside (SetAssigned with what the API says, Tick with the time,
// ProbeDone with probe results), so that it is tested with real processes or a fake runtime,
// and a fake clock. Everything it touches is behind an interface: the runtimes
// (runtime/runtime.h; the one that runs a pod is chosen per pod), the pod's files and
// checkpoint (pod_files.h), host ports (host_ports.h), the wall clock of its timestamps.
//
// - Starting a container is asynchronous: it is Waiting (ContainerCreating) until its runtime
//   says it started (or why it could not); a pod stopped meanwhile is stopped once started.
//
// - Pods assigned and not terminal on the server run; every other pod it knows is stopped
//   (SIGTERM to the container, SIGKILL after terminationGracePeriodSeconds) and forgotten.
// - Exited containers are restarted by restartPolicy with back-off (restart_policy.h).
// - Liveness failures (failureThreshold in a row) restart the container; readiness sets its
//   ready flag and the pod's Ready condition.
// - Every started container's handle is checkpointed with the pod, so that a restarted agent
//   (Recover) hands it back to its runtime and takes the container over instead of starting it
//   twice (the process runtime never mistakes another process that got a reused PID for it).
// - Reports() is each pod's status in Kubernetes' shape (phase, conditions, containerStatuses
//   with states, restart counts, exit codes and host ports). It changes only when something
//   happened, so the caller writes it only when it differs from what it wrote last.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/host_ports.h"
#include "agent/network/pod_network.h"
#include "agent/pod_files.h"
#include "agent/probe.h"
#include "agent/restart_policy.h"
#include "agent/runtime/runtime.h"
#include "base/clock.h"

namespace tug::agent {

struct SupervisorOptions {
  std::string node_name;
  std::string host_ip = "127.0.0.1";
  std::string pods_dir;  // <data-dir>/pods
  BackoffOptions backoff;
  // A failed image pull is retried after this, doubling up to the maximum (the kubelet's).
  int64_t image_backoff_initial_ms = 10'000;
  int64_t image_backoff_max_ms = 300'000;
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

// What the supervisor works with. Each must outlive it.
struct SupervisorParts {
  std::vector<Runtime*> runtimes;  // in order of preference; a pod runs on the first that can
  ProbeRunner* probes = nullptr;
  PodFiles* files = nullptr;     // nullptr: DiskPodFiles under SupervisorOptions::pods_dir
  HostPorts* ports = nullptr;    // nullptr: KernelHostPorts
  const Clock* clock = nullptr;  // for the status's timestamps; nullptr: the machine's
  // nullptr: every pod is on the host's network (and its ports are host ports).
  PodAddresses* network = nullptr;
  // nullptr: hostPorts of pods with a network of their own are not forwarded.
  HostPortForwards* forwards = nullptr;
  // Kubernetes' service links for a namespace (api::ServiceLinkEnv of its Services now);
  // empty: none. Called when a pod is first seen, on the supervisor's thread.
  std::function<std::map<std::string, std::string>(const std::string& ns)> service_env = nullptr;
};

class Supervisor {
 public:
  Supervisor(SupervisorOptions o, SupervisorParts parts);
  // One runtime, files on disk, the kernel's ports, the machine's clock.
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
  // Its last `tail_lines` lines (all with -1), read by the runtime that runs the pod.
  Result<std::string> Logs(const std::string& ns, const std::string& pod,
                           const std::string& container, int tail_lines) const;
  // Takes what the runtimes report (starts, failed starts, exits); Tick and StartDue do too.
  void TakeRuntimeEvents(int64_t now_ms);
  // Containers with a live process.
  size_t running() const;
  size_t pods() const;
  // The images of every container of the pods on this node, as written in their specs (image
  // garbage collection keeps them).
  std::vector<std::string> ImagesInUse() const;

  struct Pod;
  struct Container;

 private:
  const Pod* Find(const std::string& ns, const std::string& pod) const;
  // Whether a container should be started now.
  static bool Due(const Pod& p, const Container& c, int64_t now);
  void StartContainer(Pod& p, size_t i, int64_t now);
  void Started(Pod& p, Container& c, const ContainerHandle& h, int64_t now);
  void StartFailed(Pod& p, Container& c, const std::string& message, int64_t now,
                   const std::string& reason = "");
  // The image could not be had: back off (ErrImagePull, then ImagePullBackOff) and retry.
  void ImageFailed(Pod& p, Container& c, const std::string& reason, const std::string& message,
                   int64_t now);
  Runtime* ChooseRuntime(Pod& p);
  std::string WallStamp() const;
  void HandleExit(Pod& p, Container& c, const ContainerExit& e, int64_t now);
  void StopPod(Pod& p, int64_t now, const std::string& why);
  void StopContainer(Pod& p, Container& c, int64_t now);
  void Probe(Pod& p, size_t i, bool liveness, int64_t now);
  void SaveState(const Pod& p);
  PodReport ReportOf(const Pod& p) const;
  std::unique_ptr<Pod> NewPod(const nlohmann::json& pod, int64_t now, const nlohmann::json& saved);
  void Event(const Pod& p, const std::string& type, const std::string& reason,
             const std::string& message);

  SupervisorOptions o_;
  std::unique_ptr<PodFiles> own_files_;
  std::unique_ptr<HostPorts> own_ports_;
  SupervisorParts parts_;
  std::map<std::string, std::unique_ptr<Pod>> pods_;         // by uid
  std::map<uint64_t, std::pair<std::string, size_t>> runs_;  // run -> pod uid, container
  std::vector<PodEvent> events_;
  int64_t last_log_check_ = 0;
  uint64_t next_run_ = 1;
};

// "$(NAME)" references expanded from `vars` as Kubernetes does for command, args and env:
// "$$" is a literal "$", and an unknown reference stays as written.
std::string ExpandVars(const std::string& s, const std::map<std::string, std::string>& vars);

}  // namespace tug::agent
