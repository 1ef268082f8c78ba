#include "raftstore/wal.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "base/coding.h"
#include "base/crc32c.h"
#include "base/file.h"
#include "raftstore/wal.pb.h"

namespace tug::store {

namespace {

constexpr size_t kHeaderBytes = 8;  // length + CRC

const char kRefuse[] = "refusing to start: restore this node from a peer or remove its data dir";

std::string SegmentName(uint64_t seq) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx.wal", static_cast<unsigned long long>(seq));
  return buf;
}

// Only names we could have written count, so stray files (an editor's backup, a LOCK file)
// never get replayed or deleted.
bool ParseSegmentName(const std::string& name, uint64_t* seq) {
  if (name.size() != 20 || name.compare(16, 4, ".wal") != 0) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < 16; ++i) {
    char c = name[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return false;
    v = v << 4 | static_cast<uint64_t>(d);
  }
  *seq = v;
  return true;
}

Status AppendRecord(const walpb::WalRecord& rec, std::string* out) {
  std::string payload;
  if (!rec.SerializeToString(&payload))
    return Status::Error("wal: cannot serialize a record (protobuf refused it)");
  if (payload.size() > Wal::kMaxRecordBytes)
    return Status::Invalid("wal: a record of " + std::to_string(payload.size()) +
                           " bytes exceeds the 64 MiB limit; split large entries");
  PutLE32(out, static_cast<uint32_t>(payload.size()));
  PutLE32(out, Crc32c(payload.data(), payload.size()));
  out->append(payload);
  return Status::Ok();
}

// A new or removed directory entry is durable only once the directory itself is fsynced.
Status FsyncDir(Env& env, int dir_fd, const std::string& dir) {
  if (Status s = env.Sync(dir_fd); !s)
    return Status::Error("wal: cannot fsync directory " + dir + ": " + s.message());
  return Status::Ok();
}

// The framing of the record at `off`: ok with its payload length, or why it is bad.
struct Frame {
  bool ok = false;
  uint32_t len = 0;
  std::string why;
};

Frame CheckFrame(const std::string& data, size_t off) {
  Frame f;
  size_t left = data.size() - off;
  if (left < kHeaderBytes) {
    f.why = "the file ends inside the record header";
    return f;
  }
  f.len = GetLE32(data.data() + off);
  // Zero length never comes from us (every record sets its oneof), but it is what a
  // zero-filled tail looks like after a crash, and CRC32C("") == 0 would accept it.
  if (f.len == 0) {
    f.why = "zero length";
    return f;
  }
  if (f.len > Wal::kMaxRecordBytes) {
    f.why = "length " + std::to_string(f.len) + " exceeds the 64 MiB limit";
    return f;
  }
  if (left - kHeaderBytes < f.len) {
    f.why = "the file ends inside the record payload";
    return f;
  }
  uint32_t want = GetLE32(data.data() + off + 4);
  if (Crc32c(data.data() + off + kHeaderBytes, f.len) != want) {
    f.why = "CRC mismatch";
    return f;
  }
  f.ok = true;
  return f;
}

bool ParseRecord(const std::string& data, size_t off, uint32_t len, walpb::WalRecord* rec) {
  return rec->ParseFromArray(data.data() + off + kHeaderBytes, static_cast<int>(len)) &&
         rec->rec_case() != walpb::WalRecord::REC_NOT_SET;
}

// The offset of a valid record after the bad one at `off`, if any. Tries where the next
// record would start if only the payload is damaged, then every byte: a torn write is
// followed by nothing valid, so anything found means later, acknowledged data exists.
std::optional<size_t> FindValidRecordAfter(const std::string& data, size_t off) {
  auto valid_at = [&](size_t pos) {
    if (pos >= data.size()) return false;
    Frame f = CheckFrame(data, pos);
    walpb::WalRecord rec;
    return f.ok && ParseRecord(data, pos, f.len, &rec);
  };
  if (data.size() - off >= kHeaderBytes) {
    uint64_t next = off + kHeaderBytes + uint64_t{GetLE32(data.data() + off)};
    if (next < data.size() && valid_at(static_cast<size_t>(next))) return next;
  }
  for (size_t pos = off + 1; pos + kHeaderBytes <= data.size(); ++pos)
    if (valid_at(pos)) return pos;
  return std::nullopt;
}

std::string Corrupt(const std::string& path, size_t off, const std::string& why) {
  return "wal: corrupt record in " + path + " at offset " + std::to_string(off) + " (" + why +
         "); " + kRefuse;
}

}  // namespace

