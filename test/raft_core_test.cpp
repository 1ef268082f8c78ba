// Unit tests of the Raft core driven by hand, message by message: the election restriction,
// the persistence contract as it shows in a Ready, input validation, and the log and
// progress helpers.
#include <catch2/catch.hpp>

#include "raftstore/raft.h"

using namespace tug;
using tug::raft::RaftCore;
using tug::raftpb::Entry;
using tug::raftpb::Message;

namespace {

Entry E(uint64_t index, uint64_t term, std::string data = "") {
  Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data(std::move(data));
  return e;
}

std::unique_ptr<RaftCore> Core(uint64_t id, raft::PersistedState p = {}, int voters = 3) {
  raft::Config c;
  c.id = id;
  for (int i = 1; i <= voters; ++i)
    c.voters.push_back(static_cast<uint64_t>(i));
  c.seed = 42;
  auto r = RaftCore::Create(c, std::move(p));
  REQUIRE(r.ok());
  return std::move(r).value();
}

raft::PersistedState Persisted(uint64_t term, uint64_t vote, std::vector<Entry> ents,
                               uint64_t commit = 0) {
  raft::PersistedState p;
  p.hard_state.set_term(term);
  p.hard_state.set_vote(vote);
  p.hard_state.set_commit(commit);
  p.entries = std::move(ents);
  return p;
}

Message VoteReq(uint64_t from, uint64_t to, uint64_t term, uint64_t last_index, uint64_t last_term,
                bool pre = false) {
  Message m;
  m.set_type(pre ? raftpb::MSG_PRE_VOTE : raftpb::MSG_VOTE);
  m.set_from(from);
  m.set_to(to);
  m.set_term(term);
  m.set_index(last_index);
  m.set_log_term(last_term);
  return m;
}

Message Heartbeat(uint64_t from, uint64_t to, uint64_t term) {
  Message m;
  m.set_type(raftpb::MSG_HEARTBEAT);
  m.set_from(from);
  m.set_to(to);
  m.set_term(term);
  return m;
}

const Message* Find(const raft::Ready& rd, raftpb::MessageType t) {
  for (const auto& m : rd.messages) {
    if (m.type() == t) return &m;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("config and persisted state are validated with readable errors", "[raft][core]") {
  raft::Config c;
  c.voters = {1};
  auto r = RaftCore::Create(c, {});
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("node id"));

  c.id = 1;
  c.election_ticks = 1;
  c.heartbeat_ticks = 1;
  r = RaftCore::Create(c, {});
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("election ticks"));

  c.election_ticks = 10;
  r = RaftCore::Create(c, Persisted(1, 0, {E(1, 1), E(3, 1)}));
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("not contiguous"));

  r = RaftCore::Create(c, Persisted(1, 0, {E(1, 1)}, 5));
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("beyond the persisted log"));
}

TEST_CASE("election restriction: no vote for a candidate with a less up-to-date log",
          "[raft][core][vote]") {
  // Our log ends at index 2, term 2.
  auto n = Core(1, Persisted(2, 0, {E(1, 1), E(2, 2)}));
  SECTION("older last term is refused even with a longer log") {
    REQUIRE(n->Step(VoteReq(2, 1, 3, 10, 1)).ok());
    auto rd = n->GetReady();
    const Message* r = Find(rd, raftpb::MSG_VOTE_RESP);
    REQUIRE(r);
    CHECK(r->reject());
    CHECK(n->status().vote == raft::kNone);
  }
  SECTION("same last term but shorter log is refused") {
    REQUIRE(n->Step(VoteReq(2, 1, 3, 1, 2)).ok());
    auto rd = n->GetReady();
    CHECK(Find(rd, raftpb::MSG_VOTE_RESP)->reject());
  }
  SECTION("an up-to-date candidate gets the vote, durably before the answer leaves") {
    REQUIRE(n->Step(VoteReq(2, 1, 3, 2, 2)).ok());
    auto rd = n->GetReady();
    const Message* r = Find(rd, raftpb::MSG_VOTE_RESP);
    REQUIRE(r);
    CHECK_FALSE(r->reject());
    // The vote travels in the same Ready as its response, marked as needing an fsync: the
    // contract says persist first, then send.
    REQUIRE(rd.hard_state.has_value());
    CHECK(rd.hard_state->vote() == 2);
    CHECK(rd.hard_state->term() == 3);
    CHECK(rd.must_sync);
    n->Advance(rd);
    // One vote per term: another candidate of the same term is refused.
    REQUIRE(n->Step(VoteReq(3, 1, 3, 2, 2)).ok());
    auto rd2 = n->GetReady();
    CHECK(Find(rd2, raftpb::MSG_VOTE_RESP)->reject());
  }
}

