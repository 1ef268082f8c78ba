#include "agent/log_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "raftstore/file_util.h"

namespace tug::agent {

namespace {

std::string Rotated(const std::string& path, int n) {
  return path + "." + std::to_string(n);
}

}  // namespace

Result<LogFile> LogFile::Open(const std::string& path, int64_t max_bytes, int keep) {
  LogFile f;
  f.path_ = path;
  f.max_bytes_ = max_bytes;
  f.keep_ = keep < 1 ? 1 : keep;
  f.fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (f.fd_ < 0) return Status::Error("cannot open log " + path + ": " + store::Errno());
  struct stat st {};
  if (::fstat(f.fd_, &st) == 0) f.size_ = st.st_size;
  return f;
}

LogFile::LogFile(LogFile&& o) noexcept {
  *this = std::move(o);
}

LogFile& LogFile::operator=(LogFile&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(o.path_);
    max_bytes_ = o.max_bytes_;
    keep_ = o.keep_;
    fd_ = o.fd_;
    size_ = o.size_;
    o.fd_ = -1;
  }
  return *this;
}

LogFile::~LogFile() {
  if (fd_ >= 0) ::close(fd_);
}

Status LogFile::Rotate() {
  // path.keep is dropped; path.k -> path.k+1; path -> path.1; a fresh path.
  std::remove(Rotated(path_, keep_).c_str());
  for (int k = keep_ - 1; k >= 1; --k)
    std::rename(Rotated(path_, k).c_str(), Rotated(path_, k + 1).c_str());
  if (::rename(path_.c_str(), Rotated(path_, 1).c_str()) != 0 && errno != ENOENT)
    return Status::Error("cannot rotate log " + path_ + ": " + store::Errno());
  ::close(fd_);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) return Status::Error("cannot reopen log " + path_ + ": " + store::Errno());
  size_ = 0;
  return Status::Ok();
}

Status LogFile::Append(const std::string& data) {
  if (fd_ < 0) return Status::Error("log " + path_ + " is not open");
  if (size_ > 0 && size_ + static_cast<int64_t>(data.size()) > max_bytes_) {
    if (Status s = Rotate(); !s) return s;
  }
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd_, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Error("cannot write log " + path_ + ": " + store::Errno());
    }
    off += static_cast<size_t>(n);
  }
  size_ += static_cast<int64_t>(data.size());
  return Status::Ok();
}

Result<std::string> TailLog(const std::string& path, int lines, int keep) {
  // Newest last: path.keep ... path.1, path. Read from the newest back until enough lines.
  std::string text;
  for (int k = 0; k <= keep; ++k) {
    std::string file = k == 0 ? path : Rotated(path, k);
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) continue;  // a missing log is an empty one
    std::string part;
    if (Status s = store::ReadWholeFile(file, &part); !s) {
      return Status::Error("cannot read log " + file + ": " + s.message());
    }
    text = part + text;
    if (lines >= 0) {
      int count = 0;
      for (char c : text)
        count += c == '\n';
      if (count > lines) break;
    }
  }
  if (lines < 0) return text;
  if (lines == 0) return std::string();
  // Keep the last `lines` lines (a last line without '\n' counts as one).
  size_t end = text.size();
  if (end > 0 && text[end - 1] == '\n') --end;
  size_t start = end;
  for (int i = 0; i < lines; ++i) {
    size_t nl = start == 0 ? std::string::npos : text.rfind('\n', start - 1);
    if (nl == std::string::npos) return text;  // fewer lines than asked: all of them
    start = nl;
  }
  return text.substr(start + 1);
}

}  // namespace tug::agent