struct Wal::Replay {
  LogShape shape;
  std::vector<raftpb::Entry> entries;
  std::optional<raftpb::HardState> hs;
  std::optional<raftpb::SnapshotMetadata> snap;
  std::vector<std::string> warnings;
};

Status Wal::ApplyEntryRule(LogShape& s, uint64_t index) {
  if (index == 0) return Status::Invalid("entry index 0 is invalid: Raft indexes start at 1");
  if (s.snap != 0 && index <= s.snap)
    return Status::Invalid("entry " + std::to_string(index) +
                           " is at or below the snapshot marker's index " + std::to_string(s.snap));
  if (s.anchored && index > s.last + 1)
    return Status::Invalid("entry " + std::to_string(index) +
                           " leaves a gap after the last index " + std::to_string(s.last));
  s.anchored = true;
  s.last = index;
  return Status::Ok();
}

Status Wal::ApplyMarkerRule(LogShape& s, uint64_t index) {
  if (index == 0) return Status::Invalid("a snapshot marker at index 0 is invalid");
  if (index < s.snap)
    return Status::Invalid("snapshot marker " + std::to_string(index) +
                           " is older than the previous one at " + std::to_string(s.snap));
  s.snap = index;
  if (!s.anchored || s.last < index) s.last = index;
  s.anchored = true;
  return Status::Ok();
}

Status Wal::ReplaySegment(Env& env, Segment& seg, bool is_last, Replay& r) {
  std::string data;
  if (Status s = env.ReadFile(seg.path, &data); !s.ok()) return s;

  size_t off = 0;
  walpb::WalRecord rec;
  while (off < data.size()) {
    Frame f = CheckFrame(data, off);
    if (!f.ok) {
      if (!is_last)
        return Status::Error(Corrupt(seg.path, off, f.why + ", and it is not the last segment"));
      if (auto next = FindValidRecordAfter(data, off))
        return Status::Error(Corrupt(seg.path, off,
                                     f.why + ", and a valid record follows at offset " +
                                         std::to_string(*next) + ", so it is not a torn write"));
      // A torn write from a crash: it was never synced, so dropping it loses nothing that
      // was acknowledged. Truncate so that appends continue after the last valid record.
      auto fd = env.Open(seg.path, O_WRONLY, 0);
      if (!fd)
        return Status::Error("wal: cannot open " + seg.path +
                             " to truncate its torn tail: " + fd.status().message());
      Status t = env.Truncate(*fd, off);
      if (t) t = env.Sync(*fd);
      env.Close(*fd);
      if (!t)
        return Status::Error("wal: cannot truncate the torn tail of " + seg.path + " at offset " +
                             std::to_string(off) + ": " + t.message());
      r.warnings.push_back("wal: torn write at the end of " + seg.path + " at offset " +
                           std::to_string(off) + " (" + f.why + "): truncated the file from " +
                           std::to_string(data.size()) + " to " + std::to_string(off) +
                           " bytes, dropping a write that a crash cut short");
      break;
    }
    if (!ParseRecord(data, off, f.len, &rec))
      return Status::Error(
          Corrupt(seg.path, off, "the CRC matches but the payload is not a WalRecord"));

    Status rule;
    switch (rec.rec_case()) {
      case walpb::WalRecord::kEntry: {
        const raftpb::Entry& e = rec.entry();
        rule = ApplyEntryRule(r.shape, e.index());
        if (!rule.ok()) break;
        if (!r.entries.empty() && e.index() <= r.entries.back().index()) {
          uint64_t first = r.entries.front().index();
          r.entries.resize(e.index() > first ? e.index() - first : 0);
        }
        r.entries.push_back(e);
        seg.max_entry = std::max(seg.max_entry, e.index());
        break;
      }
      case walpb::WalRecord::kHardState:
        r.hs = rec.hard_state();
        seg.has_hs = true;
        break;
      case walpb::WalRecord::kSnapshot: {
        uint64_t index = rec.snapshot().index();
        rule = ApplyMarkerRule(r.shape, index);
        if (!rule.ok()) break;
        auto keep = std::find_if(r.entries.begin(), r.entries.end(),
                                 [&](const raftpb::Entry& e) { return e.index() > index; });
        r.entries.erase(r.entries.begin(), keep);
        r.snap = rec.snapshot();
        seg.has_snap = true;
        break;
      }
      case walpb::WalRecord::REC_NOT_SET:
        break;  // ParseRecord refused it
    }
    if (!rule.ok()) return Status::Error(Corrupt(seg.path, off, rule.message()));
    off += kHeaderBytes + f.len;
  }
  seg.size = off;
  return Status::Ok();
}

