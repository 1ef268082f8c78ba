// A container's log on the agent's disk: what its stdout and stderr write, appended to
// `<path>`, rotated to `<path>.1` ... `<path>.<keep>` when it passes `max_bytes`, so a chatty
// process never fills the disk; and the last lines of it, for `logs --tail`.
//
// The supervisor reads the child's output from a pipe and calls Append; the log server reads
// with Tail. Errors are values naming the file.
#pragma once

#include <cstdint>
#include <string>

#include "raftstore/status.h"

namespace tug::agent {

class LogFile {
 public:
  // Opens (creating) `path` for appending; `max_bytes` per file, `keep` rotated files.
  static Result<LogFile> Open(const std::string& path, int64_t max_bytes, int keep);
  LogFile(LogFile&& o) noexcept;
  LogFile& operator=(LogFile&& o) noexcept;
  ~LogFile();

  // Appends `data`; rotates first if it would pass the size cap.
  Status Append(const std::string& data);
  const std::string& path() const { return path_; }
  int64_t size() const { return size_; }

 private:
  LogFile() = default;
  Status Rotate();

  std::string path_;
  int64_t max_bytes_ = 0;
  int keep_ = 1;
  int fd_ = -1;
  int64_t size_ = 0;
};

// The last `lines` lines of the log at `path` (all of it if `lines` < 0), reading back into
// the newest rotated file if the current one has fewer. A missing log is empty.
Result<std::string> TailLog(const std::string& path, int lines, int keep = 1);

}  // namespace tug::agent
