// Runs real `tug-agent` processes against a TugdCluster for integration tests: start, kill,
// restart by PID, each with its own data dir and log server port. The destructor kills the
// agents and then every container they left running (found through the agents' state files,
// by PID and start time, and by the command lines of container supervisors naming an agent's
// data dir), since containers outlive their agent by design.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "test/support/tugd_cluster.h"

namespace tug::testing {

// True once `pid` has exited: no such process, or a zombie nobody has reaped yet (a
// container's process outlives its shim and is re-parented to PID 1, which in a CI
// container may never reap it).
bool ProcessGone(pid_t pid);

class AgentFleet {
 public:
  explicit AgentFleet(const TugdCluster& c) : c_(c) {}
  ~AgentFleet();
  AgentFleet(const AgentFleet&) = delete;
  AgentFleet& operator=(const AgentFleet&) = delete;

  // Starts (or restarts, with the same data dir and port) the agent `name`.
  pid_t Start(const std::string& name, std::vector<std::string> extra_args = {});
  void Kill(const std::string& name);  // SIGKILL and reap
  void Signal(const std::string& name, int sig);
  bool Running(const std::string& name) const;
  std::string DataDir(const std::string& name) const;
  std::string ReadLog(const std::string& name) const;
  // Every agent's log, for failure messages.
  std::string Logs() const;
  // PIDs of the containers' processes an agent runs now (children of the supervisor
  // processes its state files name), by "<pod dir>/<container>".
  std::map<std::string, pid_t> ContainerPids(const std::string& name) const;

 private:
  struct Proc {
    pid_t pid = 0;
    int port = 0;
    std::vector<std::string> args;
  };
  const TugdCluster& c_;
  std::map<std::string, Proc> procs_;
};

}  // namespace tug::testing