Wal::Wal(WalOptions o) : opts_(std::move(o)), env_(opts_.env ? opts_.env : &DefaultEnv()) {}

Wal::~Wal() {
  for (int fd : {fd_, lock_fd_, dir_fd_})
    if (fd >= 0) env_->Close(fd);
}

Result<std::unique_ptr<Wal>> Wal::Open(const WalOptions& o, WalContents* out) {
  if (out == nullptr) return Status::Invalid("wal: Open needs a WalContents to replay into");
  if (o.dir.empty()) return Status::Invalid("wal: no directory given (WalOptions::dir is empty)");
  *out = WalContents{};

  std::unique_ptr<Wal> w(new Wal(o));  // its destructor closes what we open below on failure
  Env& env = *w->env_;
  if (Status s = env.CreateDirs(o.dir); !s)
    return Status::Error("wal: cannot create directory " + o.dir + ": " + s.message());

  auto dir_fd = env.Open(o.dir, O_RDONLY | O_DIRECTORY, 0);
  if (!dir_fd)
    return Status::Error("wal: cannot open directory " + o.dir + ": " + dir_fd.status().message());
  w->dir_fd_ = *dir_fd;

  // Two writers on one log would interleave records and corrupt it for good.
  const std::string lock_path = o.dir + "/LOCK";
  auto lock_fd = env.Open(lock_path, O_RDWR | O_CREAT, 0644);
  if (!lock_fd)
    return Status::Error("wal: cannot open " + lock_path + ": " + lock_fd.status().message());
  w->lock_fd_ = *lock_fd;
  if (Status s = env.Lock(w->lock_fd_); !s) {
    if (s.code() == Status::Code::kConflict)
      return Status::Conflict("wal: " + o.dir +
                              " is in use by another process (or another Wal in this one): "
                              "stop it before starting this node");
    return Status::Error("wal: cannot lock " + lock_path + ": " + s.message());
  }

  std::vector<uint64_t> seqs;
  auto names = env.ListDir(o.dir);
  if (!names)
    return Status::Error("wal: cannot list directory " + o.dir + ": " + names.status().message());
  for (const std::string& name : *names) {
    uint64_t seq = 0;
    if (ParseSegmentName(name, &seq)) seqs.push_back(seq);
  }
  std::sort(seqs.begin(), seqs.end());

  Replay r;
  for (size_t i = 0; i < seqs.size(); ++i) {
    // ReleaseTo removes only the oldest segments, so a hole means a file was lost.
    if (i > 0 && seqs[i] != seqs[i - 1] + 1)
      return Status::Error("wal: segment " + o.dir + "/" + SegmentName(seqs[i - 1] + 1) +
                           " is missing between " + SegmentName(seqs[i - 1]) + " and " +
                           SegmentName(seqs[i]) + "; " + kRefuse);
    Segment seg;
    seg.seq = seqs[i];
    seg.path = o.dir + "/" + SegmentName(seqs[i]);
    if (Status s = ReplaySegment(env, seg, i + 1 == seqs.size(), r); !s.ok()) return s;
    w->segments_.push_back(std::move(seg));
  }

  if (w->segments_.empty()) {
    Segment seg;
    seg.seq = 1;
    seg.path = o.dir + "/" + SegmentName(1);
    auto fd = env.Open(seg.path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (!fd) return Status::Error("wal: cannot create " + seg.path + ": " + fd.status().message());
    env.Close(*fd);
    if (Status s = FsyncDir(env, w->dir_fd_, o.dir); !s.ok()) return s;
    w->segments_.push_back(std::move(seg));
  }
  const std::string& cur = w->segments_.back().path;
  auto fd = env.Open(cur, O_WRONLY, 0);
  if (!fd)
    return Status::Error("wal: cannot open " + cur + " for writing: " + fd.status().message());
  w->fd_ = *fd;

  w->shape_ = r.shape;
  w->synced_hs_ = r.hs;
  w->synced_snap_ = r.snap;
  out->hard_state = r.hs.value_or(raftpb::HardState{});
  out->snapshot = std::move(r.snap);
  out->entries = std::move(r.entries);
  out->warnings = std::move(r.warnings);
  return w;
}

Status Wal::Save(const std::optional<raftpb::HardState>& hs,
                 const std::vector<raftpb::Entry>& entries) {
  if (!failed_.ok()) return failed_;
  // Work on copies so that a refused call buffers nothing.
  LogShape shape = shape_;
  std::string buf;
  uint64_t max_entry = pending_max_entry_;
  walpb::WalRecord rec;
  if (hs) {
    *rec.mutable_hard_state() = *hs;
    if (Status s = AppendRecord(rec, &buf); !s.ok()) return s;
  }
  for (const raftpb::Entry& e : entries) {
    if (Status s = ApplyEntryRule(shape, e.index()); !s.ok())
      return Status::Invalid("wal: refusing to save: " + s.message());
    *rec.mutable_entry() = e;
    if (Status s = AppendRecord(rec, &buf); !s.ok()) return s;
    max_entry = std::max(max_entry, e.index());
  }
  shape_ = shape;
  pending_ += buf;
  pending_max_entry_ = max_entry;
  if (hs) pending_hs_ = *hs;
  return Status::Ok();
}

Status Wal::SaveSnapshotMarker(const raftpb::SnapshotMetadata& meta) {
  if (!failed_.ok()) return failed_;
  LogShape shape = shape_;
  if (Status s = ApplyMarkerRule(shape, meta.index()); !s.ok())
    return Status::Invalid("wal: refusing to save: " + s.message());
  walpb::WalRecord rec;
  *rec.mutable_snapshot() = meta;
  if (Status s = AppendRecord(rec, &pending_); !s.ok()) return s;
  shape_ = shape;
  pending_snap_ = meta;
  return Status::Ok();
}

// Creates the next segment and queues, ahead of the pending records, the latest durable hard
// state and marker, so that each segment carries them and older ones can be deleted.
Status Wal::StartSegment() {
  Segment seg;
  seg.seq = segments_.back().seq + 1;
  seg.path = opts_.dir + "/" + SegmentName(seg.seq);
  std::string head;
  walpb::WalRecord rec;
  if (synced_hs_) {
    *rec.mutable_hard_state() = *synced_hs_;
    if (Status s = AppendRecord(rec, &head); !s.ok()) return s;
    seg.has_hs = true;
  }
  if (synced_snap_) {
    *rec.mutable_snapshot() = *synced_snap_;
    if (Status s = AppendRecord(rec, &head); !s.ok()) return s;
    seg.has_snap = true;
  }
  auto fd = env_->Open(seg.path, O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (!fd) return Status::Error("wal: cannot create " + seg.path + ": " + fd.status().message());
  if (Status s = FsyncDir(*env_, dir_fd_, opts_.dir); !s.ok()) {
    env_->Close(*fd);
    return s;
  }
  pending_.insert(0, head);
  env_->Close(fd_);
  fd_ = *fd;
  segments_.push_back(std::move(seg));
  return Status::Ok();
}

Status Wal::Sync() {
  if (!failed_.ok()) return failed_;
  if (pending_.empty()) return Status::Ok();
  auto fail = [&](const Status& s) {
    failed_ = Status::Error(s.message() +
                            "; the log on disk is now in an unknown state, so this Wal refuses "
                            "further writes: restart the node to replay what reached the disk");
    return failed_;
  };
  if (segments_.back().size > opts_.segment_bytes) {
    if (Status s = StartSegment(); !s.ok()) return fail(s);
  }
  Segment& seg = segments_.back();
  if (Status s = env_->WriteAt(fd_, seg.size, pending_); !s.ok())
    return fail(Status::Error("wal: cannot write to " + seg.path + ": " + s.message()));
  if (Status s = env_->DataSync(fd_); !s.ok())
    return fail(Status::Error("wal: fdatasync of " + seg.path + " failed: " + s.message()));

  seg.size += pending_.size();
  seg.max_entry = std::max(seg.max_entry, pending_max_entry_);
  if (pending_hs_) {
    synced_hs_ = std::move(pending_hs_);
    seg.has_hs = true;
  }
  if (pending_snap_) {
    synced_snap_ = std::move(pending_snap_);
    seg.has_snap = true;
  }
  pending_.clear();
  pending_max_entry_ = 0;
  pending_hs_.reset();
  pending_snap_.reset();
  return Status::Ok();
}

Status Wal::ReleaseTo(uint64_t index) {
  if (!failed_.ok()) return failed_;
  if (!synced_snap_ || index > synced_snap_->index())
    return Status::Invalid("wal: cannot release entries up to " + std::to_string(index) +
                           " beyond the last synced snapshot marker (" +
                           std::to_string(synced_snap_ ? synced_snap_->index() : 0) +
                           "): they exist nowhere else; save and Sync a snapshot marker first");

  // A segment may go only if a later one still holds the latest hard state and marker
  // (normally every segment does, from its head; a torn head after a crash may not).
  auto last_with = [&](bool Segment::*flag) {
    size_t n = 0;
    for (size_t i = 0; i < segments_.size(); ++i)
      if (segments_[i].*flag) n = i;
    return n;
  };
  const bool any_hs =
      std::any_of(segments_.begin(), segments_.end(), [](const Segment& s) { return s.has_hs; });
  size_t limit = segments_.size() - 1;  // never the current segment
  if (any_hs) limit = std::min(limit, last_with(&Segment::has_hs));
  limit = std::min(limit, last_with(&Segment::has_snap));

  size_t n = 0;
  while (n < limit && segments_[n].max_entry <= index)
    ++n;
  for (size_t i = 0; i < n; ++i) {
    const Segment& seg = segments_.front();
    if (Status s = env_->Remove(seg.path); !s.ok())
      return Status::Error("wal: cannot delete released segment " + seg.path + ": " + s.message());
    // One directory fsync per file: were a later deletion to persist without an earlier one,
    // replay would find a hole in the segment numbers and refuse to start.
    if (Status s = FsyncDir(*env_, dir_fd_, opts_.dir); !s.ok()) return s;
    segments_.erase(segments_.begin());
  }
  return Status::Ok();
}

uint64_t Wal::last_index() const {
  return shape_.last;
}

std::vector<std::string> Wal::segment_paths() const {
  std::vector<std::string> paths;
  for (const Segment& s : segments_)
    paths.push_back(s.path);
  return paths;
}

}  // namespace tug::store
