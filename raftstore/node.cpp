#include "raftstore/node.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <random>

#include "base/check.h"
#include "base/host_port.h"
#include "raftstore/members.h"
#include "raftstore/snapshot_file.h"
#include "raftstore/transport.h"
#include "raftstore/wal.h"

namespace tug::store {

namespace asio = boost::asio;
namespace fs = std::filesystem;

struct RaftNode::Timers {
  explicit Timers(asio::io_context& io) : tick(io), disk(1) {}
  asio::steady_timer tick;
  // Disk writes run here, in the order posted.
  asio::thread_pool disk;
};

Result<std::vector<Member>> ParseInitialCluster(const std::string& flag) {
  std::vector<Member> out;
  size_t start = 0;
  while (start <= flag.size()) {
    size_t comma = flag.find(',', start);
    std::string item =
        flag.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 >= item.size()) {
      return Status::Invalid("--initial-cluster: \"" + item + "\" is not name=host:port");
    }
    Member m;
    m.name = item.substr(0, eq);
    m.peer_addr = item.substr(eq + 1);
    auto hp = ParseHostPort(m.peer_addr, false);
    if (!hp || hp->host.empty()) {
      return Status::Invalid("--initial-cluster: \"" + m.peer_addr + "\" is not host:port");
    }
    for (const auto& o : out) {
      if (o.name == m.name)
        return Status::Invalid("--initial-cluster: member " + m.name + " listed twice");
    }
    out.push_back(m);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  std::sort(out.begin(), out.end(),
            [](const Member& a, const Member& b) { return a.name < b.name; });
  std::map<uint64_t, std::string> seen;
  for (auto& m : out) {
    m.id = MemberIdFor(m.name, m.peer_addr);
    auto [it, fresh] = seen.emplace(m.id, m.name);
    if (!fresh)
      return Status::Invalid("--initial-cluster: members " + it->second + " and " + m.name +
                             " would get the same id; rename one of them");
  }
  return out;
}

RaftNode::RaftNode(asio::io_context& io, NodeOptions o)
    : io_(io), opt_(std::move(o)), kv_(opt_.history_limit) {}

RaftNode::~RaftNode() {
  if (timers_) timers_->disk.join();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

int64_t RaftNode::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Result<std::unique_ptr<RaftNode>> RaftNode::Open(asio::io_context& io, NodeOptions o) {
  std::unique_ptr<RaftNode> n(new RaftNode(io, std::move(o)));
  const NodeOptions& opt = n->opt_;
  bool named = false;
  for (const auto& m : opt.initial_cluster)
    named = named || m.name == opt.name;
  if (!named) {
    return Status::Invalid("--name " + opt.name +
                           " is not one of the members in --initial-cluster");
  }
  if (opt.heartbeat_ms <= 0 || opt.election_ms < 2 * opt.heartbeat_ms) {
    return Status::Invalid("--election-ms must be at least twice --heartbeat-ms");
  }

  std::error_code ec;
  fs::create_directories(opt.data_dir, ec);
  if (ec) return Status::Error("cannot create data dir " + opt.data_dir + ": " + ec.message());
  // One process per data dir: two writers would interleave WAL records and corrupt both.
  std::string lock_path = opt.data_dir + "/LOCK";
  n->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (n->lock_fd_ < 0)
    return Status::Error("cannot open " + lock_path + ": " + std::strerror(errno));
  if (::flock(n->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {0};
    ssize_t r = ::pread(n->lock_fd_, buf, sizeof(buf) - 1, 0);
    std::string holder = r > 0 ? std::string(buf, static_cast<size_t>(r)) : "another process";
    return Status::Error("data dir " + opt.data_dir + " is in use by pid " + holder +
                         " (lock file " + lock_path + "); stop that process first");
  }
  std::string pid = std::to_string(::getpid());
  if (::ftruncate(n->lock_fd_, 0) != 0 || ::pwrite(n->lock_fd_, pid.data(), pid.size(), 0) < 0) {
    spdlog::warn("could not write pid to {}", lock_path);
  }

  n->snaps_ = std::make_unique<SnapshotFiles>(opt.data_dir + "/snap");
  std::vector<std::string> warnings;
  auto snap = n->snaps_->LoadNewest(&warnings);
  if (!snap.ok()) return snap.status();
  WalContents wc;
  WalOptions wo;
  wo.dir = opt.data_dir + "/wal";
  auto wal = Wal::Open(wo, &wc);
  if (!wal.ok()) return wal.status();
  n->wal_ = std::move(wal).value();
  for (const auto& w : warnings)
    spdlog::warn("{}", w);
  for (const auto& w : wc.warnings)
    spdlog::warn("{}", w);

  raft::PersistedState ps;
  ps.hard_state = wc.hard_state;
  uint64_t snap_index = 0;
  if (snap.value()) {
    snap_index = snap.value()->metadata().index();
    if (Status s = n->kv_.Restore(snap.value()->data()); !s) {
      return Status::Error("snapshot in " + opt.data_dir + "/snap: " + s.message());
    }
    ps.snapshot = *snap.value();
  }
  if (wc.snapshot && wc.snapshot->index() > snap_index) {
    return Status::Error(
        "the WAL in " + wo.dir + " records a snapshot at index " +
        std::to_string(wc.snapshot->index()) + " but the newest readable snapshot file is at " +
        std::to_string(snap_index) + "; restore this member's data dir from a peer");
  }
  for (auto& e : wc.entries) {
    if (e.index() > snap_index) ps.entries.push_back(std::move(e));
  }
  if (!ps.entries.empty() && ps.entries.front().index() != snap_index + 1) {
    return Status::Error("the WAL in " + wo.dir + " starts at index " +
                         std::to_string(ps.entries.front().index()) + " but the snapshot ends at " +
                         std::to_string(snap_index) +
                         ": entries are missing; restore this member's data dir from a peer");
  }
  // A hard state's commit index may lag the log (it is only a hint), never lead it.
  if (ps.hard_state.commit() > snap_index + ps.entries.size()) {
    ps.hard_state.set_commit(snap_index + ps.entries.size());
  }
  if (ps.hard_state.commit() < snap_index) ps.hard_state.set_commit(snap_index);
  // Who the members are (raftstore/members.h): the records in the snapshot, updated by the
  // configuration entries in the log after it (all of them: an uncommitted addition only
  // means a peer to talk to; the table that counts is rebuilt as entries are applied).
  std::map<uint64_t, storepb::MemberRecord> recorded = n->kv_.members();
  uint64_t cluster_id = n->kv_.cluster_id();
  for (const auto& e : ps.entries) {
    if (e.type() != raftpb::ENTRY_CONF_CHANGE) continue;
    auto c = DecodeMemberChange(e);
    if (c.ok()) ApplyMemberChange(c.value(), &recorded, &cluster_id);
  }
  bool fresh = !snap.value() && ps.entries.empty() && ps.hard_state.term() == 0;
  if (recorded.empty() && fresh) {
    // A new cluster: its log starts with the initial members, identically on every member,
    // committed by construction (as etcd bootstraps), and durable before anything else.
    std::vector<storepb::MemberRecord> initial;
    std::vector<uint64_t> ids;
    for (const auto& m : opt.initial_cluster) {
      storepb::MemberRecord r;
      r.set_id(m.id);
      r.set_name(m.name);
      r.set_peer_addr(m.peer_addr);
      initial.push_back(r);
      ids.push_back(m.id);
      recorded[m.id] = r;
    }
    cluster_id = ClusterIdFor(ids);
    ps.entries = BootstrapEntries(initial, cluster_id);
    ps.hard_state.set_term(1);
    ps.hard_state.set_commit(ps.entries.size());
    Status s = n->wal_->Save(ps.hard_state, ps.entries);
    if (s) s = n->wal_->Sync();
    if (!s) return Status::Error("cannot write the new cluster's first entries: " + s.message());
  }
  if (!recorded.empty()) {
    for (const auto& [id, r] : recorded) {
      n->members_[id] = Member{id, r.name(), r.peer_addr(), ""};
      if (r.name() == opt.name) n->id_ = id;
    }
    n->cluster_id_ = cluster_id;
    if (n->id_ == 0) {
      std::vector<std::string> sorted;
      for (const auto& [id, r] : recorded)
        sorted.push_back(r.name());
      std::sort(sorted.begin(), sorted.end());
      std::string names;
      for (const auto& name : sorted)
        names += (names.empty() ? "" : ", ") + name;
      return Status::Invalid("data dir " + opt.data_dir +
                             " belongs to a cluster whose members are " + names + ", and --name " +
                             opt.name +
                             " is not one of them: start this data dir under its own name, or "
                             "give this member a data dir of its own");
    }
  } else {
    // A data dir from before member records: its votes and snapshots name members by their
    // position in --initial-cluster sorted by name, so those stay their ids.
    uint64_t position = 0;
    for (const auto& m : opt.initial_cluster) {
      ++position;
      n->members_[position] = Member{position, m.name, m.peer_addr, ""};
      if (m.name == opt.name) n->id_ = position;
    }
    spdlog::warn(
        "data dir {} predates stable member ids: members keep their positions in "
        "--initial-cluster as ids",
        opt.data_dir);
  }
  n->members_[n->id_].api_addr = opt.api_addr;
  n->last_snapshot_index_ = snap_index;
  n->applied_index_ = snap_index;
  n->persisted_term_ = ps.hard_state.term();
  n->persisted_vote_ = ps.hard_state.vote();

  raft::Config rc;
  rc.id = n->id_;
  for (const auto& [id, m] : n->members_)
    rc.voters.push_back(id);
  rc.heartbeat_ticks = 1;
  rc.election_ticks = std::max(2, opt.election_ms / opt.heartbeat_ms);
  rc.seed = std::random_device{}();
  auto core = raft::RaftCore::Create(rc, std::move(ps));
  if (!core.ok()) return Status::Error("data dir " + opt.data_dir + ": " + core.status().message());
  n->core_ = std::move(core).value();
  // Request ids: random high bits so ids from before a restart are never reused.
  n->next_request_id_ =
      (static_cast<uint64_t>(std::random_device{}()) << 32) ^ static_cast<uint64_t>(n->NowMs());
  spdlog::info("member {} (id {:x}) opened {}: term {}, log {}..{}, commit {}, revision {}",
               opt.name, n->id_, opt.data_dir, n->core_->term(), n->core_->log().first_index(),
               n->core_->log().last_index(), n->core_->log().committed(), n->kv_.revision());
  return n;
}

Status RaftNode::Start() {
  timers_ = std::make_unique<Timers>(io_);
  std::map<uint64_t, std::string> peers = PeerAddrs();
  TransportCallbacks cb;
  cb.on_message = [this](raftpb::Message m) { Step(std::move(m)); };
  cb.on_unreachable = [this](uint64_t p) {
    if (stopped_) return;
    core_->ReportUnreachable(p);
    // Proposals forwarded to the leader may have died with the connection (the queue of an
    // unreachable peer is dropped); the leader did not change, so nothing else would resend.
    if (p == core_->leader()) Repropose("the connection to the leader broke");
    Schedule();
  };
  cb.on_snapshot_sent = [this](uint64_t p, bool ok) {
    if (!stopped_) core_->ReportSnapshot(p, ok);
    Schedule();
  };
  cb.on_peer_lost = [this](uint64_t p) {
    if (stopped_ || p != core_->leader()) return;
    spdlog::info(
        "member {}: connection from leader {} closed; campaigning early if it does not return",
        opt_.name, NameOf(p));
    core_->ReportLeaderLost();
    Schedule();
  };
  cb.on_hello = [this](uint64_t p, const std::string& name, const std::string& api) {
    auto it = members_.find(p);
    if (it != members_.end() && it->second.name == name) it->second.api_addr = api;
  };
  cb.on_soft = [this](uint64_t, std::string data) {
    // Only the leader acts on soft state; a message that arrives after leadership moved is
    // dropped (its sender sends the next one to the new leader).
    if (!stopped_ && core_->is_leader() && soft_handler_) soft_handler_(std::move(data));
  };
  transport_ =
      std::make_unique<PeerTransport>(io_, id_, peers, cb, opt_.name, opt_.api_addr, cluster_id_);
  if (Status s = transport_->Listen(opt_.peer_addr); !s) return s;
  Tick();
  Schedule();
  return Status::Ok();
}

void RaftNode::Tick() {
  if (stopped_) return;
  core_->Tick();
  TryPropose();
  TryIssueRead();
  // A safety net for a forwarded proposal lost on the way without any sign (a message
  // dropped by a busy peer): what is unanswered after an election timeout is proposed
  // again, as long as this member is applying what is committed (so the first copy, if it
  // made it, would have been applied and answered already).
  if (!waiters_.empty() && core_->log().applied() == core_->log().committed()) {
    int64_t now = NowMs();
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (now - it->second.proposed_ms > opt_.election_ms) {
        pending_.push_back(PendingProposal{it->first, it->second.data, std::move(it->second)});
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
  }
  ExpireRequests();
  if (shutting_down_) {
    // Done once leadership is handed over and what we took is answered, or at the deadline.
    bool drained =
        pending_.empty() && waiters_.empty() && reads_waiting_.empty() && read_batches_.empty();
    if ((!core_->is_leader() && drained) || NowMs() >= shutdown_deadline_ms_) {
      FinishShutdown();
      return;
    }
  }
  Schedule();
  timers_->tick.expires_after(std::chrono::milliseconds(opt_.heartbeat_ms));
  timers_->tick.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) Tick();
  });
}

void RaftNode::Step(raftpb::Message m) {
  if (stopped_) return;
  Status s = core_->Step(m);
  if (!s && m.type() != raftpb::MSG_PROP)
    spdlog::warn("refused a message from peer {}: {}", m.from(), s.message());
  Schedule();
}

void RaftNode::Schedule() {
  if (scheduled_ || stopped_) return;
  scheduled_ = true;
  asio::post(io_, [this] {
    scheduled_ = false;
    ProcessReady();
  });
}

void RaftNode::ProcessReady() {
  if (persisting_ || stopped_ || !core_->HasReady()) return;
  auto rd = std::make_shared<raft::Ready>(core_->GetReady());
  bool need_disk = rd->must_sync || !rd->entries.empty() || rd->snapshot.has_value();
  // A leader's messages may leave before its own entries are durable (the exception in the
  // core's persistence contract): followers write in parallel with us, so a commit costs one
  // fsync of latency instead of two.
  bool term_or_vote_changed = rd->hard_state && (rd->hard_state->term() != persisted_term_ ||
                                                 rd->hard_state->vote() != persisted_vote_);
  if (need_disk && core_->is_leader() && !term_or_vote_changed && !rd->snapshot) {
    for (auto& m : rd->messages)
      transport_->Send(std::move(m));
    rd->messages.clear();
  }
  if (rd->hard_state) {
    persisted_term_ = rd->hard_state->term();
    persisted_vote_ = rd->hard_state->vote();
  }
  if (!need_disk) {
    FinishReady(rd);
    return;
  }
  persisting_ = true;
  asio::post(timers_->disk, [this, rd] {
    Status s = wal_->Save(rd->hard_state, rd->entries);
    if (s && rd->snapshot) {
      s = snaps_->Save(*rd->snapshot);
      if (s) s = wal_->SaveSnapshotMarker(rd->snapshot->metadata());
    }
    if (s) {
      auto t0 = std::chrono::steady_clock::now();
      s = wal_->Sync();
      if (fsync_observer_) {
        fsync_observer_(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
    }
    asio::post(io_, [this, rd, s] {
      if (!s) {
        // A member that cannot persist must not answer anyone: its promises would be lies.
        spdlog::critical("cannot persist to {}: {}; stopping", opt_.data_dir, s.message());
        std::_Exit(3);
      }
      persisting_ = false;
      FinishReady(rd);
    });
  });
}

void RaftNode::FinishReady(std::shared_ptr<raft::Ready> rd) {
  if (stopped_) return;
  for (auto& m : rd->messages)
    transport_->Send(std::move(m));
  if (rd->soft_state) {
    spdlog::info("member {}: {} in term {}, leader {}", opt_.name,
                 raft::ToString(rd->soft_state->role), core_->term(),
                 NameOf(rd->soft_state->leader));
    if (rd->soft_state->leader != known_leader_) {
      known_leader_ = rd->soft_state->leader;
      ++leader_changes_;
      // Proposals handed to the old leader (or appended by us as leader) may be lost with
      // it. Propose them again: the state machine applies a request id only once, so one
      // that did survive is not applied twice.
      Repropose("the leader changed");
    }
  }
  if (rd->snapshot) {
    if (Status s = kv_.Restore(rd->snapshot->data()); !s) {
      spdlog::critical("cannot install snapshot from the leader: {}; stopping", s.message());
      std::_Exit(3);
    }
    last_snapshot_index_ = rd->snapshot->metadata().index();
    applied_index_ = last_snapshot_index_;
    SyncMembers();
    spdlog::info("member {}: installed snapshot at index {} (revision {})", opt_.name,
                 last_snapshot_index_, kv_.revision());
  }
  for (const auto& e : rd->committed_entries) {
    // The state machine is only as good as the order it applies entries in: a gap or a
    // repeat would fork this member's store from the others'.
    TUG_CHECK(e.index() == applied_index_ + 1, "apply: entry " + std::to_string(e.index()) +
                                                   " after " + std::to_string(applied_index_));
    Apply(e);
    applied_index_ = e.index();
  }
  for (const auto& rs : rd->read_states) {
    for (auto& b : read_batches_) {
      if (b.context == rs.context) b.index = rs.index;
    }
  }
  core_->Advance(*rd);
  ServeReads();
  MaybeSnapshot();
  TryPropose();
  Schedule();
}

void RaftNode::Apply(const raftpb::Entry& e) {
  if (e.type() == raftpb::ENTRY_CONF_CHANGE) {
    auto c = DecodeMemberChange(e);
    if (!c.ok()) {
      // Every member skips the same bad entry, so the state machines stay identical.
      spdlog::error("{}; skipped", c.status().message());
      return;
    }
    core_->ApplyConfChange(c->change);
    auto members = kv_.members();
    uint64_t cluster_id = kv_.cluster_id();
    ApplyMemberChange(c.value(), &members, &cluster_id);
    kv_.SetMembers(std::move(members), cluster_id);
    SyncMembers();
    return;
  }
  if (e.type() != raftpb::ENTRY_NORMAL || e.data().empty()) return;  // no-op of a new term
  storepb::Request r;
  if (!r.ParseFromString(e.data())) {
    // Every member skips the same bad entry, so the state machines stay identical.
    spdlog::error("entry {} does not parse as a request; skipped", e.index());
    return;
  }
  storepb::Response resp = kv_.Apply(r);
  // The answer runs after this Ready is finished, not in the middle of applying it: a caller
  // may react with new proposals or reads (a controller's next write, a retried update).
  auto answer = [this](std::function<void(Result<storepb::Response>)> done,
                       storepb::Response answer_resp) {
    asio::post(io_, [done = std::move(done), a = std::move(answer_resp)]() mutable {
      done(std::move(a));
    });
  };
  auto it = waiters_.find(r.id());
  if (it != waiters_.end()) {
    auto done = std::move(it->second.done);
    waiters_.erase(it);
    answer(std::move(done), std::move(resp));
    return;
  }
  // Queued to be proposed again after a leader change, but the first proposal made it.
  for (auto p = pending_.begin(); p != pending_.end(); ++p) {
    if (p->id == r.id()) {
      auto done = std::move(p->waiter.done);
      pending_.erase(p);
      answer(std::move(done), std::move(resp));
      return;
    }
  }
}

void RaftNode::MaybeSnapshot() {
  uint64_t applied = core_->log().applied();
  if (applied < last_snapshot_index_ + opt_.snapshot_entries) return;
  auto term = core_->log().Term(applied);
  if (!term) return;
  raftpb::Snapshot snap;
  snap.mutable_metadata()->set_index(applied);
  snap.mutable_metadata()->set_term(*term);
  *snap.mutable_metadata()->mutable_conf_state() = core_->conf_state();
  snap.set_data(kv_.Snapshot());
  if (Status s = core_->Compact(applied, snap.data(), opt_.snapshot_retain); !s) {
    spdlog::warn("snapshot at {} failed: {}", applied, s.message());
    return;
  }
  last_snapshot_index_ = applied;
  uint64_t release = applied > opt_.snapshot_retain ? applied - opt_.snapshot_retain : 0;
  // Written in order with the WAL: the snapshot file is durable before the marker, and the
  // marker before the segments it makes unnecessary are deleted.
  asio::post(timers_->disk, [this, snap = std::move(snap), release] {
    Status s = snaps_->Save(snap);
    if (s) s = wal_->SaveSnapshotMarker(snap.metadata());
    if (s) s = wal_->Sync();
    if (s) s = wal_->ReleaseTo(release);
    if (!s) spdlog::error("writing snapshot at {}: {}", snap.metadata().index(), s.message());
  });
}

void RaftNode::Propose(storepb::Request r, std::function<void(Result<storepb::Response>)> done) {
  if (stopped_) {
    done(Status::Unavailable("member " + opt_.name + " is shutting down; retry on another member"));
    return;
  }
  ++proposals_;
  done = [this, d = std::move(done)](Result<storepb::Response> res) {
    if (!res.ok()) ++proposals_failed_;
    d(std::move(res));
  };
  uint64_t id = ++next_request_id_;
  r.set_id(id);
  std::string data = r.SerializeAsString();
  pending_.push_back(
      PendingProposal{id, data, Waiter{std::move(done), NowMs() + opt_.request_timeout_ms, data}});
  TryPropose();
  Schedule();
}

void RaftNode::TryPropose() {
  while (!pending_.empty() && !stopped_) {
    auto& p = pending_.front();
    auto res = core_->Propose(p.data);
    if (!res.ok()) break;  // no leader yet, or a transfer underway: retried on the next tick
    p.waiter.proposed_ms = NowMs();
    waiters_.insert_or_assign(p.id, std::move(p.waiter));
    pending_.pop_front();
  }
}

void RaftNode::Repropose(const char* why) {
  if (waiters_.empty()) return;
  spdlog::debug("member {}: proposing {} unanswered writes again: {}", opt_.name, waiters_.size(),
                why);
  for (auto it = waiters_.rbegin(); it != waiters_.rend(); ++it) {
    pending_.push_front(PendingProposal{it->first, it->second.data, std::move(it->second)});
  }
  waiters_.clear();
  TryPropose();
}

void RaftNode::WaitLinearizable(std::function<void(Status)> done) {
  if (stopped_) {
    done(Status::Unavailable("member " + opt_.name + " is shutting down; retry on another member"));
    return;
  }
  reads_waiting_.push_back(ReadWaiter{std::move(done), NowMs() + opt_.request_timeout_ms});
  TryIssueRead();
  Schedule();
}

void RaftNode::TryIssueRead() {
  // One ReadIndex round at a time; reads arriving meanwhile share the next one.
  int64_t now = NowMs();
  for (auto it = read_batches_.begin(); it != read_batches_.end();) {
    if (!it->index && now - it->sent_ms > 2 * opt_.election_ms) {
      // The request or its answer was lost (leader change): ask again.
      for (auto& w : it->waiters)
        reads_waiting_.push_back(std::move(w));
      it = read_batches_.erase(it);
    } else {
      ++it;
    }
  }
  bool in_flight = std::any_of(read_batches_.begin(), read_batches_.end(),
                               [](const ReadBatch& b) { return !b.index; });
  if (in_flight || reads_waiting_.empty()) return;
  ReadBatch b;
  b.context = std::to_string(id_) + "-" + std::to_string(++read_seq_);
  if (!core_->ReadIndex(b.context).ok()) return;  // no leader: retried on the next tick
  b.sent_ms = now;
  b.waiters = std::move(reads_waiting_);
  reads_waiting_.clear();
  read_batches_.push_back(std::move(b));
}

void RaftNode::ServeReads() {
  uint64_t applied = core_->log().applied();
  for (auto it = read_batches_.begin(); it != read_batches_.end();) {
    if (it->index && *it->index <= applied) {
      auto ws = std::move(it->waiters);
      it = read_batches_.erase(it);
      for (auto& w : ws)
        w.done(Status::Ok());
    } else {
      ++it;
    }
  }
  TryIssueRead();
}

void RaftNode::Range(storepb::RangeRequest r,
                     std::function<void(Result<storepb::RangeResponse>)> done) {
  auto serve = [this, r, done = std::move(done)](Status s) {
    if (!s) {
      done(s);
      return;
    }
    auto res = ToResult(kv_.Range(r));
    if (res.ok()) *res.value().mutable_header() = Header();
    done(std::move(res));
  };
  if (r.serializable()) {
    serve(Status::Ok());
  } else {
    WaitLinearizable(std::move(serve));
  }
}

void RaftNode::ExpireRequests() {
  int64_t now = NowMs();
  std::string who =
      core_->leader() ? "leader " + NameOf(core_->leader()) : std::string("no leader");
  // Proposed-again requests go back to the front, so deadlines are not in queue order.
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->waiter.deadline_ms > now) {
      ++it;
      continue;
    }
    auto done = std::move(it->waiter.done);
    bool proposed_before = it->waiter.proposed_ms != 0;
    it = pending_.erase(it);
    done(Status::Unavailable(
        "no leader accepted the write within " + std::to_string(opt_.request_timeout_ms) + " ms (" +
        who + "): the cluster may have lost its quorum; " +
        (proposed_before ? "it may or may not have been applied" : "nothing was written")));
  }
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (it->second.deadline_ms <= now) {
      auto done = std::move(it->second.done);
      it = waiters_.erase(it);
      done(Status::Unavailable("the write was not committed within " +
                               std::to_string(opt_.request_timeout_ms) + " ms (" + who +
                               "); it may or may not have been applied"));
    } else {
      ++it;
    }
  }
  auto expire_reads = [&](std::vector<ReadWaiter>& ws) {
    for (auto it = ws.begin(); it != ws.end();) {
      if (it->deadline_ms <= now) {
        auto done = std::move(it->done);
        it = ws.erase(it);
        done(Status::Unavailable("could not confirm a linearizable read within " +
                                 std::to_string(opt_.request_timeout_ms) + " ms (" + who +
                                 "); retry, or ask for a serializable read"));
      } else {
        ++it;
      }
    }
  };
  expire_reads(reads_waiting_);
  for (auto& b : read_batches_)
    expire_reads(b.waiters);
}

