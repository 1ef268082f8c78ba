// A deterministic simulated cluster of Raft cores for tests: a seeded network that drops,
// duplicates, delays and reorders messages and partitions any subset of nodes, and nodes that
// crash and restart with only what they persisted. After every step a checker verifies Raft's
// safety properties; the first violation is recorded with the time and a description.
//
// Time runs in units; every node ticks once every `units_per_tick` units. Messages are
// delivered `min_delay..max_delay` units after they were sent (so they reorder when the
// range is wide). Everything random comes from one seeded generator: a seed replays exactly.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "raftstore/raft.h"

namespace tug::sim {

struct SimOptions {
  int nodes = 3;
  uint64_t seed = 1;
  int units_per_tick = 10;
  int min_delay = 1;  // units
  int max_delay = 3;
  double drop = 0.0;  // probability a message is lost
  double dup = 0.0;   // probability a message is delivered twice
  // Compact the log when this many applied entries follow the last snapshot (0: never).
  uint64_t snapshot_every = 0;
  uint64_t snapshot_retain = 0;  // entries kept in memory before a snapshot
  // Probability that a node crashes in the middle of handling a Ready: after persisting,
  // having sent only some of its messages.
  double crash_mid_ready = 0.0;
  raft::Config base;  // id, voters and seed are filled in per node
  // Optional initial persisted state per node id (for scenarios that need a given log).
  std::map<uint64_t, raft::PersistedState> initial;
  bool verbose = false;
};

// What one node has on its simulated disk.
struct Disk {
  raftpb::HardState hard_state;
  std::optional<raftpb::Snapshot> snapshot;
  std::vector<raftpb::Entry> entries;  // after the snapshot
};

struct SimNode {
  uint64_t id = 0;
  bool up = true;
  std::unique_ptr<raft::RaftCore> core;
  Disk disk;
  // The state machine: a hash chain over every applied entry (index, term, data).
  uint64_t applied = 0;
  uint64_t hash = 0;
  uint64_t last_snapshot = 0;
  std::vector<raft::ReadState> reads;     // read states delivered to this node
  std::vector<std::string> applied_data;  // data of applied normal entries (for tests)
};

struct Violation {
  int64_t time = 0;
  std::string what;
};

class SimCluster {
 public:
  explicit SimCluster(SimOptions o);

  // Advances time by `units`, delivering, ticking and handling every Ready.
  void Run(int64_t units);
  void RunTicks(int ticks) { Run(static_cast<int64_t>(ticks) * opt_.units_per_tick); }
  // Runs until `pred` holds or `max_ticks` have passed; returns whether it held.
  bool RunUntil(const std::function<bool()>& pred, int max_ticks);

  // Faults.
  void Crash(uint64_t id);
  void Restart(uint64_t id);
  // Only nodes in the same group talk; nodes in no listed group are isolated.
  void Partition(const std::vector<std::set<uint64_t>>& groups);
  void Heal();
  void SetLossy(double drop, double dup, int min_delay, int max_delay);
  void SetCrashMidReady(double p) { opt_.crash_mid_ready = p; }
  // Sees every message about to be delivered; may change it (as a lossy network could, e.g.
  // strip entries) and returns true to drop it. Null to clear.
  void SetFilter(std::function<bool(raftpb::Message&)> f) { filter_ = std::move(f); }

  // Client operations; results are the core's.
  Result<raft::Proposed> Propose(uint64_t id, std::string data);
  Status ReadIndex(uint64_t id, std::string context);
  Status TransferLeadership(uint64_t from, uint64_t to);

  // Observations.
  SimNode& node(uint64_t id) { return nodes_.at(id); }
  std::vector<uint64_t> ids() const;
  bool IsUp(uint64_t id) const { return nodes_.at(id).up; }
  bool Connected(uint64_t a, uint64_t b) const;
  // The leader of the highest term among live nodes, if exactly one node claims it.
  std::optional<uint64_t> Leader() const;
  // A leader that every live, connected node follows in the same term.
  std::optional<uint64_t> StableLeader() const;
  bool AllApplied(uint64_t index) const;
  uint64_t MaxCommitted() const { return max_committed_; }
  // Whether the entry at `index` of `term` is known committed.
  bool IsCommitted(uint64_t index, uint64_t term) const {
    auto it = committed_.find(index);
    return it != committed_.end() && it->second.term == term;
  }
  int64_t now() const { return now_; }
  int64_t ticks() const { return now_ / opt_.units_per_tick; }

  // Safety.
  const std::optional<Violation>& violation() const { return violation_; }
  // Runs the expensive whole-log checks (log matching) now.
  void CheckLogs();
  // Where the sim writes its trace when verbose.
  std::string Describe() const;

  // Read-linearizability bookkeeping: a read must observe every write committed before it
  // was issued.
  struct IssuedRead {
    uint64_t node = 0;
    uint64_t min_index = 0;
  };

 private:
  struct InFlight {
    int64_t at;
    uint64_t seq;
    raftpb::Message msg;
    bool operator>(const InFlight& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };

  void StartNode(uint64_t id);
  void HandleReadies(uint64_t id);
  bool HandleReady(SimNode& n);  // false if the node crashed midway
  void Persist(SimNode& n, const raft::Ready& rd);
  void Apply(SimNode& n, const raft::Ready& rd);
  void MaybeSnapshot(SimNode& n);
  void Enqueue(raftpb::Message m);
  void Deliver(raftpb::Message m);
  void CheckStep();
  void CheckCommitted(SimNode& n);
  void CheckLeaderCompleteness(SimNode& n);
  void Fail(std::string what);
  void Trace(const std::string& s) const;
  double Rand01() { return std::uniform_real_distribution<double>(0, 1)(rng_); }

  SimOptions opt_;
  std::mt19937_64 rng_;
  int64_t now_ = 0;
  uint64_t seq_ = 0;
  std::map<uint64_t, SimNode> nodes_;
  std::vector<InFlight> net_;      // a heap ordered by delivery time
  std::map<uint64_t, int> group_;  // node -> partition group; absent = connected to all
  bool partitioned_ = false;
  std::function<bool(raftpb::Message&)> filter_;

  // Checker state.
  std::map<uint64_t, uint64_t> leader_of_term_;
  struct Committed {
    uint64_t term = 0;          // the entry's term
    uint64_t committed_in = 0;  // the lowest term in which any node saw it committed
  };
  std::map<uint64_t, Committed> committed_;    // index -> the committed entry
  std::map<uint64_t, uint64_t> applied_hash_;  // index -> state hash after applying it
  struct FirstApplied {
    uint64_t node = 0, term = 0;
    std::string data;
  };
  std::map<uint64_t, FirstApplied> first_applied_;  // index -> who applied it first, for reports
  uint64_t max_committed_ = 0;
  std::map<uint64_t, uint64_t> checked_commit_;  // node -> commit index already checked
  std::map<std::string, IssuedRead> issued_reads_;
  std::optional<Violation> violation_;
};

}  // namespace tug::sim
