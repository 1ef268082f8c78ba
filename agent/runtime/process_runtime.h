// The process runtime: a container is its `command` and `args` run on this machine.
//
// Each container runs under a small supervisor process of its own, `tug-shim` (see
// cmd/tug-shim): it leads a new session and process group, joins the container's memory
// cgroup, starts the command with stdout and stderr appended to the log file, waits for it,
// and writes its exit code to `<state_dir>/exit`. So the exit code of a container is known
// even when the agent was restarted while it ran (the new agent is not its parent and cannot
// wait for it), and the log keeps filling while no agent runs.
//
// A container that names an image is this runtime's only when its pod says so
// (`runtimeClassName: process`): otherwise CanRun refuses it (UnsupportedImage), so that an
// image is never silently replaced by a host command, and the supervisor asks the next runtime.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/runtime/process_identity.h"

#include "agent/runtime/memory_cgroup.h"
#include "agent/runtime/runtime.h"

namespace tug::agent {

// A started container as this runtime records it (the `state` of its ContainerHandle).
struct RunningContainer {
  ProcessIdentity process;  // the container's supervisor process (the group leader)
  std::string state_dir;
  std::string cgroup;   // "" when memory is not enforced
  std::string boot_id;  // the machine's boot it was started in (a PID means nothing after it)
  nlohmann::json ToJson() const;
  static Result<RunningContainer> FromJson(const nlohmann::json& j);
};

class ProcessRuntime : public Runtime {
 public:
  // `shim` is the path of the tug-shim program; `cgroups` is where memory limits go, nullopt
  // with the reason they are not enforced.
  ProcessRuntime(std::string shim, std::optional<MemoryCgroups> cgroups,
                 std::string no_cgroup_reason);

  std::string name() const override { return "process"; }
  std::optional<Refusal> CanRun(const ContainerLaunch& c) const override;
  // Spawns the shim at once (posix_spawn is quick); the outcome is queued for the next Poll.
  void Start(uint64_t run, const ContainerLaunch& c) override;
  Status Adopt(uint64_t run, const ContainerHandle& h) override;
  void Stop(const ContainerHandle& h, bool force) override;
  // Looks at every container it follows (no notification exists for a process that is not
  // our child): the exited ones are reported, and what is left of them is cleaned up.
  std::vector<RuntimeEvent> Poll() override;
  Result<std::string> Logs(const std::string& log_path, int tail_lines) override;
  std::string MemoryEnforcement() const override;

 private:
  Result<RunningContainer> Launch(const ContainerLaunch& c);
  // nullopt while it runs; once it ended, how (and its processes are cleaned up).
  std::optional<ContainerExit> Inspect(const RunningContainer& c);

  std::string shim_;
  std::optional<MemoryCgroups> cgroups_;
  std::string no_cgroup_reason_;
  std::map<uint64_t, RunningContainer> followed_;  // by run
  std::vector<RuntimeEvent> events_;
};

// The PATH a container gets unless its env sets one.
constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// posix_spawn (vfork and exec: no copy of the agent's memory) of `exe` with `argv` and `env`,
// /dev/null as stdin, stdout and stderr, none of the agent's other descriptors, and every
// signal disposition back to default. Optionally in a new session (so a new process group)
// or a new process group, with every signal blocked, or in a working directory.
struct SpawnOptions {
  bool new_session = false;
  bool new_group = false;
  bool block_signals = false;
  std::string work_dir;
};
Result<pid_t> SpawnProcess(const std::string& exe, std::vector<std::string> argv,
                           std::vector<std::string> env, const SpawnOptions& o);

// The executable `name` resolves to with the PATH in `env` (names with a '/' are taken as
// they are, relative to `work_dir`), or an error saying it was not found.
Result<std::string> ResolveExecutable(const std::string& name, const std::vector<std::string>& env,
                                      const std::string& work_dir);

}  // namespace tug::agent
