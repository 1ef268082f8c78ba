// How a container is run: the seam between the supervisor (what should run, restarts, probes,
// status) and the thing that makes processes. The process runtime (process_runtime.h) runs a
// container's command on the host; an OCI runtime (runc, with images from a registry) would be
// a second implementation of this interface, chosen per container by CanRun, without touching
// the supervisor.
//
// A started container is described by a RunningContainer, which is plain data saved in the
// pod's state file, so that an agent restarted while its containers run finds them again
// (Inspect works on a RunningContainer that another agent process started).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/process_identity.h"
#include "base/status.h"

namespace tug::agent {

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
};

struct RunningContainer {
  ProcessIdentity process;  // the container's supervisor process (the group leader)
  std::string state_dir;
  std::string cgroup;   // "" when memory is not enforced
  std::string boot_id;  // the machine's boot it was started in (a PID means nothing after it)
  nlohmann::json ToJson() const;
  static Result<RunningContainer> FromJson(const nlohmann::json& j);
};

struct ContainerExit {
  int exit_code = 0;   // 128 + signal when killed by a signal
  std::string reason;  // Completed, Error, OOMKilled, ContainerStatusUnknown
  std::string message;
};

class Runtime {
 public:
  virtual ~Runtime() = default;
  // Whether this runtime can run the container; if not, a message saying why, for the pod's
  // status.
  virtual Status CanRun(const ContainerLaunch& c) const = 0;
  virtual Result<RunningContainer> Start(const ContainerLaunch& c) = 0;
  // nullopt while it runs; once it ended, how (and its processes are cleaned up).
  virtual std::optional<ContainerExit> Inspect(const RunningContainer& c) = 0;
  // Signals the whole container: SIGTERM, or SIGKILL with `force`.
  virtual void Stop(const RunningContainer& c, bool force) = 0;
  // The last `tail_lines` lines of the log at `log_path` (all of it with -1).
  virtual Result<std::string> Logs(const std::string& log_path, int tail_lines) = 0;
  // "" if memory limits are enforced on this machine, else why not (reported on the node).
  virtual std::string MemoryEnforcement() const = 0;
};

}  // namespace tug::agent
