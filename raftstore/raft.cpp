#include "raftstore/raft.h"

#include <algorithm>

#include "base/check.h"

namespace tug::raft {

using raftpb::Entry;
using raftpb::Message;
using raftpb::MessageType;

namespace {

constexpr const char* kTransferContext = "transfer";

// Messages forwarded to the leader carry no term: they are requests on behalf of a client,
// not part of the protocol between terms.
bool IsForwarded(MessageType t) {
  return t == raftpb::MSG_PROP || t == raftpb::MSG_READ_INDEX;
}

MessageType VoteRespType(MessageType t) {
  return t == raftpb::MSG_PRE_VOTE ? raftpb::MSG_PRE_VOTE_RESP : raftpb::MSG_VOTE_RESP;
}

std::vector<Entry> ToVector(const google::protobuf::RepeatedPtrField<Entry>& r) {
  return std::vector<Entry>(r.begin(), r.end());
}

}  // namespace

const char* ToString(Role r) {
  switch (r) {
    case Role::kFollower:
      return "follower";
    case Role::kPreCandidate:
      return "pre-candidate";
    case Role::kCandidate:
      return "candidate";
    case Role::kLeader:
      return "leader";
  }
  return "?";
}

Status Config::Validate() const {
  if (id == kNone) return Status::Error("raft config: node id must be non-zero");
  if (heartbeat_ticks <= 0) return Status::Error("raft config: heartbeat ticks must be positive");
  if (election_ticks <= heartbeat_ticks) {
    return Status::Error("raft config: election ticks (" + std::to_string(election_ticks) +
                         ") must exceed heartbeat ticks (" + std::to_string(heartbeat_ticks) + ")");
  }
  if (max_inflight_msgs == 0) return Status::Error("raft config: max inflight must be positive");
  return Status::Ok();
}

RaftCore::RaftCore(const Config& c)
    : id_(c.id),
      cfg_(c),
      rng_(c.seed * 0x9E3779B97F4A7C15ull + c.id),
      tracker_(c.max_inflight_msgs) {}

Result<std::unique_ptr<RaftCore>> RaftCore::Create(const Config& config, PersistedState p) {
  if (Status s = config.Validate(); !s) return s;
  std::unique_ptr<RaftCore> r(new RaftCore(config));

  uint64_t snap_index = 0, snap_term = 0;
  std::vector<uint64_t> voters = config.voters;
  if (p.snapshot) {
    snap_index = p.snapshot->metadata().index();
    snap_term = p.snapshot->metadata().term();
    const auto& v = p.snapshot->metadata().conf_state().voters();
    if (!v.empty()) voters.assign(v.begin(), v.end());
  }
  uint64_t expect = snap_index + 1;
  for (const auto& e : p.entries) {
    if (e.index() != expect) {
      return Status::Error("raft: persisted log is not contiguous: expected index " +
                           std::to_string(expect) + ", found " + std::to_string(e.index()));
    }
    ++expect;
  }
  // Membership changes in the log take effect when appended would be the thesis' rule; we
  // apply them when committed, so replaying committed ones happens through the caller.
  if (voters.empty()) return Status::Error("raft: no voters configured");
  r->tracker_.SetVoters(voters);

  const auto& hs = p.hard_state;
  if (hs.commit() > expect - 1) {
    return Status::Error("raft: persisted commit index " + std::to_string(hs.commit()) +
                         " is beyond the persisted log (last index " + std::to_string(expect - 1) +
                         ")");
  }
  r->term_ = hs.term();
  r->vote_ = hs.vote();
  r->log_.RestorePersisted(snap_index, snap_term, std::move(p.entries), hs.commit());
  if (p.snapshot) r->snapshot_ = std::move(p.snapshot);
  r->BecomeFollower(r->term_, kNone);
  r->prev_hard_ = r->hard_state();
  r->prev_soft_ = SoftState{r->lead_, r->role_};
  return r;
}

raftpb::HardState RaftCore::hard_state() const {
  raftpb::HardState hs;
  hs.set_term(term_);
  hs.set_vote(vote_);
  hs.set_commit(log_.committed());
  return hs;
}

raftpb::ConfState RaftCore::conf_state() const {
  raftpb::ConfState cs;
  for (uint64_t v : tracker_.voters())
    cs.add_voters(v);
  return cs;
}

CoreStatus RaftCore::status() const {
  CoreStatus s;
  s.id = id_;
  s.term = term_;
  s.vote = vote_;
  s.leader = lead_;
  s.role = role_;
  s.commit = log_.committed();
  s.applied = log_.applied();
  s.first_index = log_.first_index();
  s.last_index = log_.last_index();
  s.lead_transferee = lead_transferee_;
  return s;
}

// ---------------------------------------------------------------------------------------
// Role transitions

void RaftCore::ResetRandomizedElectionTimeout() {
  randomized_election_timeout_ =
      cfg_.election_ticks + static_cast<int>(rng_() % static_cast<uint64_t>(cfg_.election_ticks));
}

void RaftCore::Reset(uint64_t term) {
  if (term_ != term) {
    term_ = term;
    vote_ = kNone;
  }
  lead_ = kNone;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  ResetRandomizedElectionTimeout();
  AbortLeaderTransfer();
  tracker_.ResetVotes();
  tracker_.ResetProgress(log_.last_index());
  if (Progress* self = tracker_.Get(id_)) self->match = log_.stable();
  reads_.Clear();
  reads_waiting_for_commit_.clear();
}

void RaftCore::BecomeFollower(uint64_t term, uint64_t lead) {
  Reset(term);
  lead_ = lead;
  role_ = Role::kFollower;
}

void RaftCore::BecomePreCandidate() {
  // A pre-candidate changes neither its term nor its vote: losing a pre-election leaves no
  // trace, which is what keeps a partitioned node from disrupting the cluster on return.
  tracker_.ResetVotes();
  lead_ = kNone;
  role_ = Role::kPreCandidate;
}

void RaftCore::BecomeCandidate() {
  Reset(term_ + 1);
  vote_ = id_;
  role_ = Role::kCandidate;
}

void RaftCore::BecomeLeader() {
  Reset(term_);
  lead_ = id_;
  role_ = Role::kLeader;
  for (auto& [pid, pr] : tracker_.progress())
    pr.last_active_tick = ticks_;
  if (Progress* self = tracker_.Get(id_)) {
    self->BecomeReplicate();
    self->match = log_.stable();
    self->next = log_.last_index() + 1;
  }
  // Conservatively treat any unapplied entry as a possible conf change.
  pending_conf_index_ = log_.last_index();
  // The no-op of this term: once it commits, everything before it is committed too (an
  // entry of an older term can only be committed indirectly, Figure 8).
  Entry noop;
  noop.set_type(raftpb::ENTRY_NORMAL);
  AppendEntries({noop});
  FlushHeldProposals();
}

void RaftCore::Campaign(CampaignType t) {
  MessageType vote_type;
  uint64_t term;
  if (t == CampaignType::kPreElection) {
    BecomePreCandidate();
    vote_type = raftpb::MSG_PRE_VOTE;
    term = term_ + 1;  // the term we would campaign in
  } else {
    BecomeCandidate();
    vote_type = raftpb::MSG_VOTE;
    term = term_;
  }
  tracker_.RecordVote(id_, true);
  if (tracker_.TallyVotes() == ProgressTracker::VoteResult::kWon) {
    // A single-voter cluster wins at once.
    if (t == CampaignType::kPreElection) {
      Campaign(CampaignType::kElection);
    } else {
      BecomeLeader();
    }
    return;
  }
  for (uint64_t v : tracker_.voters()) {
    if (v == id_) continue;
    Message m;
    m.set_type(vote_type);
    m.set_to(v);
    m.set_term(term);
    m.set_index(log_.last_index());
    m.set_log_term(log_.last_term());
    if (t == CampaignType::kTransfer) m.set_context(kTransferContext);
    Send(std::move(m));
  }
}

// ---------------------------------------------------------------------------------------
// Time

void RaftCore::Tick() {
  ++ticks_;
  if (role_ != Role::kLeader) {
    ++election_elapsed_;
    if (Promotable() && PastElectionTimeout()) {
      election_elapsed_ = 0;
      Campaign(cfg_.pre_vote ? CampaignType::kPreElection : CampaignType::kElection);
    }
    return;
  }

  ++heartbeat_elapsed_;
  ++election_elapsed_;
  // Check-quorum: a leader that has not heard from a quorum for an election timeout steps
  // down, so clients stuck on a minority side learn there is no leader (and stop waiting).
  if (cfg_.check_quorum && !tracker_.QuorumActive(id_, ticks_, cfg_.election_ticks)) {
    BecomeFollower(term_, kNone);
    return;
  }
  if (election_elapsed_ >= cfg_.election_ticks) {
    election_elapsed_ = 0;
    // A transfer that has not finished within an election timeout is abandoned, so the
    // leader accepts proposals again.
    AbortLeaderTransfer();
    FlushHeldProposals();
  }
  // A snapshot that was never acknowledged (lost on the way) is retried.
  for (auto& [pid, pr] : tracker_.progress()) {
    if (pr.state == ProgressState::kSnapshot && ++pr.snapshot_ticks > 2 * cfg_.election_ticks) {
      pr.pending_snapshot = 0;
      pr.BecomeProbe();
    }
  }
  if (heartbeat_elapsed_ >= cfg_.heartbeat_ticks) {
    heartbeat_elapsed_ = 0;
    BroadcastHeartbeat();
  }
}

// ---------------------------------------------------------------------------------------
// Messages

Status RaftCore::ValidateMessage(const Message& m) const {
  if (m.to() != id_) {
    return Status::Error("raft: message for node " + std::to_string(m.to()) +
                         " delivered to node " + std::to_string(id_));
  }
  if (m.from() == kNone || m.from() == id_) {
    return Status::Error("raft: message with bad sender " + std::to_string(m.from()));
  }
  if (!tracker_.IsVoter(m.from())) {
    return Status::Error("raft: message from node " + std::to_string(m.from()) +
                         ", which is not a member");
  }
  switch (m.type()) {
    case raftpb::MSG_APP: {
      uint64_t expect = m.index() + 1;
      uint64_t prev_term = m.log_term();
      for (const auto& e : m.entries()) {
        if (e.index() != expect || e.term() < prev_term || e.term() > m.term()) {
          return Status::Error("raft: AppendEntries from node " + std::to_string(m.from()) +
                               " has a malformed entry at index " + std::to_string(e.index()));
        }
        prev_term = e.term();
        ++expect;
      }
      if (m.log_term() > m.term()) return Status::Error("raft: AppendEntries log term beyond term");
      return Status::Ok();
    }
    case raftpb::MSG_SNAP:
      if (m.snapshot().metadata().index() == 0 || m.snapshot().metadata().term() > m.term()) {
        return Status::Error("raft: malformed snapshot from node " + std::to_string(m.from()));
      }
      return Status::Ok();
    case raftpb::MSG_APP_RESP:
    case raftpb::MSG_VOTE:
    case raftpb::MSG_VOTE_RESP:
    case raftpb::MSG_PRE_VOTE:
    case raftpb::MSG_PRE_VOTE_RESP:
    case raftpb::MSG_HEARTBEAT:
    case raftpb::MSG_HEARTBEAT_RESP:
    case raftpb::MSG_TIMEOUT_NOW:
    case raftpb::MSG_READ_INDEX_RESP:
      if (m.term() == 0) return Status::Error("raft: protocol message without a term");
      return Status::Ok();
    case raftpb::MSG_PROP:
      for (const auto& e : m.entries()) {
        if (e.type() != raftpb::ENTRY_NORMAL && e.type() != raftpb::ENTRY_CONF_CHANGE) {
          return Status::Error("raft: forwarded proposal with unknown entry type");
        }
      }
      return Status::Ok();
    case raftpb::MSG_READ_INDEX:
      return Status::Ok();
    default:
      return Status::Error("raft: unknown message type " + std::to_string(m.type()));
  }
}

Status RaftCore::Step(const Message& m) {
  if (Status s = ValidateMessage(m); !s) return s;

  if (IsForwarded(m.type())) {
    // No term to compare: handled by whoever we are now.
  } else if (m.term() > term_) {
    if (m.type() == raftpb::MSG_VOTE || m.type() == raftpb::MSG_PRE_VOTE) {
      bool force = m.context() == kTransferContext;
      bool in_lease =
          cfg_.check_quorum && lead_ != kNone && election_elapsed_ < cfg_.election_ticks;
      if (!force && in_lease) {
        // We heard from a live leader within the minimum election timeout: a node that
        // wants an election now was cut off, not the leader. Ignoring it (without taking
        // its term) keeps it from deposing a healthy leader.
        return Status::Ok();
      }
    }
    if (m.type() == raftpb::MSG_PRE_VOTE) {
      // Never change term for a pre-vote.
    } else if (m.type() == raftpb::MSG_PRE_VOTE_RESP && !m.reject()) {
      // A granted pre-vote carries the future term; we take it when we campaign for real.
    } else if (m.type() == raftpb::MSG_APP || m.type() == raftpb::MSG_HEARTBEAT ||
               m.type() == raftpb::MSG_SNAP) {
      BecomeFollower(m.term(), m.from());
    } else {
      BecomeFollower(m.term(), kNone);
    }
  } else if (m.term() < term_) {
    if ((cfg_.check_quorum || cfg_.pre_vote) &&
        (m.type() == raftpb::MSG_HEARTBEAT || m.type() == raftpb::MSG_APP)) {
      // A stale leader (one that was partitioned away) would never learn of the newer term
      // if we dropped its messages, since with pre-vote nobody asks it for a vote: tell it.
      Message r;
      r.set_type(raftpb::MSG_APP_RESP);
      r.set_to(m.from());
      Send(std::move(r));
    } else if (m.type() == raftpb::MSG_PRE_VOTE) {
      // Tell a stale pre-candidate our term so it can catch up instead of retrying forever.
      Message r;
      r.set_type(raftpb::MSG_PRE_VOTE_RESP);
      r.set_to(m.from());
      r.set_term(term_);
      r.set_reject(true);
      Send(std::move(r));
    }
    return Status::Ok();
  }

  if (m.type() == raftpb::MSG_VOTE || m.type() == raftpb::MSG_PRE_VOTE) {
    HandleVoteRequest(m);
    return Status::Ok();
  }
  Status result;
  switch (role_) {
    case Role::kLeader:
      result = StepLeader(m);
      break;
    case Role::kCandidate:
    case Role::kPreCandidate:
      result = StepCandidate(m);
      break;
    case Role::kFollower:
      result = StepFollower(m);
      break;
  }
  if (!held_proposals_.empty()) FlushHeldProposals();
  return result;
}

void RaftCore::FlushHeldProposals() {
  if (held_proposals_.empty()) return;
  if (role_ == Role::kLeader && lead_transferee_ == kNone) {
    AppendEntries(std::move(held_proposals_));
    held_proposals_.clear();
    BroadcastAppend();
  } else if (role_ == Role::kFollower && lead_ != kNone) {
    Message m;
    m.set_type(raftpb::MSG_PROP);
    m.set_to(lead_);
    for (auto& e : held_proposals_)
      *m.add_entries() = std::move(e);
    held_proposals_.clear();
    Send(std::move(m));
  }
}

void RaftCore::HandleVoteRequest(const Message& m) {
  bool pre = m.type() == raftpb::MSG_PRE_VOTE;
  // We may vote for m.from if we already did in this term, or have voted for nobody and
  // know no leader in this term, or (pre-vote) it asks about a future term.
  bool can_vote =
      vote_ == m.from() || (vote_ == kNone && lead_ == kNone) || (pre && m.term() > term_);
  Message r;
  r.set_type(VoteRespType(m.type()));
  r.set_to(m.from());
  if (can_vote && log_.IsUpToDate(m.index(), m.log_term())) {
    // Answer with the term of the request: the candidate ignores responses of other terms.
    r.set_term(m.term());
    if (!pre) {
      election_elapsed_ = 0;
      vote_ = m.from();  // durable before the response leaves: the persistence contract
    }
  } else {
    r.set_term(term_);
    r.set_reject(true);
  }
  Send(std::move(r));
}

Status RaftCore::StepLeader(const Message& m) {
  switch (m.type()) {
    case raftpb::MSG_PROP: {
      if (lead_transferee_ != kNone) {
        if (m.from() == id_ || held_proposals_.size() >= 4096) {
          return Status::Error("raft: proposal dropped: leadership transfer in progress");
        }
        held_proposals_.insert(held_proposals_.end(), m.entries().begin(), m.entries().end());
        return Status::Ok();
      }
      std::vector<Entry> ents = ToVector(m.entries());
      for (auto& e : ents) {
        if (e.type() == raftpb::ENTRY_CONF_CHANGE) {
          if (pending_conf_index_ > log_.applied()) {
            return Status::Error("raft: a membership change is already in progress");
          }
          pending_conf_index_ = log_.last_index() + 1;
        }
      }
      AppendEntries(std::move(ents));
      BroadcastAppend();
      return Status::Ok();
    }
    case raftpb::MSG_READ_INDEX:
      HandleReadIndexRequest(m.from(), m.context());
      return Status::Ok();
    default:
      break;
  }

  Progress* pr = tracker_.Get(m.from());
  if (pr == nullptr) return Status::Ok();
  switch (m.type()) {
    case raftpb::MSG_APP_RESP:
      pr->last_active_tick = ticks_;
      HandleAppendResponse(m, *pr);
      break;
    case raftpb::MSG_HEARTBEAT_RESP:
      pr->last_active_tick = ticks_;
      HandleHeartbeatResponse(m, *pr);
      break;
    default:
      // Votes for a term we already lead, duplicates of old responses: nothing to do.
      break;
  }
  return Status::Ok();
}

void RaftCore::HandleAppendResponse(const Message& m, Progress& pr) {
  if (m.reject()) {
    // Fast backtracking: the follower says its log can agree with ours at best at
    // reject_hint, where its term is log_term; our own log refines that to the last index
    // whose term is at most that, skipping a whole conflicting term in one round trip.
    uint64_t next_probe = m.reject_hint();
    if (m.log_term() > 0) next_probe = log_.FindConflictByTerm(m.reject_hint(), m.log_term());
    if (pr.MaybeDecrTo(m.index(), next_probe)) {
      if (pr.state == ProgressState::kReplicate) pr.BecomeProbe();
      MaybeSendAppend(m.from(), true);
    }
    return;
  }
  bool was_paused = pr.IsPaused();
  if (!pr.MaybeUpdate(m.index())) return;  // a duplicate or reordered acknowledgement
  switch (pr.state) {
    case ProgressState::kProbe:
      pr.BecomeReplicate();
      break;
    case ProgressState::kSnapshot:
      if (pr.match >= pr.pending_snapshot) {
        pr.BecomeProbe();
        pr.BecomeReplicate();
      }
      break;
    case ProgressState::kReplicate:
      pr.inflights.FreeLE(m.index());
      break;
  }
  if (MaybeCommit()) {
    BroadcastAppend();
  } else if (was_paused) {
    MaybeSendAppend(m.from(), true);
  }
  // Stream whatever else the window allows.
  while (MaybeSendAppend(m.from(), false)) {
  }
  if (m.from() == lead_transferee_ && pr.match == log_.last_index()) SendTimeoutNow(m.from());
}

void RaftCore::HandleHeartbeatResponse(const Message& m, Progress& pr) {
  pr.probe_sent = false;
  if (m.index() < pr.match) {
    // The follower holds less than it once acknowledged: it restarted on a disk that lost
    // synced data (or this answer is a stale one, overtaken on the way). Probe again from
    // what it says it has; a stale answer only costs a round trip. Our commit index never
    // moves back, so this cannot undo a commit.
    pr.match = m.index();
    pr.BecomeProbe();
  }
  // If every message in the window was lost, the heartbeat answer frees a slot so that
  // replication does not stall forever.
  if (pr.state == ProgressState::kReplicate && pr.inflights.Full()) pr.inflights.FreeFirstOne();
  if (pr.match < log_.last_index()) MaybeSendAppend(m.from(), true);

  if (m.context().empty()) return;
  if (reads_.Ack(m.from(), m.context()) + 1 < tracker_.Quorum()) return;  // +1: ourselves
  for (const PendingRead& r : reads_.ReleaseThrough(m.context()))
    AnswerRead(r);
}

Status RaftCore::StepCandidate(const Message& m) {
  MessageType my_resp =
      role_ == Role::kPreCandidate ? raftpb::MSG_PRE_VOTE_RESP : raftpb::MSG_VOTE_RESP;
  switch (m.type()) {
    case raftpb::MSG_PROP:
      return Status::Error("raft: proposal dropped: no leader");
    case raftpb::MSG_READ_INDEX:
      return Status::Ok();  // the follower will time out and retry
    case raftpb::MSG_APP:
      BecomeFollower(m.term(), m.from());  // a leader of our term exists
      HandleAppendEntries(m);
      return Status::Ok();
    case raftpb::MSG_HEARTBEAT:
      BecomeFollower(m.term(), m.from());
      HandleHeartbeat(m);
      return Status::Ok();
    case raftpb::MSG_SNAP:
      BecomeFollower(m.term(), m.from());
      HandleSnapshot(m);
      return Status::Ok();
    default:
      break;
  }
  if (m.type() != my_resp) return Status::Ok();
  tracker_.RecordVote(m.from(), !m.reject());
  switch (tracker_.TallyVotes()) {
    case ProgressTracker::VoteResult::kWon:
      if (role_ == Role::kPreCandidate) {
        Campaign(CampaignType::kElection);
      } else {
        BecomeLeader();
        BroadcastAppend();
      }
      break;
    case ProgressTracker::VoteResult::kLost:
      // m.term() may be ahead of ours for a pre-vote; we stay in our own term.
      BecomeFollower(term_, kNone);
      break;
    case ProgressTracker::VoteResult::kPending:
      break;
  }
  return Status::Ok();
}

Status RaftCore::StepFollower(const Message& m) {
  switch (m.type()) {
    case raftpb::MSG_PROP:
      // A peer forwarded it believing we lead. Passing it on could loop between nodes with
      // stale views; the client retries instead.
      return Status::Error("raft: proposal dropped: node " + std::to_string(id_) +
                           " is not the leader");
    case raftpb::MSG_APP:
      election_elapsed_ = 0;
      lead_ = m.from();
      HandleAppendEntries(m);
      break;
    case raftpb::MSG_HEARTBEAT:
      election_elapsed_ = 0;
      lead_ = m.from();
      HandleHeartbeat(m);
      break;
    case raftpb::MSG_SNAP:
      election_elapsed_ = 0;
      lead_ = m.from();
      HandleSnapshot(m);
      break;
    case raftpb::MSG_TIMEOUT_NOW:
      // The leader hands leadership to us: campaign now, skipping pre-vote, and tell the
      // voters to disregard their leader lease.
      if (Promotable()) Campaign(CampaignType::kTransfer);
      break;
    case raftpb::MSG_READ_INDEX:
      // Forwarded to us by a peer that thinks we lead: dropped (no forwarding loops); the
      // asking node times out and asks again.
      break;
    case raftpb::MSG_READ_INDEX_RESP:
      read_states_.push_back(ReadState{m.index(), m.context()});
      break;
    default:
      break;
  }
  return Status::Ok();
}

void RaftCore::HandleAppendEntries(const Message& m) {
  Message r;
  r.set_type(raftpb::MSG_APP_RESP);
  r.set_to(m.from());
  if (m.index() < log_.committed()) {
    // Everything up to our commit index is already settled; say where we are.
    r.set_index(log_.committed());
    Send(std::move(r));
    return;
  }
  std::vector<Entry> ents = ToVector(m.entries());
  if (auto last_new = log_.MaybeAppend(m.index(), m.log_term(), m.commit(), ents)) {
    r.set_index(*last_new);
    Send(std::move(r));
    return;
  }
  // Our log does not contain an entry at m.index() of term m.log_term(). Find the last index
  // at or below it where our term is <= m.log_term(): the leader's log cannot agree with ours
  // anywhere above that point.
  uint64_t hint = log_.FindConflictByTerm(std::min(m.index(), log_.last_index()), m.log_term());
  r.set_index(m.index());
  r.set_reject(true);
  r.set_reject_hint(hint);
  r.set_log_term(log_.Term(hint).value_or(0));
  Send(std::move(r));
}

void RaftCore::HandleHeartbeat(const Message& m) {
  // The leader never sends a commit index beyond what it knows we hold.
  log_.CommitTo(std::min(m.commit(), log_.last_index()));
  Message r;
  r.set_type(raftpb::MSG_HEARTBEAT_RESP);
  r.set_to(m.from());
  r.set_context(m.context());
  r.set_index(log_.last_index());  // lets the leader notice a follower that lost its tail
  Send(std::move(r));
}

void RaftCore::HandleSnapshot(const Message& m) {
  const auto& meta = m.snapshot().metadata();
  Message r;
  r.set_type(raftpb::MSG_APP_RESP);
  r.set_to(m.from());
  if (meta.index() <= log_.committed()) {
    // Old news: we already have (and have committed) everything it covers.
    r.set_index(log_.committed());
  } else if (log_.MatchTerm(meta.index(), meta.term())) {
    // We hold that entry already: it is committed, no need to throw our log away. Answer
    // with the commit index, not the last index (as etcd does): entries after the snapshot's
    // may be an old term's that the leader's log does not hold, and claiming them would let
    // the leader count this member towards a quorum for entries it lacks.
    log_.CommitTo(meta.index());
    r.set_index(log_.committed());
  } else {
    log_.RestoreSnapshot(meta.index(), meta.term());
    if (meta.conf_state().voters_size() > 0) {
      tracker_.SetVoters(std::vector<uint64_t>(meta.conf_state().voters().begin(),
                                               meta.conf_state().voters().end()));
    }
    snapshot_ = m.snapshot();
    pending_snapshot_install_ = true;
    r.set_index(log_.last_index());
  }
  Send(std::move(r));
}

// ---------------------------------------------------------------------------------------
// Leader replication

void RaftCore::AppendEntries(std::vector<Entry> ents) {
  uint64_t li = log_.last_index();
  for (size_t i = 0; i < ents.size(); ++i) {
    ents[i].set_term(term_);
    ents[i].set_index(li + 1 + i);
  }
  log_.Append(ents);
  // Our own progress moves only when the entries are durable (Advance), so a quorum is never
  // counted with entries that a crash could still lose.
}

void RaftCore::SendSnapshot(uint64_t to, Progress& pr) {
  TUG_CHECK(snapshot_.has_value(), "raft: entries were compacted without a snapshot to send");
  Message m;
  m.set_type(raftpb::MSG_SNAP);
  m.set_to(to);
  *m.mutable_snapshot() = *snapshot_;
  pr.BecomeSnapshot(snapshot_->metadata().index());
  Send(std::move(m));
}

bool RaftCore::MaybeSendAppend(uint64_t to, bool send_if_empty) {
  Progress* pr = tracker_.Get(to);
  if (pr == nullptr || pr->IsPaused()) return false;
  auto prev_term = log_.Term(pr->next - 1);
  if (!prev_term || pr->next <= log_.snapshot_index()) {
    SendSnapshot(to, *pr);
    return true;
  }
  std::vector<Entry> ents = log_.Slice(pr->next, log_.last_index() + 1, cfg_.max_msg_bytes);
  if (ents.empty() && !send_if_empty) return false;
  Message m;
  m.set_type(raftpb::MSG_APP);
  m.set_to(to);
  m.set_index(pr->next - 1);
  m.set_log_term(*prev_term);
  m.set_commit(log_.committed());
  bool had = !ents.empty();
  uint64_t last = had ? ents.back().index() : 0;
  for (auto& e : ents)
    *m.add_entries() = std::move(e);
  pr->SentEntries(last, had);
  Send(std::move(m));
  return true;
}

void RaftCore::BroadcastAppend() {
  for (uint64_t v : tracker_.voters()) {
    if (v != id_) MaybeSendAppend(v, true);
  }
}

void RaftCore::SendHeartbeat(uint64_t to, const std::string& context) {
  Progress* pr = tracker_.Get(to);
  Message m;
  m.set_type(raftpb::MSG_HEARTBEAT);
  m.set_to(to);
  // Never tell a follower a commit index beyond what it is known to hold: its log past
  // `match` may still differ from ours.
  m.set_commit(std::min(pr ? pr->match : 0, log_.committed()));
  m.set_context(context);
  Send(std::move(m));
}

void RaftCore::BroadcastHeartbeat() {
  std::string ctx = reads_.LastContext();
  for (uint64_t v : tracker_.voters()) {
    if (v != id_) SendHeartbeat(v, ctx);
  }
}

bool RaftCore::MaybeCommit() {
  bool committed = log_.MaybeCommit(tracker_.CommittedIndex(), term_);
  if (committed) ReleasePendingReads();
  return committed;
}

bool RaftCore::CommittedEntryInCurrentTerm() const {
  return log_.Term(log_.committed()).value_or(0) == term_;
}

void RaftCore::HandleReadIndexRequest(uint64_t from, std::string context) {
  if (!CommittedEntryInCurrentTerm()) {
    reads_waiting_for_commit_.emplace_back(from, std::move(context));
    return;
  }
  if (tracker_.voters().size() == 1) {
    AnswerRead(PendingRead{from, std::move(context), log_.committed(), {}});
    return;
  }
  reads_.Add(from, context, log_.committed());
  BroadcastHeartbeat();
}

void RaftCore::ReleasePendingReads() {
  if (reads_waiting_for_commit_.empty() || !CommittedEntryInCurrentTerm()) return;
  auto waiting = std::move(reads_waiting_for_commit_);
  reads_waiting_for_commit_.clear();
  for (auto& [from, ctx] : waiting)
    HandleReadIndexRequest(from, std::move(ctx));
}

void RaftCore::AnswerRead(const PendingRead& r) {
  if (r.from == id_) {
    read_states_.push_back(ReadState{r.index, r.context});
    return;
  }
  Message m;
  m.set_type(raftpb::MSG_READ_INDEX_RESP);
  m.set_to(r.from);
  m.set_index(r.index);
  m.set_context(r.context);
  Send(std::move(m));
}

void RaftCore::SendTimeoutNow(uint64_t to) {
  Message m;
  m.set_type(raftpb::MSG_TIMEOUT_NOW);
  m.set_to(to);
  Send(std::move(m));
}

void RaftCore::Send(Message m) {
  m.set_from(id_);
  bool explicit_term = m.type() == raftpb::MSG_VOTE || m.type() == raftpb::MSG_PRE_VOTE ||
                       m.type() == raftpb::MSG_VOTE_RESP || m.type() == raftpb::MSG_PRE_VOTE_RESP;
  if (!explicit_term && !IsForwarded(m.type())) m.set_term(term_);
  msgs_.push_back(std::move(m));
}

// ---------------------------------------------------------------------------------------
// Local requests

Result<Proposed> RaftCore::Propose(std::string data) {
  Message m;
  m.set_type(raftpb::MSG_PROP);
  m.set_from(id_);
  Entry* e = m.add_entries();
  e->set_type(raftpb::ENTRY_NORMAL);
  e->set_data(std::move(data));
  if (role_ == Role::kLeader) {
    if (Status s = StepLeader(m); !s) return s;
    return Proposed{log_.last_index(), term_};
  }
  if (role_ != Role::kFollower || lead_ == kNone) {
    return Status::Error("raft: no leader (node " + std::to_string(id_) + " is a " +
                         ToString(role_) + " in term " + std::to_string(term_) + ")");
  }
  m.set_to(lead_);
  Send(std::move(m));
  return Proposed{};
}

Result<Proposed> RaftCore::ProposeConfChange(const raftpb::ConfChange& cc) {
  if (role_ != Role::kLeader) return Status::Error("raft: membership changes go to the leader");
  Message m;
  m.set_type(raftpb::MSG_PROP);
  m.set_from(id_);
  Entry* e = m.add_entries();
  e->set_type(raftpb::ENTRY_CONF_CHANGE);
  e->set_data(cc.SerializeAsString());
  if (Status s = StepLeader(m); !s) return s;
  return Proposed{log_.last_index(), term_};
}

raftpb::ConfState RaftCore::ApplyConfChange(const raftpb::ConfChange& cc) {
  std::vector<uint64_t> voters(tracker_.voters().begin(), tracker_.voters().end());
  if (cc.type() == raftpb::CONF_ADD_VOTER) {
    if (!tracker_.IsVoter(cc.node_id())) voters.push_back(cc.node_id());
  } else {
    voters.erase(std::remove(voters.begin(), voters.end(), cc.node_id()), voters.end());
  }
  if (!voters.empty()) {
    bool added = !tracker_.IsVoter(cc.node_id());
    tracker_.SetVoters(voters);
    if (added && tracker_.Get(cc.node_id())) {
      Progress* pr = tracker_.Get(cc.node_id());
      pr->next = log_.last_index() + 1;
      pr->last_active_tick = ticks_;
    }
  }
  if (role_ == Role::kLeader) {
    if (!tracker_.IsVoter(id_)) {
      BecomeFollower(term_, kNone);  // removed ourselves: let the others elect a leader
    } else if (MaybeCommit()) {
      BroadcastAppend();  // the quorum shrank: something may have committed
    }
  }
  return conf_state();
}

Status RaftCore::ReadIndex(std::string context) {
  if (context.empty()) return Status::Error("raft: a read needs a non-empty context");
  if (role_ == Role::kLeader) {
    HandleReadIndexRequest(id_, std::move(context));
    return Status::Ok();
  }
  if (role_ != Role::kFollower || lead_ == kNone) {
    return Status::Error("raft: no leader to confirm a read (node " + std::to_string(id_) +
                         " is a " + ToString(role_) + ")");
  }
  Message m;
  m.set_type(raftpb::MSG_READ_INDEX);
  m.set_to(lead_);
  m.set_context(std::move(context));
  Send(std::move(m));
  return Status::Ok();
}

Status RaftCore::TransferLeadership(uint64_t target) {
  if (role_ != Role::kLeader) return Status::Error("raft: only the leader can transfer leadership");
  if (target == id_) return Status::Error("raft: already the leader");
  Progress* pr = tracker_.Get(target);
  if (pr == nullptr) {
    return Status::Error("raft: cannot transfer leadership to node " + std::to_string(target) +
                         ", which is not a voter");
  }
  if (lead_transferee_ == target) return Status::Ok();
  lead_transferee_ = target;
  election_elapsed_ = 0;  // the transfer must finish within an election timeout
  if (pr->match == log_.last_index()) {
    SendTimeoutNow(target);
  } else {
    MaybeSendAppend(target, true);
  }
  return Status::Ok();
}

void RaftCore::ReportUnreachable(uint64_t id) {
  Progress* pr = tracker_.Get(id);
  if (role_ != Role::kLeader || pr == nullptr) return;
  // Whatever we streamed may be lost: go back to probing.
  if (pr->state == ProgressState::kReplicate) pr->BecomeProbe();
}

void RaftCore::ReportLeaderLost() {
  if (role_ != Role::kFollower || lead_ == kNone) return;
  lead_ = kNone;
  election_elapsed_ = std::max(election_elapsed_, cfg_.election_ticks);
}

void RaftCore::ReportSnapshot(uint64_t id, bool success) {
  Progress* pr = tracker_.Get(id);
  if (role_ != Role::kLeader || pr == nullptr || pr->state != ProgressState::kSnapshot) return;
  if (!success) pr->pending_snapshot = 0;
  // Wait for the follower's answer (probe) before sending more.
  pr->BecomeProbe();
  pr->probe_sent = true;
}

Status RaftCore::Compact(uint64_t index, std::string data, uint64_t retain) {
  if (index > log_.applied()) {
    return Status::Error("raft: cannot compact to " + std::to_string(index) +
                         ": only applied up to " + std::to_string(log_.applied()));
  }
  if (index <= log_.snapshot_index() || (snapshot_ && index <= snapshot_->metadata().index())) {
    return Status::Ok();
  }
  raftpb::Snapshot s;
  s.mutable_metadata()->set_index(index);
  s.mutable_metadata()->set_term(*log_.Term(index));
  *s.mutable_metadata()->mutable_conf_state() = conf_state();
  s.set_data(std::move(data));
  snapshot_ = std::move(s);
  // Entries just before the snapshot stay, so a follower slightly behind gets entries, not
  // the whole snapshot; a follower behind the retained tail gets the snapshot.
  uint64_t compact_to = index > retain ? index - retain : 0;
  if (compact_to > log_.snapshot_index()) log_.Compact(compact_to);
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------
// Ready / Advance

bool RaftCore::HasReady() const {
  if (SoftState{lead_, role_} != prev_soft_) return true;
  raftpb::HardState hs = hard_state();
  if (hs.term() != prev_hard_.term() || hs.vote() != prev_hard_.vote() ||
      hs.commit() != prev_hard_.commit()) {
    return true;
  }
  return pending_snapshot_install_ || log_.stable() < log_.last_index() ||
         log_.HasNextCommitted() || !msgs_.empty() || !read_states_.empty();
}

Ready RaftCore::GetReady() {
  Ready rd;
  SoftState ss{lead_, role_};
  if (ss != prev_soft_) {
    rd.soft_state = ss;
    prev_soft_ = ss;
  }
  raftpb::HardState hs = hard_state();
  if (hs.term() != prev_hard_.term() || hs.vote() != prev_hard_.vote() ||
      hs.commit() != prev_hard_.commit()) {
    rd.must_sync = hs.term() != prev_hard_.term() || hs.vote() != prev_hard_.vote();
    rd.hard_state = hs;
    prev_hard_ = hs;
  }
  if (pending_snapshot_install_) {
    rd.snapshot = *snapshot_;
    pending_snapshot_install_ = false;
    rd.must_sync = true;
  }
  rd.entries = log_.UnstableEntries();
  if (!rd.entries.empty()) rd.must_sync = true;
  if (log_.HasNextCommitted()) {
    rd.committed_entries = log_.NextCommitted(cfg_.max_committed_bytes);
    if (!rd.committed_entries.empty()) log_.ApplyingTo(rd.committed_entries.back().index());
  }
  rd.messages = std::move(msgs_);
  msgs_.clear();
  rd.read_states = std::move(read_states_);
  read_states_.clear();
  return rd;
}

void RaftCore::Advance(const Ready& rd) {
  if (rd.snapshot) {
    log_.AppliedTo(rd.snapshot->metadata().index());
  }
  if (!rd.entries.empty()) {
    const Entry& last = rd.entries.back();
    log_.StableTo(last.index(), last.term());
    if (role_ == Role::kLeader) {
      if (Progress* self = tracker_.Get(id_)) {
        if (self->MaybeUpdate(log_.stable()) && MaybeCommit()) BroadcastAppend();
      }
    }
  }
  if (!rd.committed_entries.empty()) log_.AppliedTo(rd.committed_entries.back().index());
}

}  // namespace tug::raft
