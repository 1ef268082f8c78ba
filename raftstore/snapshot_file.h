// Snapshot files of a Raft node: the state machine image that lets the write-ahead log drop
// the entries it covers.
//
// ON DISK. One file per snapshot, named "%016llx-%016llx.snap" by (term, index) of its last
// entry, holding a 4-byte little-endian CRC32C of the rest and then a serialized
// raftpb::Snapshot. Newest means the greatest (term, index).
//
// With the WAL, the order is: SnapshotFiles::Save, then Wal::SaveSnapshotMarker + Sync, then
// Wal::ReleaseTo. At start-up the caller must check that the snapshot LoadNewest returns
// reaches the WAL's marker: if the newest file was damaged and an older one was loaded, the
// entries in between are gone from the WAL too (replay drops entries at or below the
// marker), and the node must be restored from a peer.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "raftstore/raft.pb.h"

namespace tug::store {

class SnapshotFiles {
 public:
  // `env`: the file system (nullptr: DefaultEnv()); must outlive this.
  explicit SnapshotFiles(std::string dir, Env* env = nullptr);

  // Makes s durable: writes a temporary file in the directory (created if absent), fsyncs
  // it, renames it into place and fsyncs the directory, so a crash leaves either the whole
  // new file or none. Then deletes all but the two newest snapshot files (the older one is a
  // fallback should the newest be damaged later) and stray temporary files. An error that
  // mentions only the clean-up means the new snapshot itself is durable.
  Status Save(const raftpb::Snapshot& s);

  // The newest snapshot whose CRC, contents and name agree; nullopt if there is none (or no
  // directory). A damaged newer file is skipped with a warning naming it, appended to
  // *warnings (may be null), and renamed to "<name>.broken" so it stays for inspection but is
  // not read again. Fails on I/O errors (e.g. a file it may not read) rather than quietly
  // falling back to an older snapshot.
  Result<std::optional<raftpb::Snapshot>> LoadNewest(std::vector<std::string>* warnings);

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  Env* env_;
};

}  // namespace tug::store