void RaftNode::Shutdown(std::function<void()> done) {
  if (shutting_down_ || stopped_) return;
  shutting_down_ = true;
  shutdown_done_ = std::move(done);
  shutdown_deadline_ms_ = NowMs() + 2 * opt_.election_ms;
  if (core_->is_leader()) {
    // Hand over to the follower that is furthest along, so the new leader needs no catch-up.
    uint64_t best = 0, best_match = 0;
    for (const auto& [id, pr] : core_->tracker().progress()) {
      if (id != id_ && pr.match >= best_match) {
        best = id;
        best_match = pr.match;
      }
    }
    if (best != 0) {
      spdlog::info("member {}: shutting down, handing leadership to {}", opt_.name, NameOf(best));
      (void)core_->TransferLeadership(best);
      Schedule();
    }
  }
}

void RaftNode::FinishShutdown() {
  if (stopped_) return;
  FailAll(
      Status::Unavailable("member " + opt_.name + " is shutting down; retry on another member"));
  stopped_ = true;
  timers_->tick.cancel();
  transport_->Stop();
  // Let the disk thread finish what it has (a snapshot, a last batch) before reporting done.
  asio::post(timers_->disk, [this] {
    asio::post(io_, [this] {
      spdlog::info("member {}: stopped", opt_.name);
      if (shutdown_done_) shutdown_done_();
    });
  });
}