TEST_CASE("a restarted node remembers its vote", "[raft][core][vote]") {
  auto n = Core(1, Persisted(5, 2, {E(1, 1)}));
  REQUIRE(n->Step(VoteReq(3, 1, 5, 9, 9)).ok());
  auto rd = n->GetReady();
  CHECK(Find(rd, raftpb::MSG_VOTE_RESP)->reject());
  REQUIRE(n->Step(VoteReq(2, 1, 5, 1, 1)).ok());
  rd = n->GetReady();
  CHECK_FALSE(Find(rd, raftpb::MSG_VOTE_RESP)->reject());
}

TEST_CASE("pre-vote changes no term and no vote", "[raft][core][prevote]") {
  auto n = Core(1, Persisted(2, 0, {E(1, 1)}));
  REQUIRE(n->Step(VoteReq(2, 1, 3, 1, 1, /*pre=*/true)).ok());
  auto rd = n->GetReady();
  const Message* r = Find(rd, raftpb::MSG_PRE_VOTE_RESP);
  REQUIRE(r);
  CHECK_FALSE(r->reject());
  CHECK(r->term() == 3);  // answered in the term asked about
  CHECK(n->term() == 2);
  CHECK(n->status().vote == raft::kNone);
}

TEST_CASE("a follower in a leader's lease ignores vote requests", "[raft][core][quorum]") {
  auto n = Core(1, Persisted(2, 0, {E(1, 1)}));
  Message hb = Heartbeat(2, 1, 2);
  REQUIRE(n->Step(hb).ok());
  (void)n->GetReady();
  REQUIRE(n->Step(VoteReq(3, 1, 3, 5, 2)).ok());
  auto rd = n->GetReady();
  CHECK(Find(rd, raftpb::MSG_VOTE_RESP) == nullptr);
  CHECK(n->term() == 2);  // not even its term was taken
  CHECK(n->leader() == 2);
}

TEST_CASE("malformed or misaddressed messages are refused and change nothing",
          "[raft][core][input]") {
  auto n = Core(1, Persisted(2, 0, {E(1, 1), E(2, 2)}));
  auto before = n->status();
  Message m;
  m.set_type(raftpb::MSG_APP);
  m.set_from(2);
  m.set_to(1);
  m.set_term(2);
  m.set_index(2);
  m.set_log_term(2);

  SECTION("for another node") {
    m.set_to(3);
    CHECK_FALSE(n->Step(m).ok());
  }
  SECTION("from a stranger") {
    m.set_from(9);
    CHECK_THAT(n->Step(m).message(), Catch::Contains("not a member"));
  }
  SECTION("entries with a gap") {
    *m.add_entries() = E(3, 2);
    *m.add_entries() = E(5, 2);
    CHECK_THAT(n->Step(m).message(), Catch::Contains("malformed entry"));
  }
  SECTION("an entry from a future term") {
    *m.add_entries() = E(3, 7);
    CHECK_FALSE(n->Step(m).ok());
  }
  SECTION("an unknown type") {
    m.set_type(static_cast<raftpb::MessageType>(99));
    CHECK_THAT(n->Step(m).message(), Catch::Contains("unknown message type"));
  }
  SECTION("a protocol message without a term") {
    m.set_type(raftpb::MSG_HEARTBEAT);
    m.set_term(0);
    CHECK_FALSE(n->Step(m).ok());
  }
  auto after = n->status();
  CHECK(after.term == before.term);
  CHECK(after.last_index == before.last_index);
  CHECK(after.commit == before.commit);
  CHECK_FALSE(n->HasReady());
}

