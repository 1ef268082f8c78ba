// How a container is run: the seam between the supervisor (what should run, restarts, probes,
// status) and the things that make containers. The process runtime (process_runtime.h) runs a
// container's command on the host; an OCI runtime (images from a registry, run with runc) is
// a second implementation of this interface, and the supervisor picks one per pod (the first
// whose CanRun accepts every container of it) without knowing which.
//
// The contract, all on the supervisor's thread:
// - Start returns at once. The outcome (Started with the container's handle, or StartFailed
//   with the reason) comes later as an event: a start may take minutes (an image pull) and
//   must never stall the other pods.
// - Exits are events too. Poll() hands over what happened since the last call; the supervisor
//   calls it every tick and right after starting containers. A runtime that works on other
//   threads queues its events and calls the wake function given to SetWake, so that the
//   supervisor polls soon instead of at its next tick.
// - A ContainerHandle is opaque to the supervisor: the runtime's own record of a started
//   container, saved in the pod's checkpoint so that a restarted agent hands it back through
//   Adopt and the runtime follows the container again instead of starting it twice.
// - Every event names the `run` it belongs to (a number the supervisor gives each start), so a
//   late event about an earlier run of a container is told from the current one.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace tug::agent {

// A path mounted into an image-based container (a volume, /etc/hosts, /etc/resolv.conf).
struct ContainerMount {
  std::string source;       // on the node
  std::string destination;  // in the container
  bool read_only = false;
};

struct ContainerLaunch {
  std::string id;                    // "namespace/pod/container", for messages
  std::string image;                 // may be empty for the process runtime
  std::vector<std::string> argv;     // command followed by args, $(VAR) already expanded
  std::vector<std::string> env;      // "NAME=value", the whole environment
  std::string work_dir;              // the container's working directory (exists)
  std::string state_dir;             // the runtime's files for this container (exists)
  std::string log_path;              // stdout and stderr are appended here
  std::string cgroup_name;           // unique per run (the memory cgroup's name)
  int64_t memory_limit_bytes = 0;    // 0: none
  int64_t memory_request_bytes = 0;  // 0: none

  // What an image-based runtime needs besides (the process runtime ignores these).
  std::string runtime_class;  // the pod's runtimeClassName ("" for the default)
  std::string pull_policy;    // imagePullPolicy as written ("" for Kubernetes' default)
  std::vector<std::string> command, args;  // kept apart: they replace Entrypoint and Cmd
  std::vector<std::string> pod_env;        // the container's env and the pod facts, not the host's
  std::string hostname;                    // the pod's name
  std::string working_dir;                 // the container's workingDir ("" for the image's)
  std::optional<int64_t> run_as_user, run_as_group;
  bool host_network = false;
  // The pod's own network (network/pod_network.h): its uid names it; set when the runtime
  // said GivesPodNetwork for this container.
  std::string pod_uid;
  std::string pod_namespace;  // its resolv.conf searches <ns>.svc.<domain> first
  bool pod_network = false;
  std::vector<ContainerMount> mounts;
  int64_t cpu_limit_millis = 0, cpu_request_millis = 0;
};

// A started container, as its runtime describes it. `runtime` names the runtime (and is the
// scheme of the containerID in the pod's status, "process://1234"); `id` is the runtime's
// name for the container; `state` is whatever else the runtime needs to find it again.
struct ContainerHandle {
  std::string runtime;
  std::string id;
  nlohmann::json state;
  // The image it runs, as containerStatuses[].imageID reports it (repository@digest); "" for
  // a process.
  std::string image_id;
  nlohmann::json ToJson() const;
  // Also reads the bare record agents before the runtime seam saved (a process runtime's).
  static Result<ContainerHandle> FromJson(const nlohmann::json& j);
};

struct ContainerExit {
  int exit_code = 0;   // 128 + signal when killed by a signal
  std::string reason;  // Completed, Error, OOMKilled, ContainerStatusUnknown
  std::string message;
};

// Why a runtime will not run a container: `reason` is the pod's status reason (e.g.
// UnsupportedImage, CreateContainerConfigError), `message` says what to change.
struct Refusal {
  std::string reason, message;
};

struct RuntimeEvent {
  // kProgress: a step of a start worth an Event (Pulling, Pulled, Created); the start goes on.
  enum class Type { kStarted, kStartFailed, kExited, kProgress };
  Type type = Type::kExited;
  uint64_t run = 0;
  ContainerHandle handle;  // kStarted
  std::string message;     // kStartFailed, kProgress
  // kStartFailed: the container's waiting reason (ErrImagePull, InvalidImageName,
  // ErrImageNeverPull, CreateContainerError; "" for a plain failed start), and whether it is
  // an image that could not be had (retried with the image back-off, not counted as a
  // restart). kProgress: the Event's reason.
  std::string reason;
  bool image_failure = false;
  ContainerExit exit;  // kExited
};

class Runtime {
 public:
  virtual ~Runtime() = default;
  // The scheme of this runtime's container ids ("process"); also what handles are matched by.
  virtual std::string name() const = 0;
  // nullopt if this runtime can run the container, else why not.
  virtual std::optional<Refusal> CanRun(const ContainerLaunch& c) const = 0;
  // Starts `c` as run number `run`; the outcome comes as kStarted or kStartFailed.
  virtual void Start(uint64_t run, const ContainerLaunch& c) = 0;
  // Follows a container an earlier agent started; its exit comes as kExited under `run`. An
  // error if the handle can no longer name that container (it was saved before a reboot).
  virtual Status Adopt(uint64_t run, const ContainerHandle& h) = 0;
  // After Adopt has been called for every container the agent's checkpoints name: removes
  // whatever this runtime still runs or keeps that none of them is (a container started just
  // before the agent died, before its handle was checkpointed, would run on unseen). `known`
  // is every adopted handle of this runtime. The default: nothing to find.
  virtual void RemoveUnknown(const std::vector<ContainerHandle>& /*known*/) {}
  // Signals the whole container: SIGTERM, or SIGKILL with `force`. Its exit follows.
  virtual void Stop(const ContainerHandle& h, bool force) = 0;
  // What happened since the last call, in order.
  virtual std::vector<RuntimeEvent> Poll() = 0;
  // Called (from any thread) when events are waiting; the default: never.
  virtual void SetWake(std::function<void()> /*wake*/) {}
  // The last `tail_lines` lines the container wrote to `log_path` (all of it with -1).
  virtual Result<std::string> Logs(const std::string& log_path, int tail_lines) = 0;
  // "" if memory limits are enforced on this machine, else why not (reported on the node).
  virtual std::string MemoryEnforcement() const = 0;
  // Whether this runtime puts the container in its pod's own network namespace (then its
  // ports are at podIP:containerPort) rather than on the host's network.
  virtual bool GivesPodNetwork(const ContainerLaunch& /*c*/) const { return false; }
  // The command line that runs a command inside a running container (an exec probe's), to be
  // followed by the command; empty: run it as a process beside the container.
  virtual std::vector<std::string> ExecPrefix(const ContainerHandle& /*h*/) const { return {}; }
};

}  // namespace tug::agent
