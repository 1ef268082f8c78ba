// Memory limits through the kernel's control groups, where the machine lets the agent make
// them: cgroup v2 (memory.max) or the v1 memory controller (memory.limit_in_bytes). Each
// container gets a group under the agent's own, `tug-<node>/<container-id>`; its processes join
// it before they exec, so a container over its limit is killed by the kernel (OOMKilled).
//
// Where no writable memory cgroup exists (a container without delegation, a non-root agent),
// Detect says why, and the agent reports that limits are not enforced instead of failing pods.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace tug::agent {

// `s` as one file name: letters, digits, '-' and '.' kept, anything else '_'.
std::string FileSafe(const std::string& s);

class MemoryCgroups {
 public:
  // Finds a place for this node's groups, or an error saying why limits cannot be enforced.
  static Result<MemoryCgroups> Detect(const std::string& node_name);

  // Makes the group for one container with its limit (0: none) and soft limit (request);
  // returns the path of the file a process writes its PID to in order to join.
  Result<std::string> Create(const std::string& container_id, int64_t limit_bytes,
                             int64_t request_bytes) const;
  // Whether the kernel killed a process of the group for memory.
  static bool OomKilled(const std::string& group);
  // Whether the group's usage ever reached its limit (v1 memory.failcnt, v2 memory.events
  // "max"). With cgroup v1 an OOM kill in a child group is counted in the child only, so a
  // parent that reached its limit and a container killed by SIGKILL is how an OOM kill below
  // it is recognized once the child is gone.
  static bool LimitReached(const std::string& group);
  // Sends `sig` to every process in the group (they are the container's, wherever they moved
  // in the process tree, even into a session of their own); returns how many there were.
  static int SignalAll(const std::string& group, int sig);
  // Removes the group (after its processes are gone); best effort.
  static void Remove(const std::string& group);
  // The group directory of a procs file returned by Create.
  static std::string GroupOf(const std::string& procs_file);

  const std::string& base() const { return base_; }
  bool v2() const { return v2_; }

 private:
  std::string base_;
  bool v2_ = false;
};

}  // namespace tug::agent
