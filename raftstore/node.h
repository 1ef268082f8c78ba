// A control-plane member's replicated store: the Raft core driven by a steady timer, the
// write-ahead log and snapshot files on disk, the peer transport, and the key-value state
// machine, with the client-facing operations the API server needs.
//
// Threads: everything runs on one io_context thread except disk writes, which run in order
// on a dedicated thread; while one batch is being fsync'd the node keeps accepting
// proposals, and the next Ready carries all of them: many concurrent writes share one fsync
// (group commit). Messages of a Ready leave only after its fsync (the core's contract).
//
// Guarantees to clients:
// - Propose() answers only after the write was applied locally, which implies it is
//   committed on a majority and durable there. Any member accepts writes; a follower's
//   proposal is forwarded to the leader by the core, and the member answers when it applies
//   the entry itself.
// - WaitLinearizable() answers once this member's state includes every write acknowledged
//   before the call (ReadIndex): a read served after it is linearizable.
// - Without a leader or quorum, every operation fails with Status::Unavailable within the
//   request timeout; nothing hangs.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "raftstore/kv_store.h"
#include "raftstore/raft.h"
#include "raftstore/store.h"
#include "raftstore/store.pb.h"

namespace boost::asio {
class io_context;
}

namespace tug::store {

class PeerTransport;
class Wal;
class SnapshotFiles;

struct Member {
  uint64_t id = 0;
  std::string name;
  std::string peer_addr;
  std::string api_addr;  // learned from the member itself (empty until it said hello)
};

struct NodeOptions {
  std::string name;
  std::string data_dir;
  std::string peer_addr;
  std::string api_addr;
  std::vector<Member> initial_cluster;  // every member, this one included; ids assigned by Parse
  int heartbeat_ms = 100;
  int election_ms = 1000;
  uint64_t snapshot_entries = 10000;  // snapshot when this many entries were applied since the last
  uint64_t snapshot_retain = 1000;    // entries kept before a snapshot for slow followers
  int request_timeout_ms = 5000;      // bound on every client operation
  size_t history_limit = 100000;      // watch/read history, in events
};

// Parses "cp1=127.0.0.1:7201,cp2=...", sorted by name. Member ids are MemberIdFor(name,
// peer address) (raftstore/members.h): every member derives the same ids whatever order the
// flag lists them in, and an id never changes while the member lives. The flag only seeds a
// brand-new cluster: once a data dir holds the cluster's member records, those win.
Result<std::vector<Member>> ParseInitialCluster(const std::string& flag);

struct NodeStatus {
  uint64_t id = 0;
  uint64_t cluster_id = 0;
  std::string name;
  uint64_t term = 0;
  uint64_t leader = 0;
  std::string leader_name;
  std::string role;
  uint64_t commit = 0;
  uint64_t applied = 0;
  uint64_t snapshot_index = 0;
  int64_t revision = 0;
  std::vector<Member> members;
  // Counters since this process started, for /metrics.
  uint64_t leader_changes = 0;    // times this member saw the leader change
  uint64_t proposals = 0;         // writes submitted to this member
  uint64_t proposals_failed = 0;  // of those, answered with an error (no quorum, timeout)
};

class RaftNode : public Store {
 public:
  // Opens the data dir (taking its lock), replays the WAL on top of the newest snapshot and
  // rebuilds the state machine. Errors name the file and say what to do.
  static Result<std::unique_ptr<RaftNode>> Open(boost::asio::io_context& io, NodeOptions o);
  ~RaftNode();

  // Listens for peers and starts the clock.
  Status Start();

  // A write (put, delete range, or transaction). `done` runs on the io thread.
  void Propose(storepb::Request r, std::function<void(Result<storepb::Response>)> done) override;
  // Calls `done` once a read served from this member's state now is linearizable.
  void WaitLinearizable(std::function<void(Status)> done) override;
  // A read: linearizable unless r.serializable().
  void Range(storepb::RangeRequest r,
             std::function<void(Result<storepb::RangeResponse>)> done) override;

  // A planned stop: if leader, hand leadership to the most up-to-date follower first; let
  // pending requests finish (bounded), flush, stop. `done` runs on the io thread.
  void Shutdown(std::function<void()> done);