TEST_CASE("AppendEntries: conflicting suffix replaced, matching prefix kept, hint on reject",
          "[raft][core][append]") {
  // Follower log: 1@1 2@1 3@2 4@2 5@2 (entries 3..5 from a leader of term 2 that failed).
  auto n = Core(1, Persisted(3, 0, {E(1, 1), E(2, 1), E(3, 2), E(4, 2), E(5, 2)}));
  Message m;
  m.set_type(raftpb::MSG_APP);
  m.set_from(2);
  m.set_to(1);
  m.set_term(3);

  SECTION("reject with a hint that skips the whole conflicting term") {
    // The leader (term 3) probes at index 7, term 3: we lack it.
    m.set_index(7);
    m.set_log_term(3);
    REQUIRE(n->Step(m).ok());
    auto rd = n->GetReady();
    const Message* r = Find(rd, raftpb::MSG_APP_RESP);
    REQUIRE(r);
    CHECK(r->reject());
    CHECK(r->reject_hint() == 5);  // our last index; its term 2 <= 3
    CHECK(r->log_term() == 2);
  }
  SECTION("a probe at a term our log lacks points below that term") {
    m.set_index(5);
    m.set_log_term(3);
    // Our entry 5 is of term 2 < 3, so the hint stays at 5 with term 2.
    REQUIRE(n->Step(m).ok());
    auto rd = n->GetReady();
    CHECK(Find(rd, raftpb::MSG_APP_RESP)->reject_hint() == 5);
    // Leader's log: 1@1 2@1 3@3...: it answers by probing at FindConflictByTerm(5, 2) in its
    // own log = index 2, one round trip for the whole term-2 suffix.
  }
  SECTION("append replaces the conflicting suffix and commits up to what matched") {
    m.set_index(2);
    m.set_log_term(1);
    m.set_commit(3);
    *m.add_entries() = E(3, 3, "new");
    REQUIRE(n->Step(m).ok());
    CHECK(n->log().last_index() == 3);
    CHECK(n->log().Term(3) == 3u);
    CHECK(n->log().committed() == 3);
    auto rd = n->GetReady();
    // The new entry is to be written, replacing the durable log from index 3 on.
    REQUIRE(rd.entries.size() == 1);
    CHECK(rd.entries[0].index() == 3);
    CHECK(Find(rd, raftpb::MSG_APP_RESP)->index() == 3);
  }
  SECTION("a stale, shorter append does not truncate what a newer one added") {
    m.set_index(5);
    m.set_log_term(2);
    *m.add_entries() = E(6, 3);
    *m.add_entries() = E(7, 3);
    REQUIRE(n->Step(m).ok());
    Message old = m;
    old.clear_entries();
    *old.add_entries() = E(6, 3);
    REQUIRE(n->Step(old).ok());
    CHECK(n->log().last_index() == 7);
  }
}

TEST_CASE("the leader counts itself only for entries reported durable", "[raft][core][persist]") {
  auto n = Core(1, {}, 1);  // a single voter
  for (int i = 0; i < 20 && !n->is_leader(); ++i) {
    n->Tick();
    while (n->HasReady())
      n->Advance(n->GetReady());
  }
  REQUIRE(n->is_leader());
  auto p = n->Propose("x");
  REQUIRE(p.ok());
  // Not yet durable: not committed, even though it is alone.
  CHECK(n->log().committed() < p->index);
  auto rd = n->GetReady();
  REQUIRE(rd.entries.size() == 1);
  CHECK(rd.committed_entries.empty());
  n->Advance(rd);  // now durable
  CHECK(n->log().committed() == p->index);
  auto rd2 = n->GetReady();
  REQUIRE(rd2.committed_entries.size() == 1);
  CHECK(rd2.committed_entries[0].data() == "x");
}

TEST_CASE("proposals without a leader fail with a reason", "[raft][core]") {
  auto n = Core(1);
  auto p = n->Propose("x");
  REQUIRE_FALSE(p.ok());
  CHECK_THAT(p.status().message(), Catch::Contains("no leader"));
  CHECK_FALSE(n->ReadIndex("r").ok());
  CHECK_FALSE(n->TransferLeadership(2).ok());
}

