// The Raft log as the consensus core sees it: a snapshot point (index and term of the last
// compacted entry) followed by the entries after it, all in memory, plus the three cursors
// that matter to the caller:
//
//   stable    <= last_index: entries up to here are durable on this node's disk;
//   committed <= last_index: entries up to here are known committed on a majority;
//   applied   <= committed : entries up to here were handed to the state machine.
//
// The log never holds an entry at or below the snapshot point. It performs no I/O: the
// caller learns what to persist from `unstable_entries()` and reports it with `stable_to`.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "raftstore/raft.pb.h"

namespace tug::raft {

class RaftLog {
 public:
  // An empty log (snapshot point 0/0).
  RaftLog() = default;

  // Rebuilds the log from what the caller recovered from disk: everything is stable, the
  // snapshot is the applied point. Entries must follow the snapshot point contiguously
  // (the caller checks this before; see RaftCore's constructor).
  void RestorePersisted(uint64_t snap_index, uint64_t snap_term, std::vector<raftpb::Entry> entries,
                        uint64_t commit);

  uint64_t snapshot_index() const { return offset_; }
  uint64_t snapshot_term() const { return offset_term_; }
  uint64_t first_index() const { return offset_ + 1; }
  uint64_t last_index() const { return offset_ + entries_.size(); }
  uint64_t last_term() const;
  uint64_t committed() const { return committed_; }
  uint64_t applied() const { return applied_; }
  uint64_t stable() const { return stable_; }

  // The term of entry i; nullopt when i is compacted away or beyond the end. term(snapshot
  // index) is known.
  std::optional<uint64_t> Term(uint64_t i) const;
  bool MatchTerm(uint64_t i, uint64_t term) const;

  // Raft's election restriction (§5.4.1): is a log ending at (last_index, last_term) at
  // least as up to date as this one?
  bool IsUpToDate(uint64_t last_index, uint64_t last_term) const;

  // The follower's side of AppendEntries. If the entry at `index` has `log_term`, appends
  // `ents` (truncating a conflicting suffix only: never an entry that matches), advances
  // commit to min(commit, index of the last new entry) and returns that last new index.
  // Otherwise returns nullopt and changes nothing.
  std::optional<uint64_t> MaybeAppend(uint64_t index, uint64_t log_term, uint64_t commit,
                                      const std::vector<raftpb::Entry>& ents);

  // Appends entries whose first index is at most last_index()+1, truncating what follows.
  // Never truncates committed entries (the caller guarantees it; checked).
  uint64_t Append(const std::vector<raftpb::Entry>& ents);

  // The largest index <= `index` whose term is <= `term` (the snapshot index at the
  // lowest). Drives fast backtracking: a follower suggests it, the leader refines it.
  uint64_t FindConflictByTerm(uint64_t index, uint64_t term) const;

  // Entries [lo, hi) but at most `max_bytes` of data (always at least one entry when the
  // range is not empty). lo must be above the snapshot point.
  std::vector<raftpb::Entry> Slice(uint64_t lo, uint64_t hi, uint64_t max_bytes) const;

  // Figure 8: commit `index` only if its entry is of `term` (the leader's current term).
  bool MaybeCommit(uint64_t index, uint64_t term);
  // Advances commit; never moves it back, never past last_index().
  void CommitTo(uint64_t index);

  // Entries not yet durable, in order; the first one's index is where the caller's durable
  // log must be truncated before they are written.
  std::vector<raftpb::Entry> UnstableEntries() const;
  // Entry `index` (and all before it) of term `term` is durable. Ignored if the log has
  // since replaced that entry.
  void StableTo(uint64_t index, uint64_t term);

  // Committed entries not yet handed out for applying, at most `max_bytes` (at least one).
  std::vector<raftpb::Entry> NextCommitted(uint64_t max_bytes) const;
  bool HasNextCommitted() const { return committed_ > applying_; }
  void ApplyingTo(uint64_t index);
  void AppliedTo(uint64_t index);

  // Replaces the whole log with a snapshot at (index, term): everything is then committed
  // and applied up to index once the caller has installed it.
  void RestoreSnapshot(uint64_t index, uint64_t term);
  // Drops entries up to `index` (<= applied), which a snapshot now covers.
  void Compact(uint64_t index);

 private:
  const raftpb::Entry& At(uint64_t i) const { return entries_[i - offset_ - 1]; }

  uint64_t offset_ = 0;
  uint64_t offset_term_ = 0;
  std::deque<raftpb::Entry> entries_;
  uint64_t committed_ = 0;
  uint64_t applying_ = 0;  // highest index handed to the caller to apply
  uint64_t applied_ = 0;
  uint64_t stable_ = 0;
};

}  // namespace tug::raft