void RaftNode::FailAll(const Status& s) {
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& p : pending)
    p.waiter.done(s);
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& [id, w] : waiters)
    w.done(s);
  auto reads = std::move(reads_waiting_);
  reads_waiting_.clear();
  for (auto& r : reads)
    r.done(s);
  auto batches = std::move(read_batches_);
  read_batches_.clear();
  for (auto& b : batches) {
    for (auto& w : b.waiters)
      w.done(s);
  }
}

std::map<uint64_t, std::string> RaftNode::PeerAddrs() const {
  std::map<uint64_t, std::string> peers;
  for (const auto& [id, m] : members_) {
    if (id != id_) peers[id] = m.peer_addr;
  }
  return peers;
}

void RaftNode::SyncMembers() {
  // A data dir from before member records keeps --initial-cluster's members.
  if (kv_.members().empty()) return;
  std::map<uint64_t, Member> next;
  for (const auto& [id, r] : kv_.members()) {
    // A record the transport could not dial is kept out of it (and said once).
    auto hp = ParseHostPort(r.peer_addr(), false);
    if (!hp || hp->host.empty()) {
      spdlog::error("member {} ({:x}) has an unusable peer address \"{}\"; not dialing it",
                    r.name(), id, r.peer_addr());
      continue;
    }
    Member m{id, r.name(), r.peer_addr(), ""};
    if (auto old = members_.find(id); old != members_.end() && old->second.name == r.name())
      m.api_addr = old->second.api_addr;
    next[id] = std::move(m);
  }
  if (!next.count(id_)) {
    spdlog::warn("member {}: this member is no longer in the cluster's member records", opt_.name);
  } else {
    next[id_].api_addr = opt_.api_addr;
  }
  members_ = std::move(next);
  cluster_id_ = kv_.cluster_id();
  if (transport_) transport_->SetPeers(PeerAddrs());
}

