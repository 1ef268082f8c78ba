// The write-ahead log of a Raft node: its hard state and log entries, made durable before the
// node acts on them (see THE PERSISTENCE CONTRACT in raftstore/raft.h).
//
// ON DISK. A directory holds segment files named "%016llx.wal" by sequence number (so names
// sort in write order) and a LOCK file. A segment is a sequence of records:
//
//   [4-byte LE payload length][4-byte LE CRC32C of the payload][payload: walpb::WalRecord]
//
// A record is an entry, a hard state, or a snapshot marker. A new segment starts, at a record
// boundary, on the first Sync after the current one has grown beyond segment_bytes; it begins
// with the latest hard state and snapshot marker, so that deleting older segments never loses
// them.
//
// THE LOG RULES, applied identically by Save and by replay:
//   - entry indexes start at 1;
//   - an entry whose index is <= the last index replaces that entry and everything after it
//     (a new leader truncated the log);
//   - an entry may not leave a gap after the last index;
//   - a snapshot marker drops the entries at or below its index, and an entry may not be
//     written at or below it; markers never go backwards.
// The first entry of an empty log (or of a log whose older segments were released) may have
// any index.
//
// DAMAGE FOUND BY REPLAY. Every segment is read in order, and every record is checked.
//   - Torn tail: a bad record (file ends inside it, CRC mismatch, zero or > 64 MiB length) in
//     the LAST segment with no valid record anywhere after it. That is a write a crash cut
//     short, never acknowledged by Sync: the file is truncated at the record's start, a
//     warning naming the file and offset goes to WalContents::warnings, and appends continue
//     in that file.
//   - Anything else is corruption and Open fails naming the file and offset: a bad record in
//     an earlier segment; a bad record in the last segment followed by a valid one (data
//     after it was acknowledged, so it is not a torn write); a payload whose CRC matches but
//     does not parse; a record that breaks the log rules; a missing segment number. Nothing
//     is ever skipped silently, and a refused log is left untouched for inspection.
//
// ERRORS. Calls return a Status with a message for the operator. After a failed write,
// fdatasync or segment creation, the Wal refuses every later Save/Sync: the file's contents are
// then unknown (a failed fdatasync may have dropped pages the kernel will not write again),
// and the only safe recovery is to reopen, which replays what really reached the disk.
//
// Not thread-safe: one owner calls it. One process at a time: Open takes an exclusive flock on
// the directory's LOCK file.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "raftstore/raft.pb.h"

namespace tug::store {

struct WalOptions {
  std::string dir;                       // created (with parents) if absent
  uint64_t segment_bytes = 64ull << 20;  // roll to a new segment after this size
  Env* env = nullptr;                    // the file system; nullptr: DefaultEnv()
};

// What replay recovered.
struct WalContents {
  raftpb::HardState hard_state;                      // the last one written (default if none)
  std::optional<raftpb::SnapshotMetadata> snapshot;  // the last snapshot marker written
  std::vector<raftpb::Entry> entries;                // live entries after the marker, contiguous
  std::vector<std::string> warnings;                 // e.g. a torn tail that was truncated
};

class Wal {
 public:
  // The largest record payload; a longer length field on disk counts as damage.
  static constexpr uint32_t kMaxRecordBytes = 64u << 20;

  // Opens (creating if needed) the log in o.dir, replays it into *out, and returns a Wal that
  // appends after the last valid record. Fails, leaving the files untouched, on corruption
  // (see above), on I/O errors, or if another process holds the directory.
  static Result<std::unique_ptr<Wal>> Open(const WalOptions& o, WalContents* out);

  // Closes the files. Records buffered since the last Sync are dropped, as a crash would.
  ~Wal();
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  // Buffers records: the hard state (if given), then the entries in order. An entry whose
  // index is <= the last entry's index replaces that entry and everything after it (the Raft
  // log was truncated by a new leader); replay applies the same rule. Refuses the whole call,
  // buffering nothing, if an entry breaks the log rules or exceeds kMaxRecordBytes.
  Status Save(const std::optional<raftpb::HardState>& hs,
              const std::vector<raftpb::Entry>& entries);

  // Records that a snapshot covering entries up to meta.index() is durable elsewhere: on
  // replay, entries at or below it are dropped. Buffered like Save. The snapshot itself must
  // already be durable (e.g. SnapshotFiles::Save returned) before this marker is synced.
  Status SaveSnapshotMarker(const raftpb::SnapshotMetadata& meta);

  // Writes the buffered records and fdatasync()s; nothing counts as persisted before this.
  // One write and one fdatasync, plus creating a segment (and fsyncing the directory) when
  // the current one is full. A no-op when nothing is buffered.
  Status Sync();

  // Deletes whole segments whose every entry is <= index (never the current segment), oldest
  // first, stopping at the first segment that must stay, so what remains is always a suffix
  // of the log. Also keeps a segment that holds the only copy of the latest hard state or
  // marker (possible only after a crash tore a new segment's head). index must not exceed the
  // last SYNCED snapshot marker: entries above it exist nowhere else. Refused after a failure.
  Status ReleaseTo(uint64_t index);

  // The index of the last entry, including buffered ones; if there is none after the snapshot
  // marker, the marker's index; 0 for an empty log.
  uint64_t last_index() const;

  // Segment files currently on disk, oldest first (for tests and diagnostics).
  std::vector<std::string> segment_paths() const;

 private:
  struct Segment {
    uint64_t seq = 0;
    std::string path;
    uint64_t size = 0;       // bytes of valid records
    uint64_t max_entry = 0;  // highest entry index recorded in it (0: none)
    bool has_hs = false;     // holds a hard state record
    bool has_snap = false;   // holds a snapshot marker record
  };
  // The log as the rules see it; shared by Save and replay so both judge alike.
  struct LogShape {
    bool anchored = false;  // an entry or marker was seen, so a gap is detectable
    uint64_t last = 0;      // last entry index, or the marker's if no entry follows it
    uint64_t snap = 0;      // index of the last snapshot marker (0: none)
  };
  struct Replay;

  static Status ApplyEntryRule(LogShape& s, uint64_t index);
  static Status ApplyMarkerRule(LogShape& s, uint64_t index);
  static Status ReplaySegment(Env& env, Segment& seg, bool is_last, Replay& r);

  explicit Wal(WalOptions o);
  Status StartSegment();

  WalOptions opts_;
  Env* env_;          // opts_.env or DefaultEnv()
  int dir_fd_ = -1;   // for fsyncing new and removed directory entries
  int lock_fd_ = -1;  // holds the flock for our lifetime
  int fd_ = -1;       // the current (last) segment, open for writing
  std::vector<Segment> segments_;
  Status failed_;  // sticky: set by the first write/sync failure

  LogShape shape_;  // the log as Save sees it, including buffered records

  // Latest hard state and marker that are on disk, written at the head of each new segment.
  std::optional<raftpb::HardState> synced_hs_;
  std::optional<raftpb::SnapshotMetadata> synced_snap_;

  // Records buffered since the last Sync, and what they carry.
  std::string pending_;
  uint64_t pending_max_entry_ = 0;
  std::optional<raftpb::HardState> pending_hs_;
  std::optional<raftpb::SnapshotMetadata> pending_snap_;
};

}  // namespace tug::store
