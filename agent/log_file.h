// A container's log on the agent's disk. The container's stdout and stderr are appended
// straight to `<path>` (by the container's own processes, so logging goes on while no agent
// runs); the agent rotates it when it passes a size cap, to `<path>.1` ... `<path>.<keep>`, so
// a chatty process never fills the disk, and reads the last lines back for `logs --tail`.
//
// Rotation copies and then truncates (logrotate's copytruncate): the writers keep their
// O_APPEND descriptor and go on at the new end. Lines written between the copy and the
// truncation are lost; with the agent checking about once a second that is a small window.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace tug::agent {

constexpr int64_t kLogMaxBytes = 10 << 20;  // per file
constexpr int kLogKeep = 3;                 // rotated files kept

// If the log at `path` is larger than `max_bytes`, moves it to `path.1` (shifting older ones
// up to `path.keep`) and empties it. Returns whether it rotated.
Result<bool> RotateLog(const std::string& path, int64_t max_bytes, int keep = kLogKeep);

// The last `lines` lines of the log at `path` (all of it if `lines` < 0), reading back into
// the newest rotated file if the current one has fewer. A missing log is empty.
Result<std::string> TailLog(const std::string& path, int lines, int keep = kLogKeep);

}  // namespace tug::agent
