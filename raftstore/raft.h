// The Raft consensus core: a deterministic state machine with no sockets, threads, clocks or
// files, in the spirit of etcd's raft package. The caller owns time, disk and network:
//
//   core.Tick();                 // on a steady timer (one tick = one heartbeat interval)
//   core.Step(message);          // for every message a peer sent us
//   core.Propose(data);          // for a client write
//   core.ReadIndex(context);     // for a linearizable read
//   while (core.HasReady()) {
//     Ready rd = core.GetReady();
//     persist rd.hard_state, rd.entries (truncating the durable log at rd.entries[0].index),
//        and rd.snapshot; fsync;                                  <- the persistence contract
//     send rd.messages;
//     install rd.snapshot (if any), then apply rd.committed_entries in order;
//     serve rd.read_states once applied >= their index;
//     core.Advance(rd);
//   }
//
// THE PERSISTENCE CONTRACT. Everything in a Ready's `hard_state`, `entries` and `snapshot`
// must be durable (fsync'd) before any of that Ready's `messages` is sent, and before its
// `committed_entries` are applied. A vote response promises the vote is on disk; an
// AppendEntries response promises the entries are; the leader counts its own log toward a
// quorum only for entries reported durable through Advance(). Breaking this can elect two
// leaders in one term or lose acknowledged writes after a crash.
//
// One exception (Raft thesis §10.2.1): while leader, in a Ready that changes neither term
// nor vote, the caller may send the messages before the entries are durable, so followers
// write in parallel with the leader. It is safe because the leader counts its own log toward
// a quorum only for entries reported durable through Advance().
//
// Between GetReady() and Advance() the caller may keep calling Tick/Step/Propose (their
// output waits for the next Ready); it must call Advance() before the next GetReady().
//
// Beyond the Raft paper's Figure 2 the core implements: randomized election timeouts; fast
// log backtracking (the follower answers a rejection with a hint: the last index at which
// its log could agree and the term there, so the leader skips a conflicting term per round
// trip); the Figure 8 commitment rule with a no-op entry at the start of each term; pre-vote
// and check-quorum; ReadIndex reads; snapshots and log compaction; leadership transfer; and
// single-server membership changes (ENTRY_CONF_CHANGE entries, applied by the caller
// through ApplyConfChange, one at a time).
//
// Bad input from a peer (a message for another node, from a stranger, with a gap in its
// entries) is refused with an error Status and changes nothing; it never aborts.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "base/status.h"
#include "raftstore/progress.h"
#include "raftstore/raft.pb.h"
#include "raftstore/raft_log.h"
#include "raftstore/read_index.h"

namespace tug::raft {

inline constexpr uint64_t kNone = 0;  // no node (node ids start at 1)

struct Config {
  uint64_t id = kNone;
  // The voters when starting with no persisted state (a snapshot's ConfState wins otherwise).
  std::vector<uint64_t> voters;
  // A follower that hears from no leader for a random number of ticks in
  // [election_ticks, 2*election_ticks) starts an election; a leader that has not heard from
  // a quorum for election_ticks steps down (check_quorum).
  int election_ticks = 10;
  int heartbeat_ticks = 1;
  bool pre_vote = true;
  bool check_quorum = true;
  size_t max_inflight_msgs = 256;           // per follower, in Replicate state
  uint64_t max_msg_bytes = 1 << 20;         // entry data per AppendEntries
  uint64_t max_committed_bytes = 16 << 20;  // entry data per Ready.committed_entries
  uint64_t seed = 0;                        // seeds the election timeout randomness

