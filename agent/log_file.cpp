#include "agent/log_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/file.h"

namespace tug::agent {

namespace {

std::string Rotated(const std::string& path, int n) {
  return path + "." + std::to_string(n);
}

}  // namespace

Result<bool> RotateLog(const std::string& path, int64_t max_bytes, int keep) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || st.st_size <= max_bytes) return false;
  keep = keep < 1 ? 1 : keep;
  std::remove(Rotated(path, keep).c_str());
  for (int k = keep - 1; k >= 1; --k)
    std::rename(Rotated(path, k).c_str(), Rotated(path, k + 1).c_str());
  // Copy, then truncate in place: the writers' descriptors stay valid.
  std::string text;
  if (Status s = ReadWholeFile(path, &text); !s)
    return Status::Error("cannot rotate log " + path + ": " + s.message());
  std::string to = Rotated(path, 1);
  int fd = ::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Error("cannot rotate log to " + to + ": " + Errno());
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return Status::Error("cannot write " + to + ": " + Errno());
    }
    off += static_cast<size_t>(n);
  }
  ::close(fd);
  if (::truncate(path.c_str(), 0) != 0)
    return Status::Error("cannot truncate log " + path + ": " + Errno());
  return true;
}

Result<std::string> TailLog(const std::string& path, int lines, int keep) {
  // Newest last: path.keep ... path.1, path. Read from the newest back until enough lines.
  std::string text;
  for (int k = 0; k <= keep; ++k) {
    std::string file = k == 0 ? path : Rotated(path, k);
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) continue;  // a missing log is an empty one
    std::string part;
    if (Status s = ReadWholeFile(file, &part); !s) {
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