TEST_CASE("compaction keeps the snapshot for lagging followers", "[raft][core][snapshot]") {
  auto n = Core(1, {}, 1);
  for (int i = 0; i < 20 && !n->is_leader(); ++i) {
    n->Tick();
    while (n->HasReady())
      n->Advance(n->GetReady());
  }
  for (int i = 0; i < 5; ++i)
    REQUIRE(n->Propose("e").ok());
  while (n->HasReady())
    n->Advance(n->GetReady());
  uint64_t applied = n->log().applied();
  CHECK_FALSE(n->Compact(applied + 1, "state").ok());  // cannot compact what is not applied
  REQUIRE(n->Compact(applied, "state").ok());
  CHECK(n->log().snapshot_index() == applied);
  CHECK(n->log().first_index() == applied + 1);
}

TEST_CASE("membership: a second change waits for the first, then quorum follows",
          "[raft][core][membership]") {
  auto n = Core(1, {}, 1);
  for (int i = 0; i < 20 && !n->is_leader(); ++i) {
    n->Tick();
    while (n->HasReady())
      n->Advance(n->GetReady());
  }
  raftpb::ConfChange cc;
  cc.set_type(raftpb::CONF_ADD_VOTER);
  cc.set_node_id(2);
  REQUIRE(n->ProposeConfChange(cc).ok());
  CHECK_FALSE(n->ProposeConfChange(cc).ok());  // one at a time
  auto rd = n->GetReady();
  n->Advance(rd);
  rd = n->GetReady();
  bool applied_cc = false;
  for (const auto& e : rd.committed_entries) {
    if (e.type() == raftpb::ENTRY_CONF_CHANGE) {
      raftpb::ConfChange got;
      REQUIRE(got.ParseFromString(e.data()));
      auto cs = n->ApplyConfChange(got);
      CHECK(cs.voters_size() == 2);
      applied_cc = true;
    }
  }
  n->Advance(rd);
  REQUIRE(applied_cc);
  // Two voters now: a new entry needs node 2's acknowledgement to commit.
  auto p = n->Propose("needs-two");
  REQUIRE(p.ok());
  n->Advance(n->GetReady());
  CHECK(n->log().committed() < p->index);
}

TEST_CASE("a follower told its leader is lost campaigns within one election timeout",
          "[raft][core][election]") {
  auto n = Core(1, Persisted(2, 0, {E(1, 1)}));
  Message hb = Heartbeat(2, 1, 2);
  REQUIRE(n->Step(hb).ok());
  CHECK(n->leader() == 2);
  n->ReportLeaderLost();
  CHECK(n->leader() == raft::kNone);
  // It now grants votes at once (no lease) ...
  REQUIRE(n->Step(VoteReq(3, 1, 3, 1, 1)).ok());
  auto rd = n->GetReady();
  const Message* r = Find(rd, raftpb::MSG_VOTE_RESP);
  REQUIRE(r);
  CHECK_FALSE(r->reject());
  n->Advance(rd);
  // ... and, on its own, campaigns in fewer than election_ticks ticks.
  auto m = Core(1, Persisted(2, 0, {E(1, 1)}));
  REQUIRE(m->Step(hb).ok());
  m->ReportLeaderLost();
  int ticks = 0;
  while (m->role() == raft::Role::kFollower && ticks < 100) {
    m->Tick();
    ++ticks;
  }
  CHECK(ticks <= 10);
}

TEST_CASE("a snapshot the follower already holds is answered with the commit index",
          "[raft][core][snapshot]") {
  // Follower log: 1@1 2@1 3@2 4@2 5@2; entries 4 and 5 come from a leader of term 2 that
  // failed, and the new leader's log does not hold them.
  auto n = Core(1, Persisted(3, 0, {E(1, 1), E(2, 1), E(3, 2), E(4, 2), E(5, 2)}));
  Message m;
  m.set_type(raftpb::MSG_SNAP);
  m.set_from(2);
  m.set_to(1);
  m.set_term(3);
  m.mutable_snapshot()->mutable_metadata()->set_index(3);
  m.mutable_snapshot()->mutable_metadata()->set_term(2);
  REQUIRE(n->Step(m).ok());
  auto rd = n->GetReady();
  const Message* r = Find(rd, raftpb::MSG_APP_RESP);
  REQUIRE(r);
  CHECK(!r->reject());
  // Entry 3 matches and is now committed; 4 and 5 may not match the leader's: not claimed.
  CHECK(r->index() == 3);
  CHECK(n->log().committed() == 3);
}
