#include "base/env.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "base/file.h"

namespace tug {

namespace {
Status Failed() {
  return Status::Error(Errno());
}
}  // namespace

Status Env::SyncDir(const std::string& dir) {
  auto fd = Open(dir, O_RDONLY | O_DIRECTORY, 0);
  if (!fd) return fd.status();
  Status s = Sync(*fd);
  Close(*fd);
  return s;
}

Result<int> PosixEnv::Open(const std::string& path, int flags, mode_t mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return Failed();
  return fd;
}

void PosixEnv::Close(int fd) {
  if (fd >= 0) ::close(fd);
}

Status PosixEnv::WriteAt(int fd, uint64_t offset, std::string_view bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n =
        ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Failed();
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status PosixEnv::Write(int fd, std::string_view bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Failed();
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status PosixEnv::DataSync(int fd) {
  return ::fdatasync(fd) == 0 ? Status::Ok() : Failed();
}

Status PosixEnv::Sync(int fd) {
  return ::fsync(fd) == 0 ? Status::Ok() : Failed();
}

Status PosixEnv::Truncate(int fd, uint64_t size) {
  return ::ftruncate(fd, static_cast<off_t>(size)) == 0 ? Status::Ok() : Failed();
}

Status PosixEnv::Rename(const std::string& from, const std::string& to) {
  return ::rename(from.c_str(), to.c_str()) == 0 ? Status::Ok() : Failed();
}

Status PosixEnv::Remove(const std::string& path) {
  return ::unlink(path.c_str()) == 0 || errno == ENOENT ? Status::Ok() : Failed();
}

Status PosixEnv::ReadFile(const std::string& path, std::string* out) {
  return ReadWholeFile(path, out);
}

Status PosixEnv::CreateDirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  return ec ? Status::Error(ec.message()) : Status::Ok();
}

Result<std::vector<std::string>> PosixEnv::ListDir(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec))
    names.push_back(it->path().filename().string());
  if (ec) return Status::Error(ec.message());
  return names;
}

bool PosixEnv::Exists(const std::string& path) {
  // Only "no such file" is absence: any other failure (a directory we may not search) says
  // yes, so that the caller's next call fails with the real reason instead of finding nothing.
  return ::access(path.c_str(), F_OK) == 0 || errno != ENOENT;
}

Status PosixEnv::Lock(int fd) {
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return Status::Ok();
  if (errno == EWOULDBLOCK) return Status::Conflict(Errno());
  return Failed();
}

Env& DefaultEnv() {
  static PosixEnv env;
  return env;
}

}  // namespace tug
