// The Env seam: the file-system calls that durability depends on (the WAL, snapshot files).
// Code that must keep a promise about what reaches the disk does its I/O through an Env, so
// that tests can make exactly one fdatasync, write or rename fail and check the promise
// (test/support/fault_env.h); production code uses DefaultEnv().
//
// Files are plain descriptors. Each call returns a Status whose message is only the system's
// reason (strerror): the caller knows which file it was and words the message for the
// operator. Thread-safe: the POSIX Env holds no state.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace tug {

class Env {
 public:
  virtual ~Env() = default;

  // open(2) with O_CLOEXEC added.
  virtual Result<int> Open(const std::string& path, int flags, mode_t mode) = 0;
  virtual void Close(int fd) = 0;
  // Writes all of `bytes` at `offset` (pwrite), or fails.
  virtual Status WriteAt(int fd, uint64_t offset, std::string_view bytes) = 0;
  // Writes all of `bytes` at the file position (write), or fails.
  virtual Status Write(int fd, std::string_view bytes) = 0;
  virtual Status DataSync(int fd) = 0;  // fdatasync: the data and the size, not every inode field
  virtual Status Sync(int fd) = 0;      // fsync; of a directory, makes its entries durable
  virtual Status Truncate(int fd, uint64_t size) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // Deletes a file; one that is already gone is not an error.
  virtual Status Remove(const std::string& path) = 0;
  virtual Status ReadFile(const std::string& path, std::string* out) = 0;
  // mkdir -p.
  virtual Status CreateDirs(const std::string& path) = 0;
  // The names in a directory (not "." or ".."), in no particular order.
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  // False only when nothing is there (ENOENT): any other failure says true, so that the
  // caller's next call fails with the real reason instead of finding nothing.
  virtual bool Exists(const std::string& path) = 0;
  // An exclusive, non-blocking flock held until the descriptor closes; Conflict when another
  // descriptor holds it.
  virtual Status Lock(int fd) = 0;

  // Opens a directory and fsyncs it (a new, renamed or removed entry is durable only then).
  Status SyncDir(const std::string& dir);
};

// The machine's file system, through POSIX calls. Tests derive from it to inject faults.
class PosixEnv : public Env {
 public:
  Result<int> Open(const std::string& path, int flags, mode_t mode) override;
  void Close(int fd) override;
  Status WriteAt(int fd, uint64_t offset, std::string_view bytes) override;
  Status Write(int fd, std::string_view bytes) override;
  Status DataSync(int fd) override;
  Status Sync(int fd) override;
  Status Truncate(int fd, uint64_t size) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status Remove(const std::string& path) override;
  Status ReadFile(const std::string& path, std::string* out) override;
  Status CreateDirs(const std::string& path) override;
  Result<std::vector<std::string>> ListDir(const std::string& dir) override;
  bool Exists(const std::string& path) override;
  Status Lock(int fd) override;
};

// A PosixEnv for the whole process.
Env& DefaultEnv();

}  // namespace tug