  Status Validate() const;
};

// What the caller recovered from its disk at start-up.
struct PersistedState {
  raftpb::HardState hard_state;
  std::optional<raftpb::Snapshot> snapshot;  // the latest one, if any
  std::vector<raftpb::Entry> entries;        // every durable entry after the snapshot
};

enum class Role { kFollower, kPreCandidate, kCandidate, kLeader };
const char* ToString(Role r);

// Volatile state the caller may want to observe (not persisted).
struct SoftState {
  uint64_t leader = kNone;
  Role role = Role::kFollower;
  bool operator==(const SoftState&) const = default;
};

// A linearizable read may be served once the state machine has applied `index`.
struct ReadState {
  uint64_t index = 0;
  std::string context;
};

struct Ready {
  std::optional<SoftState> soft_state;           // set when leader or role changed
  std::optional<raftpb::HardState> hard_state;   // set when term, vote or commit changed
  std::vector<raftpb::Entry> entries;            // to append durably (see the contract)
  std::optional<raftpb::Snapshot> snapshot;      // to persist and install, then apply on top
  std::vector<raftpb::Entry> committed_entries;  // to apply, in order
  std::vector<raftpb::Message> messages;         // to send once the above is durable
  std::vector<ReadState> read_states;

  // Whether this Ready needs an fsync (entries, a vote or term change, a snapshot).
  bool must_sync = false;
};

// Returned for a proposal the leader accepted into its log (index and term let the caller
// match it with what it later applies), or forwarded to the leader (index 0).
struct Proposed {
  uint64_t index = 0;
  uint64_t term = 0;
};

// A snapshot of the core's state for status pages and tests.
struct CoreStatus {
  uint64_t id = kNone;
  uint64_t term = 0;
  uint64_t vote = kNone;
  uint64_t leader = kNone;
  Role role = Role::kFollower;
  uint64_t commit = 0;
  uint64_t applied = 0;
  uint64_t first_index = 0;
  uint64_t last_index = 0;
  uint64_t lead_transferee = kNone;
};

class RaftCore {
 public:
  // Fails with a readable reason on a bad config or inconsistent persisted state.
  static Result<std::unique_ptr<RaftCore>> Create(const Config& config, PersistedState persisted);

  void Tick();
  // Feeds a message from a peer. Errors describe a malformed or misaddressed message.
  Status Step(const raftpb::Message& m);

  // Appends `data` as a new entry on the leader, or forwards it to the leader from a
  // follower. Fails when there is no known leader or a leadership transfer is underway.
  // Acceptance is no promise: the entry is committed only when it comes out of
  // committed_entries (match it by index and term, or by an id inside `data`).
  Result<Proposed> Propose(std::string data);
  // Proposes a single-server membership change. The leader refuses a second one while the
  // first is not yet applied.
  Result<Proposed> ProposeConfChange(const raftpb::ConfChange& cc);
  // The caller applies a committed ENTRY_CONF_CHANGE entry through this, and gets back the
  // new voter set (to store with its snapshots).
  raftpb::ConfState ApplyConfChange(const raftpb::ConfChange& cc);

  // Requests a linearizable read. A ReadState with the same context appears in a later
  // Ready unless leadership changes first (then the caller retries). Contexts must be unique
  // across the cluster while pending (e.g. node id + counter).
  Status ReadIndex(std::string context);

  // On the leader: hands leadership to `target` (brought up to date first). Proposals are
  // refused meanwhile; the transfer is abandoned after an election timeout.
  Status TransferLeadership(uint64_t target);

  // Transport feedback: a peer could not be reached / a snapshot send finished.
  void ReportUnreachable(uint64_t id);
  // The transport saw the leader's connection close (its process died: the kernel closed
  // its sockets). A follower then forgets the leader and brings its election timer forward
  // so that it campaigns within [0, election_ticks) instead of [election_ticks,
  // 2*election_ticks) ticks, and grants votes at once. Only timing changes, never safety:
  // if the leader is in fact alive, the others are still in its lease and refuse the
  // pre-vote.
  void ReportLeaderLost();
  void ReportSnapshot(uint64_t id, bool success);

  // The caller wrote a snapshot of its state machine covering entries up to `index` (which
  // it has applied): the core sends this snapshot to followers that need entries it no
  // longer holds, and drops the entries up to index - retain (keeping `retain` entries
  // before the snapshot for followers that are only slightly behind).
  Status Compact(uint64_t index, std::string data, uint64_t retain = 0);

  bool HasReady() const;
  Ready GetReady();
  void Advance(const Ready& rd);

