// What a leader knows about each voter's log, and the flow control that bounds what it has
// in flight to each (modeled on etcd's tracker package):
//
//   Probe:     we don't know where the follower's log ends; send one AppendEntries at a time
//              and wait for the answer (or a heartbeat response) before the next.
//   Replicate: the follower is keeping up; stream entries optimistically, at most
//              `max_inflight` messages unacknowledged.
//   Snapshot:  the follower needs entries we compacted; a snapshot is on its way and nothing
//              else is sent until it is acknowledged, reported failed or times out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <vector>

namespace tug::raft {

// A bounded window of the last indexes of unacknowledged AppendEntries messages.
class Inflights {
 public:
  explicit Inflights(size_t capacity = 256) : capacity_(capacity) {}
  bool Full() const { return q_.size() >= capacity_; }
  void Add(uint64_t last_index) { q_.push_back(last_index); }
  // Frees every message whose last index is <= index (the follower acknowledged it).
  void FreeLE(uint64_t index) {
    while (!q_.empty() && q_.front() <= index)
      q_.pop_front();
  }
  void FreeFirstOne() {
    if (!q_.empty()) q_.pop_front();
  }
  void Reset() { q_.clear(); }

 private:
  size_t capacity_;
  std::deque<uint64_t> q_;
};

enum class ProgressState { kProbe, kReplicate, kSnapshot };
const char* ToString(ProgressState s);

struct Progress {
  explicit Progress(size_t max_inflight = 256) : inflights(max_inflight) {}

  uint64_t match = 0;  // highest index known replicated (durably) on the follower
  uint64_t next = 1;   // next index to send
  ProgressState state = ProgressState::kProbe;
  bool probe_sent = false;        // Probe: one message is out, wait
  uint64_t pending_snapshot = 0;  // Snapshot: index of the snapshot being sent
  int snapshot_ticks = 0;         // Snapshot: ticks since it was sent
  int64_t last_active_tick = 0;   // leader's tick when we last heard from it (check-quorum)
  Inflights inflights;

  void BecomeProbe();
  void BecomeReplicate();
  void BecomeSnapshot(uint64_t snapshot_index);

  // The follower acknowledged `index`; returns whether match advanced.
  bool MaybeUpdate(uint64_t index);
  // The follower rejected the AppendEntries at `rejected`, hinting its log agrees with ours
  // up to `match_hint` at best. Returns false when the rejection is stale.
  bool MaybeDecrTo(uint64_t rejected, uint64_t match_hint);
  // Records an AppendEntries carrying entries up to `last` (or none).
  void SentEntries(uint64_t last, bool had_entries);
  bool IsPaused() const;
};

// The voters, their progress, and the votes of the current election.
class ProgressTracker {
 public:
  enum class VoteResult { kPending, kWon, kLost };

  ProgressTracker() = default;
  explicit ProgressTracker(size_t max_inflight) : max_inflight_(max_inflight) {}

  void SetVoters(const std::vector<uint64_t>& voters);
  const std::set<uint64_t>& voters() const { return voters_; }
  bool IsVoter(uint64_t id) const { return voters_.count(id) != 0; }
  size_t Quorum() const { return voters_.size() / 2 + 1; }

  Progress* Get(uint64_t id);
  std::map<uint64_t, Progress>& progress() { return progress_; }
  const std::map<uint64_t, Progress>& progress() const { return progress_; }
  // Forgets every follower's state: match 0, next = last_index+1, probing.
  void ResetProgress(uint64_t last_index);

  // The highest index replicated on a quorum of voters.
  uint64_t CommittedIndex() const;
  // Whether a quorum (counting `self`) was heard from within `window` ticks before `now`.
  bool QuorumActive(uint64_t self, int64_t now, int64_t window) const;

  void ResetVotes() { votes_.clear(); }
  void RecordVote(uint64_t id, bool granted);
  VoteResult TallyVotes() const;

 private:
  size_t max_inflight_ = 256;
  std::set<uint64_t> voters_;
  std::map<uint64_t, Progress> progress_;
  std::map<uint64_t, bool> votes_;
};

}  // namespace tug::raft