std::string RaftNode::NameOf(uint64_t id) const {
  auto it = members_.find(id);
  return it == members_.end() ? (id == 0 ? std::string("none") : std::to_string(id))
                              : it->second.name;
}

storepb::ResponseHeader RaftNode::Header() const {
  storepb::ResponseHeader h;
  // Data dirs from before member records have no cluster id; they keep the constant they had.
  h.set_cluster_id(cluster_id_ != 0 ? cluster_id_ : 0x7467);
  h.set_member_id(id_);
  h.set_revision(kv_.revision());
  h.set_raft_term(core_->term());
  return h;
}

bool RaftNode::SendToLeader(std::string data) {
  if (stopped_) return false;
  uint64_t leader = core_->leader();
  if (leader == 0) return false;
  if (leader == id_) {
    if (soft_handler_) soft_handler_(std::move(data));
    return true;
  }
  transport_->SendSoft(leader, std::move(data));
  return true;
}

bool RaftNode::LeaderCaughtUp() const {
  if (stopped_ || !core_->is_leader()) return false;
  // Once an entry of this term is committed and applied (the new leader's no-op), the state
  // machine holds everything any earlier leader committed.
  auto cs = core_->status();
  auto term = core_->log().Term(cs.commit);
  return term && *term == cs.term && cs.applied >= cs.commit;
}

NodeStatus RaftNode::status() const {
  NodeStatus s;
  auto cs = core_->status();
  s.id = id_;
  s.cluster_id = cluster_id_;
  s.name = opt_.name;
  s.term = cs.term;
  s.leader = cs.leader;
  s.leader_name = cs.leader ? NameOf(cs.leader) : "";
  s.role = raft::ToString(cs.role);
  s.commit = cs.commit;
  s.applied = cs.applied;
  s.snapshot_index = last_snapshot_index_;
  s.revision = kv_.revision();
  s.leader_changes = leader_changes_;
  s.proposals = proposals_;
  s.proposals_failed = proposals_failed_;
  for (const auto& [id, m] : members_)
    s.members.push_back(m);
  return s;
}

}  // namespace tug::store