  CoreStatus status() const;
  uint64_t id() const { return id_; }
  uint64_t term() const { return term_; }
  uint64_t leader() const { return lead_; }
  Role role() const { return role_; }
  bool is_leader() const { return role_ == Role::kLeader; }
  const RaftLog& log() const { return log_; }
  const ProgressTracker& tracker() const { return tracker_; }
  raftpb::ConfState conf_state() const;
  // The newest snapshot the core knows (made by Compact, received, or restored), if any.
  const std::optional<raftpb::Snapshot>& latest_snapshot() const { return snapshot_; }

 private:
  enum class CampaignType { kPreElection, kElection, kTransfer };

  explicit RaftCore(const Config& c);

  // Role transitions.
  void BecomeFollower(uint64_t term, uint64_t lead);
  void BecomePreCandidate();
  void BecomeCandidate();
  void BecomeLeader();
  void Reset(uint64_t term);
  void Campaign(CampaignType t);
  bool Promotable() const { return tracker_.IsVoter(id_); }
  bool PastElectionTimeout() const { return election_elapsed_ >= randomized_election_timeout_; }
  void ResetRandomizedElectionTimeout();

  // Per-role message handling.
  Status StepLeader(const raftpb::Message& m);
  Status StepCandidate(const raftpb::Message& m);
  Status StepFollower(const raftpb::Message& m);
  void HandleAppendEntries(const raftpb::Message& m);
  void HandleHeartbeat(const raftpb::Message& m);
  void HandleSnapshot(const raftpb::Message& m);
  void HandleAppendResponse(const raftpb::Message& m, Progress& pr);
  void HandleHeartbeatResponse(const raftpb::Message& m, Progress& pr);
  void HandleVoteRequest(const raftpb::Message& m);
  Status ValidateMessage(const raftpb::Message& m) const;

  // Leader replication.
  void AppendEntries(std::vector<raftpb::Entry> ents);
  bool MaybeSendAppend(uint64_t to, bool send_if_empty);
  void SendSnapshot(uint64_t to, Progress& pr);
  void BroadcastAppend();
  void BroadcastHeartbeat();
  void SendHeartbeat(uint64_t to, const std::string& context);
  bool MaybeCommit();
  bool CommittedEntryInCurrentTerm() const;
  void ReleasePendingReads();
  void AnswerRead(const PendingRead& r);
  void HandleReadIndexRequest(uint64_t from, std::string context);
  void AbortLeaderTransfer() { lead_transferee_ = kNone; }
  void SendTimeoutNow(uint64_t to);

  void Send(raftpb::Message m);
  raftpb::HardState hard_state() const;

  uint64_t id_;
  Config cfg_;
  std::mt19937_64 rng_;

  uint64_t term_ = 0;
  uint64_t vote_ = kNone;
  uint64_t lead_ = kNone;
  Role role_ = Role::kFollower;
  RaftLog log_;
  ProgressTracker tracker_;

  int election_elapsed_ = 0;   // ticks since last election reset (or leader contact)
  int heartbeat_elapsed_ = 0;  // leader: ticks since last heartbeat
  int randomized_election_timeout_ = 0;
  int64_t ticks_ = 0;  // monotonic tick counter (check-quorum activity)

  uint64_t lead_transferee_ = kNone;
  uint64_t pending_conf_index_ = 0;  // leader: index of the last unapplied conf change

  ReadIndexQueue reads_;
  // Reads that arrived before this leader committed an entry of its term: its commit index
  // is not yet known to be current (thesis §6.4 step 1), so they wait.
  std::vector<std::pair<uint64_t, std::string>> reads_waiting_for_commit_;
  // Proposals forwarded to us while we hand leadership over: passed on to the new leader
  // once known (or appended if we stay leader), instead of being dropped, so a follower's
  // client does not wait for its timeout during a planned leadership change.
  std::vector<raftpb::Entry> held_proposals_;
  void FlushHeldProposals();

  std::optional<raftpb::Snapshot> snapshot_;  // latest snapshot, sent to lagging followers
  bool pending_snapshot_install_ = false;     // snapshot_ received, not yet in a Ready

  std::vector<raftpb::Message> msgs_;
  std::vector<ReadState> read_states_;
  SoftState prev_soft_;
  raftpb::HardState prev_hard_;
};

}  // namespace tug::raft
