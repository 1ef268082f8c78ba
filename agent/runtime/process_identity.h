// Knowing a process again after the agent restarts: a PID alone is not enough (the kernel
// reuses them), so the agent records each container's PID together with the process's start
// time (field 22 of /proc/<pid>/stat, in clock ticks since boot), and a PID counts as its own
// only if both still match.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "base/status.h"

namespace tug::agent {

struct ProcessIdentity {
  pid_t pid = 0;
  uint64_t start_ticks = 0;  // /proc/<pid>/stat field 22
  bool operator==(const ProcessIdentity&) const = default;
};

// The identity of a running process, or nullopt if there is no such process.
std::optional<ProcessIdentity> IdentifyProcess(pid_t pid);

// Whether `id` is still the same running process (not exited, not a reused PID). A zombie
// (exited, not yet reaped) is not running.
bool StillRunning(const ProcessIdentity& id);

// This boot of the machine (/proc/sys/kernel/random/boot_id): process identities from another
// boot name nothing running now. "" if unknown.
std::string CurrentBootId();

// Saves and loads identities as small JSON files, atomically (tmp + rename), so that a crash
// never leaves half a record. Errors name the file.
Status SaveIdentity(const std::string& path, const ProcessIdentity& id);
Result<ProcessIdentity> LoadIdentity(const std::string& path);

}  // namespace tug::agent
