// A file system that fails on cue: the real one (PosixEnv) except for the calls a test arms
// to fail with EIO, so that the WAL's and snapshot files' promises about failed writes,
// fdatasyncs and renames can be checked on real files.
#pragma once

#include <map>
#include <string>

#include "base/env.h"

namespace tug::test {

class FaultEnv : public PosixEnv {
 public:
  enum class Op { kWrite, kDataSync, kSync, kRename };

  // The next call of `op` after `skip` successful ones fails (once) with EIO.
  void FailNext(Op op, int skip = 0) { armed_[op] = skip; }
  // How many calls of `op` were made, failed ones included.
  int calls(Op op) const {
    auto it = calls_.find(op);
    return it == calls_.end() ? 0 : it->second;
  }

  Status WriteAt(int fd, uint64_t offset, std::string_view bytes) override {
    if (Fire(Op::kWrite)) return Eio();
    return PosixEnv::WriteAt(fd, offset, bytes);
  }
  Status Write(int fd, std::string_view bytes) override {
    if (Fire(Op::kWrite)) return Eio();
    return PosixEnv::Write(fd, bytes);
  }
  Status DataSync(int fd) override {
    if (Fire(Op::kDataSync)) return Eio();
    return PosixEnv::DataSync(fd);
  }
  Status Sync(int fd) override {
    if (Fire(Op::kSync)) return Eio();
    return PosixEnv::Sync(fd);
  }
  Status Rename(const std::string& from, const std::string& to) override {
    if (Fire(Op::kRename)) return Eio();
    return PosixEnv::Rename(from, to);
  }

 private:
  static Status Eio() { return Status::Error("Input/output error (injected)"); }
  bool Fire(Op op) {
    ++calls_[op];
    auto it = armed_.find(op);
    if (it == armed_.end()) return false;
    if (it->second > 0) {
      --it->second;
      return false;
    }
    armed_.erase(it);
    return true;
  }

  std::map<Op, int> armed_;
  std::map<Op, int> calls_;
};

}  // namespace tug::test