  // Soft state for the leader (not replicated, not persisted): delivered to the leader's
  // soft handler, locally if this member leads. False without a known leader. Best effort.
  bool SendToLeader(std::string data);
  void set_soft_handler(std::function<void(std::string)> f) { soft_handler_ = std::move(f); }
  // This member leads and has applied every entry committed before its term (controllers
  // may act on its state).
  bool LeaderCaughtUp() const override;

  NodeStatus status() const;
  // Called on the disk thread with each fsync's duration in seconds (set before Start).
  void set_fsync_observer(std::function<void(double)> f) { fsync_observer_ = std::move(f); }
  const KvStore& kv() const override { return kv_; }
  KvStore& kv() override { return kv_; }
  storepb::ResponseHeader Header() const;
  uint64_t id() const { return id_; }
  bool is_leader() const override { return core_->is_leader(); }
  uint64_t leader() const { return core_->leader(); }
  uint64_t term() const override { return core_->term(); }

 private:
  RaftNode(boost::asio::io_context& io, NodeOptions o);

  struct Waiter {
    std::function<void(Result<storepb::Response>)> done;
    int64_t deadline_ms;
    std::string data;         // the proposal, kept to propose again after a leader change
    int64_t proposed_ms = 0;  // when it was last handed to the core
  };
  struct PendingProposal {
    uint64_t id;
    std::string data;
    Waiter waiter;
  };
  struct ReadWaiter {
    std::function<void(Status)> done;
    int64_t deadline_ms;
  };
  struct ReadBatch {
    std::string context;
    std::optional<uint64_t> index;  // set when the leader confirmed it
    int64_t sent_ms = 0;
    std::vector<ReadWaiter> waiters;
  };

  void Tick();
  void Schedule();
  void ProcessReady();
  void FinishReady(std::shared_ptr<raft::Ready> rd);
  void Apply(const raftpb::Entry& e);
  void MaybeSnapshot();
  void TryPropose();
  // Moves every unanswered proposal back to the queue, to be proposed again (safe: the state
  // machine applies a request id once).
  void Repropose(const char* why);
  void TryIssueRead();
  void ServeReads();
  void ExpireRequests();
  void Step(raftpb::Message m);
  void FailAll(const Status& s);
  int64_t NowMs() const;
  std::string NameOf(uint64_t id) const;
  void FinishShutdown();
  // Brings members_ and the transport's peers in line with the member records in kv_ (after
  // a configuration entry or a snapshot was applied).
  void SyncMembers();
  std::map<uint64_t, std::string> PeerAddrs() const;

  boost::asio::io_context& io_;
  NodeOptions opt_;
  uint64_t id_ = 0;
  uint64_t cluster_id_ = 0;  // 0 for a data dir from before member records
  std::map<uint64_t, Member> members_;
  int lock_fd_ = -1;

  std::unique_ptr<raft::RaftCore> core_;
  std::unique_ptr<Wal> wal_;
  std::unique_ptr<SnapshotFiles> snaps_;
  std::unique_ptr<PeerTransport> transport_;
  KvStore kv_;

  struct Timers;
  std::unique_ptr<Timers> timers_;

  bool scheduled_ = false;
  bool persisting_ = false;
  bool stopped_ = false;
  uint64_t last_snapshot_index_ = 0;
  uint64_t applied_index_ = 0;  // the last entry applied to kv_ (or the snapshot's index)
  uint64_t next_request_id_ = 0;
  uint64_t read_seq_ = 0;
  uint64_t known_leader_ = 0;
  uint64_t persisted_term_ = 0;  // term and vote in the last Ready handed to the disk
  uint64_t persisted_vote_ = 0;

  std::deque<PendingProposal> pending_;  // waiting for a leader to take them
  std::map<uint64_t, Waiter> waiters_;   // proposed, waiting to be applied
  std::vector<ReadWaiter> reads_waiting_;
  std::deque<ReadBatch> read_batches_;

  uint64_t leader_changes_ = 0;
  uint64_t proposals_ = 0;
  uint64_t proposals_failed_ = 0;
  std::function<void(double)> fsync_observer_;
  std::function<void(std::string)> soft_handler_;

  bool shutting_down_ = false;
  int64_t shutdown_deadline_ms_ = 0;
  std::function<void()> shutdown_done_;
};

}  // namespace tug::store
