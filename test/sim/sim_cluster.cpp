#include "test/sim/sim_cluster.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace tug::sim {

using raftpb::Entry;
using raftpb::Message;

namespace {

uint64_t Mix(uint64_t x) {  // splitmix64 finalizer
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

uint64_t HashEntry(uint64_t prev, const Entry& e) {
  uint64_t h = Mix(prev ^ Mix(e.index()) ^ Mix(e.term() << 1));
  for (char c : e.data())
    h = Mix(h ^ static_cast<unsigned char>(c));
  return h;
}

std::string EncodeState(uint64_t applied, uint64_t hash) {
  return std::to_string(applied) + ":" + std::to_string(hash);
}

bool DecodeState(const std::string& s, uint64_t& applied, uint64_t& hash) {
  auto colon = s.find(':');
  if (colon == std::string::npos) return false;
  applied = std::stoull(s.substr(0, colon));
  hash = std::stoull(s.substr(colon + 1));
  return true;
}

const char* TypeName(raftpb::MessageType t) {
  return raftpb::MessageType_Name(t).c_str();
}

}  // namespace

SimCluster::SimCluster(SimOptions o) : opt_(std::move(o)), rng_(opt_.seed) {
  for (int i = 1; i <= opt_.nodes; ++i) {
    SimNode n;
    n.id = static_cast<uint64_t>(i);
    if (auto it = opt_.initial.find(n.id); it != opt_.initial.end()) {
      n.disk.hard_state = it->second.hard_state;
      n.disk.snapshot = it->second.snapshot;
      n.disk.entries = it->second.entries;
    }
    nodes_.emplace(n.id, std::move(n));
  }
  for (auto& [id, n] : nodes_)
    StartNode(id);
}

std::vector<uint64_t> SimCluster::ids() const {
  std::vector<uint64_t> out;
  for (const auto& [id, n] : nodes_)
    out.push_back(id);
  return out;
}

void SimCluster::StartNode(uint64_t id) {
  SimNode& n = nodes_.at(id);
  raft::Config c = opt_.base;
  c.id = id;
  c.voters = ids();
  // A new seed each start: a restarted node draws new election timeouts, as a real one would.
  c.seed = Mix(opt_.seed ^ Mix(id) ^ static_cast<uint64_t>(now_));
  raft::PersistedState p;
  p.hard_state = n.disk.hard_state;
  p.snapshot = n.disk.snapshot;
  p.entries = n.disk.entries;
  auto core = raft::RaftCore::Create(c, std::move(p));
  if (!core) {
    Fail("node " + std::to_string(id) + " failed to start: " + core.status().message());
    n.up = false;
    return;
  }
  n.core = std::move(core).value();
  n.up = true;
  // The state machine restarts from the snapshot; the core hands out committed entries after it.
  n.applied = 0;
  n.hash = 0;
  n.last_snapshot = 0;
  n.applied_data.clear();
  if (n.disk.snapshot) {
    DecodeState(n.disk.snapshot->data(), n.applied, n.hash);
    n.last_snapshot = n.applied;
  }
  checked_commit_[id] = n.core->log().snapshot_index();
  Trace("start node " + std::to_string(id) + " term " + std::to_string(n.core->term()));
  HandleReadies(id);
}

void SimCluster::Crash(uint64_t id) {
  SimNode& n = nodes_.at(id);
  if (!n.up) return;
  Trace("crash node " + std::to_string(id));
  n.up = false;
  n.core.reset();
}

void SimCluster::Restart(uint64_t id) {
  if (nodes_.at(id).up) return;
  StartNode(id);
}

void SimCluster::Partition(const std::vector<std::set<uint64_t>>& groups) {
  group_.clear();
  int g = 0;
  for (const auto& s : groups) {
    for (uint64_t id : s)
      group_[id] = g;
    ++g;
  }
  partitioned_ = true;
  Trace("partition");
}

void SimCluster::Heal() {
  group_.clear();
  partitioned_ = false;
  Trace("heal");
}

void SimCluster::SetLossy(double drop, double dup, int min_delay, int max_delay) {
  opt_.drop = drop;
  opt_.dup = dup;
  opt_.min_delay = min_delay;
  opt_.max_delay = std::max(min_delay, max_delay);
}

bool SimCluster::Connected(uint64_t a, uint64_t b) const {
  if (!partitioned_) return true;
  auto ia = group_.find(a), ib = group_.find(b);
  return ia != group_.end() && ib != group_.end() && ia->second == ib->second;
}

void SimCluster::Enqueue(Message m) {
  if (Rand01() < opt_.drop) return;
  int copies = Rand01() < opt_.dup ? 2 : 1;
  for (int i = 0; i < copies; ++i) {
    int64_t delay = std::uniform_int_distribution<int64_t>(opt_.min_delay, opt_.max_delay)(rng_);
    net_.push_back(InFlight{now_ + delay, seq_++, m});
    std::push_heap(net_.begin(), net_.end(), std::greater<>());
  }
}

void SimCluster::Deliver(Message m) {
  SimNode& n = nodes_.at(m.to());
  if (!n.up || !Connected(m.from(), m.to())) return;
  if (filter_ && filter_(m)) return;
  if (opt_.verbose) {
    Trace("deliver " + std::string(TypeName(m.type())) + " " + std::to_string(m.from()) + "->" +
          std::to_string(m.to()) + " term " + std::to_string(m.term()) + " index " +
          std::to_string(m.index()) + " logterm " + std::to_string(m.log_term()) +
          " n=" + std::to_string(m.entries_size()) + " commit " + std::to_string(m.commit()) +
          (m.reject() ? " reject hint " + std::to_string(m.reject_hint()) : ""));
  }
  Status s = n.core->Step(m);
  // A forwarded proposal may legitimately be refused (no leader, transfer in progress);
  // anything else the simulated network carries is well formed and must be accepted.
  if (!s && m.type() != raftpb::MSG_PROP) Fail("Step refused a message: " + s.message());
  HandleReadies(m.to());
}

void SimCluster::Run(int64_t units) {
  for (int64_t u = 0; u < units && !violation_; ++u) {
    ++now_;
    while (!net_.empty() && net_.front().at <= now_) {
      std::pop_heap(net_.begin(), net_.end(), std::greater<>());
      InFlight f = std::move(net_.back());
      net_.pop_back();
      Deliver(f.msg);
    }
    if (now_ % opt_.units_per_tick == 0) {
      for (auto& [id, n] : nodes_) {
        if (!n.up) continue;
        n.core->Tick();
        HandleReadies(id);
      }
    }
    CheckStep();
    if (now_ % (50 * opt_.units_per_tick) == 0) CheckLogs();
  }
}

bool SimCluster::RunUntil(const std::function<bool()>& pred, int max_ticks) {
  for (int64_t u = 0; u < static_cast<int64_t>(max_ticks) * opt_.units_per_tick; ++u) {
    if (pred()) return true;
    if (violation_) return false;
    Run(1);
  }
  return pred();
}

void SimCluster::HandleReadies(uint64_t id) {
  SimNode& n = nodes_.at(id);
  while (n.up && n.core->HasReady()) {
    if (!HandleReady(n)) return;
  }
}

bool SimCluster::HandleReady(SimNode& n) {
  raft::Ready rd = n.core->GetReady();
  if (rd.soft_state && rd.soft_state->role == raft::Role::kLeader) {
    Trace("node " + std::to_string(n.id) + " becomes leader of term " +
          std::to_string(n.core->term()));
    CheckLeaderCompleteness(n);
  }
  // The persistence contract: messages leave only after the Ready is durable, except that a
  // leader may send first when neither term nor vote changes (thesis §10.2.1). A crash may
  // strike between the two, in either order.
  bool crash = opt_.crash_mid_ready > 0 && Rand01() < opt_.crash_mid_ready;
  bool term_or_vote_changed = rd.hard_state && (rd.hard_state->term() != n.disk.hard_state.term() ||
                                                rd.hard_state->vote() != n.disk.hard_state.vote());
  bool send_first = n.core->is_leader() && !term_or_vote_changed && !rd.snapshot && Rand01() < 0.5;
  size_t send = rd.messages.size();
  if (crash) send = std::uniform_int_distribution<size_t>(0, rd.messages.size())(rng_);
  if (send_first) {
    for (size_t i = 0; i < send; ++i)
      Enqueue(rd.messages[i]);
    if (crash) {
      Crash(n.id);  // sent, never persisted
      return false;
    }
    Persist(n, rd);
  } else {
    Persist(n, rd);
    for (size_t i = 0; i < send; ++i)
      Enqueue(rd.messages[i]);
    if (crash) {
      Crash(n.id);
      return false;
    }
  }
  Apply(n, rd);
  for (const auto& r : rd.read_states) {
    auto it = issued_reads_.find(r.context);
    if (it != issued_reads_.end()) {
      if (it->second.node != n.id) {
        Fail("read " + r.context + " answered on node " + std::to_string(n.id) +
             " but issued on node " + std::to_string(it->second.node));
      } else if (r.index < it->second.min_index) {
        Fail("read " + r.context + " got read index " + std::to_string(r.index) + " but index " +
             std::to_string(it->second.min_index) +
             " was committed before it was issued: a stale read");
      }
      issued_reads_.erase(it);
    }
    n.reads.push_back(r);
  }
  n.core->Advance(rd);
  // Record what is committed before compaction drops the entries from the log.
  CheckCommitted(n);
  MaybeSnapshot(n);
  return true;
}

void SimCluster::Persist(SimNode& n, const raft::Ready& rd) {
  if (rd.hard_state) n.disk.hard_state = *rd.hard_state;
  if (rd.snapshot) {
    // Installing a snapshot replaces the durable log.
    n.disk.snapshot = *rd.snapshot;
    n.disk.entries.clear();
  }
  if (!rd.entries.empty()) {
    uint64_t first = rd.entries.front().index();
    auto& w = n.disk.entries;
    w.erase(std::remove_if(w.begin(), w.end(), [&](const Entry& e) { return e.index() >= first; }),
            w.end());
    w.insert(w.end(), rd.entries.begin(), rd.entries.end());
  }
}

void SimCluster::Apply(SimNode& n, const raft::Ready& rd) {
  if (rd.snapshot) {
    uint64_t idx = 0, h = 0;
    if (!DecodeState(rd.snapshot->data(), idx, h) || idx != rd.snapshot->metadata().index()) {
      Fail("node " + std::to_string(n.id) + " received a snapshot with bad data");
      return;
    }
    if (auto it = applied_hash_.find(idx); it != applied_hash_.end() && it->second != h) {
      Fail("node " + std::to_string(n.id) + " installed a snapshot at " + std::to_string(idx) +
           " whose state differs from what other nodes applied there");
    }
    n.applied = idx;
    n.hash = h;
    n.last_snapshot = idx;
  }
  for (const auto& e : rd.committed_entries) {
    if (e.index() != n.applied + 1) {
      Fail("node " + std::to_string(n.id) + " applies index " + std::to_string(e.index()) +
           " after " + std::to_string(n.applied));
      return;
    }
    n.hash = HashEntry(n.hash, e);
    n.applied = e.index();
    if (e.type() == raftpb::ENTRY_NORMAL && !e.data().empty()) n.applied_data.push_back(e.data());
    auto [it, inserted] = applied_hash_.emplace(e.index(), n.hash);
    if (inserted) first_applied_[e.index()] = {n.id, e.term(), e.data()};
    if (!inserted && it->second != n.hash) {
      const auto& first = first_applied_[e.index()];
      Fail("state machine safety: node " + std::to_string(n.id) + " applied entry " +
           std::to_string(e.index()) + " (term " + std::to_string(e.term()) + ", \"" + e.data() +
           "\") but node " + std::to_string(first.node) + " applied (term " +
           std::to_string(first.term) + ", \"" + first.data +
           "\") there, or their states already differed");
      return;
    }
  }
}

void SimCluster::MaybeSnapshot(SimNode& n) {
  if (opt_.snapshot_every == 0 || n.applied < n.last_snapshot + opt_.snapshot_every) return;
  // The state machine only knows its state at the applied point, so it snapshots there.
  uint64_t index = n.applied;
  Status s = n.core->Compact(index, EncodeState(n.applied, n.hash), opt_.snapshot_retain);
  if (!s) {
    Fail("compact failed: " + s.message());
    return;
  }
  n.disk.snapshot = n.core->latest_snapshot();
  auto& w = n.disk.entries;
  w.erase(std::remove_if(w.begin(), w.end(), [&](const Entry& e) { return e.index() <= index; }),
          w.end());
  n.last_snapshot = index;
}

Result<raft::Proposed> SimCluster::Propose(uint64_t id, std::string data) {
  SimNode& n = nodes_.at(id);
  if (!n.up) return Status::Error("node is down");
  auto r = n.core->Propose(std::move(data));
  HandleReadies(id);
  return r;
}

Status SimCluster::ReadIndex(uint64_t id, std::string context) {
  SimNode& n = nodes_.at(id);
  if (!n.up) return Status::Error("node is down");
  issued_reads_[context] = IssuedRead{id, max_committed_};
  Status s = n.core->ReadIndex(context);
  if (!s) issued_reads_.erase(context);
  HandleReadies(id);
  return s;
}

Status SimCluster::TransferLeadership(uint64_t from, uint64_t to) {
  SimNode& n = nodes_.at(from);
  if (!n.up) return Status::Error("node is down");
  Status s = n.core->TransferLeadership(to);
  HandleReadies(from);
  return s;
}

std::optional<uint64_t> SimCluster::Leader() const {
  std::optional<uint64_t> best;
  uint64_t best_term = 0;
  for (const auto& [id, n] : nodes_) {
    if (n.up && n.core->is_leader() && (!best || n.core->term() > best_term)) {
      best = id;
      best_term = n.core->term();
    }
  }
  return best;
}

std::optional<uint64_t> SimCluster::StableLeader() const {
  auto l = Leader();
  if (!l) return std::nullopt;
  uint64_t term = nodes_.at(*l).core->term();
  for (const auto& [id, n] : nodes_) {
    if (!n.up || !Connected(id, *l)) continue;
    if (n.core->term() != term || n.core->leader() != *l) return std::nullopt;
  }
  return l;
}

bool SimCluster::AllApplied(uint64_t index) const {
  for (const auto& [id, n] : nodes_) {
    if (!n.up || n.applied < index) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// The checker

void SimCluster::Fail(std::string what) {
  if (violation_) return;
  violation_ = Violation{now_, std::move(what)};
  Trace("VIOLATION: " + violation_->what);
}

void SimCluster::CheckStep() {
  for (const auto& [id, n] : nodes_) {
    if (!n.up || !n.core->is_leader()) continue;
    auto [it, inserted] = leader_of_term_.emplace(n.core->term(), id);
    if (!inserted && it->second != id) {
      Fail("election safety: nodes " + std::to_string(it->second) + " and " + std::to_string(id) +
           " are both leaders of term " + std::to_string(n.core->term()));
    }
  }
}

void SimCluster::CheckCommitted(SimNode& n) {
  // Every entry a node considers committed must be the entry recorded as committed at that
  // index, ever: nothing committed is lost or replaced. The commit index may be ahead of
  // what is durable here, but it is a fact about the cluster, so it must agree regardless.
  const raft::RaftLog& log = n.core->log();
  uint64_t& checked = checked_commit_[n.id];
  checked = std::max(checked, log.snapshot_index());
  for (uint64_t i = checked + 1; i <= log.committed(); ++i) {
    uint64_t t = *log.Term(i);
    auto [it, inserted] = committed_.emplace(i, Committed{t, n.core->term()});
    if (!inserted && it->second.term != t) {
      Fail("committed entry replaced: node " + std::to_string(n.id) + " has term " +
           std::to_string(t) + " at index " + std::to_string(i) + ", committed earlier with term " +
           std::to_string(it->second.term));
      return;
    }
    it->second.committed_in = std::min(it->second.committed_in, n.core->term());
  }
  checked = std::max(checked, log.committed());
  max_committed_ = std::max(max_committed_, log.committed());
}

void SimCluster::CheckLeaderCompleteness(SimNode& n) {
  // Raft's Leader Completeness property: an entry committed in some term is in the log of
  // every leader of a higher term. (A leader of an older term, elected late with votes that
  // were delayed in the network, may legitimately lack it; it cannot commit anything.)
  const raft::RaftLog& log = n.core->log();
  uint64_t term = n.core->term();
  for (const auto& [i, c] : committed_) {
    if (c.committed_in >= term || i < log.first_index()) continue;
    if (i > log.last_index() || *log.Term(i) != c.term) {
      Fail("leader completeness: node " + std::to_string(n.id) + " leads term " +
           std::to_string(term) + " without entry " + std::to_string(i) + " (term " +
           std::to_string(c.term) + "), committed in term " + std::to_string(c.committed_in));
      return;
    }
  }
}

void SimCluster::CheckLogs() {
  // Log matching: if two logs hold an entry with the same index and term, they are identical
  // in every entry up to it.
  std::vector<const SimNode*> up;
  for (const auto& [id, n] : nodes_) {
    if (n.up) up.push_back(&n);
  }
  for (size_t a = 0; a < up.size(); ++a) {
    for (size_t b = a + 1; b < up.size(); ++b) {
      const raft::RaftLog& la = up[a]->core->log();
      const raft::RaftLog& lb = up[b]->core->log();
      uint64_t lo = std::max(la.first_index(), lb.first_index());
      uint64_t hi = std::min(la.last_index(), lb.last_index());
      bool matched = false;
      for (uint64_t i = hi; i >= lo && i > 0; --i) {
        auto ea = la.Slice(i, i + 1, 1 << 30), eb = lb.Slice(i, i + 1, 1 << 30);
        bool same_term = ea[0].term() == eb[0].term();
        if (matched && (!same_term || ea[0].data() != eb[0].data())) {
          Fail("log matching: nodes " + std::to_string(up[a]->id) + " and " +
               std::to_string(up[b]->id) + " agree on a later entry but differ at index " +
               std::to_string(i));
          return;
        }
        if (same_term && ea[0].data() != eb[0].data()) {
          Fail("log matching: nodes " + std::to_string(up[a]->id) + " and " +
               std::to_string(up[b]->id) + " hold different entries of term " +
               std::to_string(ea[0].term()) + " at index " + std::to_string(i));
          return;
        }
        matched = matched || same_term;
      }
    }
  }
}

void SimCluster::Trace(const std::string& s) const {
  if (opt_.verbose) std::fprintf(stderr, "[t=%lld] %s\n", static_cast<long long>(now_), s.c_str());
}

std::string SimCluster::Describe() const {
  std::ostringstream os;
  for (const auto& [id, n] : nodes_) {
    os << "node " << id << ": ";
    if (!n.up) {
      os << "down (disk term " << n.disk.hard_state.term() << ", " << n.disk.entries.size()
         << " entries)\n";
      continue;
    }
    auto s = n.core->status();
    os << raft::ToString(s.role) << " term " << s.term << " leader " << s.leader << " log ["
       << s.first_index << ".." << s.last_index << "] commit " << s.commit << " applied "
       << n.applied << "\n";
  }
  return os.str();
}

}  // namespace tug::sim
