#include "raftstore/snapshot_file.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "base/coding.h"
#include "base/crc32c.h"
#include "base/file.h"

namespace tug::store {

namespace {

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
Status List(Env& env, const std::string& dir, std::vector<SnapName>* snaps,
            std::vector<std::string>* temps = nullptr) {
  auto names = env.ListDir(dir);
  if (!names)
    return Status::Error("snapshot: cannot list directory " + dir + ": " +
                         names.status().message());
  for (const std::string& name : *names) {
    SnapName n;
    if (ParseName(name, &n)) {
      n.path = dir + "/" + name;
      snaps->push_back(std::move(n));
    } else if (temps && IsTempName(name)) {
      temps->push_back(dir + "/" + name);
    }
  }
  std::sort(snaps->begin(), snaps->end(), [](const SnapName& a, const SnapName& b) {
    return std::pair(a.term, a.index) < std::pair(b.term, b.index);
  });
  return Status::Ok();
}

Status FsyncDir(Env& env, const std::string& dir) {
  if (Status s = env.SyncDir(dir); !s)
    return Status::Error("snapshot: cannot fsync directory " + dir + ": " + s.message());
  return Status::Ok();
}

Status WriteFileSynced(Env& env, const std::string& path, const std::string& bytes) {
  auto fd = env.Open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (!fd) return Status::Error("snapshot: cannot create " + path + ": " + fd.status().message());
  Status s = env.Write(*fd, bytes);
  if (!s) {
    s = Status::Error("snapshot: cannot write " + path + ": " + s.message());
  } else if (s = env.Sync(*fd); !s) {
    s = Status::Error("snapshot: fsync of " + path + " failed: " + s.message());
  }
  env.Close(*fd);
  return s;
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

SnapshotFiles::SnapshotFiles(std::string dir, Env* env)
    : dir_(std::move(dir)), env_(env ? env : &DefaultEnv()) {}

Status SnapshotFiles::Save(const raftpb::Snapshot& s) {
  if (Status st = env_->CreateDirs(dir_); !st)
    return Status::Error("snapshot: cannot create directory " + dir_ + ": " + st.message());

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
  if (Status st = WriteFileSynced(*env_, tmp, bytes); !st.ok()) {
    env_->Remove(tmp);
    return st;
  }
  if (Status st = env_->Rename(tmp, path); !st.ok()) {
    env_->Remove(tmp);
    return Status::Error("snapshot: cannot rename " + tmp + " to " + path + ": " + st.message());
  }
  if (Status st = FsyncDir(*env_, dir_); !st.ok()) return st;

  // Clean-up: the new snapshot is durable from here on.
  std::vector<SnapName> snaps;
  std::vector<std::string> temps;
  if (Status st = List(*env_, dir_, &snaps, &temps); !st.ok())
    return Status::Error("snapshot: " + path + " is saved, but " + st.message());
  std::vector<std::string> doomed = std::move(temps);
  for (size_t i = 0; i + 2 < snaps.size(); ++i)
    doomed.push_back(snaps[i].path);
  for (const std::string& p : doomed)
    if (Status st = env_->Remove(p); !st.ok())
      return Status::Error("snapshot: " + path + " is saved, but deleting the old " + p +
                           " failed: " + st.message());
  return Status::Ok();
}

Result<std::optional<raftpb::Snapshot>> SnapshotFiles::LoadNewest(
    std::vector<std::string>* warnings) {
  if (!env_->Exists(dir_)) return std::optional<raftpb::Snapshot>();
  std::vector<SnapName> snaps;
  if (Status st = List(*env_, dir_, &snaps); !st.ok()) return st;

  std::string data;
  for (auto it = snaps.rbegin(); it != snaps.rend(); ++it) {
    if (Status st = env_->ReadFile(it->path, &data); !st.ok()) return st;
    raftpb::Snapshot snap;
    std::string why = CheckContents(*it, data, &snap);
    if (why.empty()) return std::optional<raftpb::Snapshot>(std::move(snap));

    const std::string broken = it->path + ".broken";
    std::string warning = "snapshot: skipping damaged " + it->path + " (" + why + ")";
    if (Status st = env_->Rename(it->path, broken); st.ok())
      warning += ", renamed to " + broken;
    else
      warning += "; renaming it to " + broken + " failed: " + st.message();
    if (warnings) warnings->push_back(std::move(warning));
  }
  return std::optional<raftpb::Snapshot>();
}

}  // namespace tug::store
