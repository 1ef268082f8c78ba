#include "raftstore/snapshot_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <utility>

#include "base/coding.h"
#include "base/crc32c.h"
#include "base/file.h"

namespace tug::store {

namespace {

namespace fs = std::filesystem;

constexpr size_t kCrcBytes = 4;

struct SnapName {
  uint64_t term = 0;
  uint64_t index = 0;
  std::string path;
};

std::string FileName(uint64_t term, uint64_t index) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%016llx-%016llx.snap", static_cast<unsigned long long>(term),
                static_cast<unsigned long long>(index));
  return buf;
}

bool ParseHex16(const std::string& s, size_t at, uint64_t* v) {
  *v = 0;
  for (size_t i = at; i < at + 16; ++i) {
    char c = s[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return false;
    *v = *v << 4 | static_cast<uint64_t>(d);
  }
  return true;
}

// Only exact names we write count: "*.snap.tmp" and "*.snap.broken" are not snapshots.
bool ParseName(const std::string& name, SnapName* out) {
  if (name.size() != 38 || name[16] != '-' || name.compare(33, 5, ".snap") != 0) return false;
  return ParseHex16(name, 0, &out->term) && ParseHex16(name, 17, &out->index);
}

bool IsTempName(const std::string& name) {
  return name.size() > 9 && name.compare(name.size() - 9, 9, ".snap.tmp") == 0;
}

// Snapshot files in dir, oldest first; and stray temporary files in *temps if given.
Status List(const std::string& dir, std::vector<SnapName>* snaps,
            std::vector<std::string>* temps = nullptr) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    SnapName n;
    if (ParseName(name, &n)) {
      n.path = dir + "/" + name;
      snaps->push_back(std::move(n));
    } else if (temps && IsTempName(name)) {
      temps->push_back(dir + "/" + name);
    }
  }
  if (ec) return Status::Error("snapshot: cannot list directory " + dir + ": " + ec.message());
  std::sort(snaps->begin(), snaps->end(), [](const SnapName& a, const SnapName& b) {
    return std::pair(a.term, a.index) < std::pair(b.term, b.index);
  });
  return Status::Ok();
}

Status FsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::Error("snapshot: cannot open directory " + dir + ": " + Errno());
  bool ok = ::fsync(fd) == 0;
  std::string err = ok ? "" : Errno();
  ::close(fd);
  if (!ok) return Status::Error("snapshot: cannot fsync directory " + dir + ": " + err);
  return Status::Ok();
}

Status WriteFileSynced(const std::string& path, const std::string& bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Error("snapshot: cannot create " + path + ": " + Errno());
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status s = Status::Error("snapshot: cannot write " + path + ": " + Errno());
      ::close(fd);
      return s;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Status s = Status::Error("snapshot: fsync of " + path + " failed: " + Errno());
    ::close(fd);
    return s;
  }
  if (::close(fd) != 0) return Status::Error("snapshot: cannot close " + path + ": " + Errno());
  return Status::Ok();
}

// Why the file's bytes are not the snapshot its name promises; empty if they are.
std::string CheckContents(const SnapName& n, const std::string& data, raftpb::Snapshot* snap) {
  if (data.size() < kCrcBytes) return "shorter than its CRC";
  if (Crc32c(data.data() + kCrcBytes, data.size() - kCrcBytes) != GetLE32(data.data()))
    return "CRC mismatch";
  if (!snap->ParseFromArray(data.data() + kCrcBytes, static_cast<int>(data.size() - kCrcBytes)))
    return "the CRC matches but the contents are not a Snapshot";
  if (snap->metadata().term() != n.term || snap->metadata().index() != n.index)
    return "its metadata says term " + std::to_string(snap->metadata().term()) + ", index " +
           std::to_string(snap->metadata().index()) + ", not what its name says";
  return "";
}

}  // namespace

SnapshotFiles::SnapshotFiles(std::string dir) : dir_(std::move(dir)) {}

Status SnapshotFiles::Save(const raftpb::Snapshot& s) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return Status::Error("snapshot: cannot create directory " + dir_ + ": " + ec.message());

  std::string body;
  if (!s.SerializeToString(&body))
    return Status::Error("snapshot: cannot serialize the snapshot (protobuf refused it)");
  uint32_t crc = Crc32c(body.data(), body.size());
  std::string bytes;
  bytes.reserve(kCrcBytes + body.size());
  for (int i = 0; i < 4; ++i)
    bytes.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  bytes += body;

  const std::string path = dir_ + "/" + FileName(s.metadata().term(), s.metadata().index());
  const std::string tmp = path + ".tmp";
  if (Status st = WriteFileSynced(tmp, bytes); !st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status st = Status::Error("snapshot: cannot rename " + tmp + " to " + path + ": " + Errno());
    ::unlink(tmp.c_str());
    return st;
  }
  if (Status st = FsyncDir(dir_); !st.ok()) return st;

  // Clean-up: the new snapshot is durable from here on.
  std::vector<SnapName> snaps;
  std::vector<std::string> temps;
  if (Status st = List(dir_, &snaps, &temps); !st.ok())
    return Status::Error("snapshot: " + path + " is saved, but " + st.message());
  std::vector<std::string> doomed = std::move(temps);
  for (size_t i = 0; i + 2 < snaps.size(); ++i)
    doomed.push_back(snaps[i].path);
  for (const std::string& p : doomed)
    if (::unlink(p.c_str()) != 0 && errno != ENOENT)
      return Status::Error("snapshot: " + path + " is saved, but deleting the old " + p +
                           " failed: " + Errno());
  return Status::Ok();
}

Result<std::optional<raftpb::Snapshot>> SnapshotFiles::LoadNewest(
    std::vector<std::string>* warnings) {
  std::error_code ec;
  if (!fs::exists(dir_, ec)) {
    if (ec) return Status::Error("snapshot: cannot access " + dir_ + ": " + ec.message());
    return std::optional<raftpb::Snapshot>();
  }
  std::vector<SnapName> snaps;
  if (Status st = List(dir_, &snaps); !st.ok()) return st;

  std::string data;
  for (auto it = snaps.rbegin(); it != snaps.rend(); ++it) {
    if (Status st = ReadWholeFile(it->path, &data); !st.ok()) return st;
    raftpb::Snapshot snap;
    std::string why = CheckContents(*it, data, &snap);
    if (why.empty()) return std::optional<raftpb::Snapshot>(std::move(snap));

    const std::string broken = it->path + ".broken";
    std::string warning = "snapshot: skipping damaged " + it->path + " (" + why + ")";
    if (::rename(it->path.c_str(), broken.c_str()) == 0)
      warning += ", renamed to " + broken;
    else
      warning += "; renaming it to " + broken + " failed: " + Errno();
    if (warnings) warnings->push_back(std::move(warning));
  }
  return std::optional<raftpb::Snapshot>();
}

}  // namespace tug::store
