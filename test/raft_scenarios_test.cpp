// Scenario tests of the Raft core through the deterministic simulator, modeled on the Raft
// paper and on well-known Raft test suites (etcd's raft tests, MIT 6.824's). Each runs under
// the safety checker; every wait is a condition with a bound in ticks, never a sleep.
#include <catch2/catch.hpp>

#include "test/sim/sim_cluster.h"

using tug::sim::SimCluster;
using tug::sim::SimOptions;

namespace {

SimOptions Opts(int nodes, uint64_t seed = 7) {
  SimOptions o;
  o.nodes = nodes;
  o.seed = seed;
  o.base.election_ticks = 10;
  o.base.heartbeat_ticks = 1;
  return o;
}

// Election timeouts are 10..19 ticks; a few split pre-votes may repeat that.
constexpr int kElectionBound = 100;

uint64_t WaitLeader(SimCluster& c) {
  REQUIRE(c.RunUntil([&] { return c.StableLeader().has_value(); }, kElectionBound));
  return *c.StableLeader();
}

// Proposes on `id` and waits until the entry is applied on every live node it can reach.
uint64_t Commit(SimCluster& c, uint64_t id, const std::string& data, int bound = 50) {
  auto p = c.Propose(id, data);
  REQUIRE(p.ok());
  REQUIRE(p->index != 0);
  uint64_t idx = p->index;
  auto applied_everywhere = [&] {
    for (uint64_t n : c.ids()) {
      if (c.IsUp(n) && c.Connected(n, id) && c.node(n).applied < idx) return false;
    }
    return true;
  };
  REQUIRE(c.RunUntil(applied_everywhere, bound));
  return idx;
}

void RequireSafe(const SimCluster& c) {
  INFO(c.Describe());
  if (c.violation()) FAIL(c.violation()->what);
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

tug::raftpb::Entry Ent(uint64_t index, uint64_t term, const std::string& data) {
  tug::raftpb::Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data(data);
  return e;
}

tug::raft::PersistedState Persisted(uint64_t term, std::vector<tug::raftpb::Entry> ents) {
  tug::raft::PersistedState p;
  p.hard_state.set_term(term);
  p.entries = std::move(ents);
  return p;
}

}  // namespace

TEST_CASE("initial election: one leader, all agree, no-op committed", "[raft][election]") {
  for (int n : {1, 3, 5}) {
    SimCluster c(Opts(n));
    uint64_t leader = WaitLeader(c);
    uint64_t term = c.node(leader).core->term();
    for (uint64_t id : c.ids())
      CHECK(c.node(id).core->term() == term);
    // The leader's no-op of its term commits without any client proposal.
    REQUIRE(c.RunUntil([&] { return c.AllApplied(1); }, 20));
    RequireSafe(c);
  }
}

TEST_CASE("re-election after the leader fails", "[raft][election]") {
  SimCluster c(Opts(5));
  uint64_t old = WaitLeader(c);
  uint64_t old_term = c.node(old).core->term();
  Commit(c, old, "before");
  c.Crash(old);
  uint64_t leader = WaitLeader(c);
  CHECK(leader != old);
  CHECK(c.node(leader).core->term() > old_term);
  Commit(c, leader, "after");
  // The old leader comes back as a follower and learns everything.
  c.Restart(old);
  REQUIRE(c.RunUntil([&] { return Contains(c.node(old).applied_data, "after"); }, 50));
  CHECK(c.node(old).applied_data == c.node(leader).applied_data);
  RequireSafe(c);
}

TEST_CASE("no leader and no commit without a majority", "[raft][election]") {
  SimCluster c(Opts(5));
  uint64_t leader = WaitLeader(c);
  uint64_t committed = c.MaxCommitted();
  // Crash three of five, the leader among them.
  int crashed = 0;
  c.Crash(leader);
  for (uint64_t id : c.ids()) {
    if (id != leader && crashed < 2) {
      c.Crash(id);
      ++crashed;
    }
  }
  c.RunTicks(300);
  CHECK_FALSE(c.Leader().has_value());
  for (uint64_t id : c.ids()) {
    if (c.IsUp(id)) CHECK_FALSE(c.Propose(id, "x").ok());  // no leader to take it
  }
  CHECK(c.MaxCommitted() == committed);
  RequireSafe(c);
}

TEST_CASE("check-quorum: a leader cut off from the majority steps down", "[raft][quorum]") {
  SimCluster c(Opts(5));
  uint64_t leader = WaitLeader(c);
  std::set<uint64_t> minority{leader}, majority;
  for (uint64_t id : c.ids()) {
    if (id == leader) continue;
    (minority.size() < 2 ? minority : majority).insert(id);
  }
  c.Partition({minority, majority});
  int64_t cut_at = c.ticks();
  // It stops being leader within an election timeout (plus a heartbeat round trip).
  REQUIRE(c.RunUntil([&] { return !c.node(leader).core->is_leader(); }, 10 + 2));
  CHECK(c.ticks() - cut_at <= 12);
  // The majority elects a leader and commits; the minority commits nothing meanwhile.
  REQUIRE(c.RunUntil(
      [&] {
        for (uint64_t id : majority) {
          if (c.node(id).core->is_leader()) return true;
        }
        return false;
      },
      kElectionBound));
  uint64_t minority_commit = c.node(leader).core->log().committed();
  c.RunTicks(30);
  CHECK(c.node(leader).core->log().committed() == minority_commit);
  RequireSafe(c);
}

TEST_CASE("partitions heal: the minority's uncommitted entries are discarded",
          "[raft][partition]") {
  SimCluster c(Opts(5));
  uint64_t leader = WaitLeader(c);
  Commit(c, leader, "a");
  std::set<uint64_t> minority{leader}, majority;
  for (uint64_t id : c.ids()) {
    if (id == leader) continue;
    (minority.size() < 2 ? minority : majority).insert(id);
  }
  c.Partition({minority, majority});
  // The old leader still takes proposals until it steps down; they can never commit.
  REQUIRE(c.Propose(leader, "lost-1").ok());
  REQUIRE(c.Propose(leader, "lost-2").ok());
  uint64_t new_leader = 0;
  REQUIRE(c.RunUntil(
      [&] {
        for (uint64_t id : majority) {
          if (c.node(id).core->is_leader()) new_leader = id;
        }
        return new_leader != 0;
      },
      kElectionBound));
  Commit(c, new_leader, "b");
  c.Heal();
  REQUIRE(c.RunUntil([&] { return c.StableLeader().has_value(); }, kElectionBound));
  uint64_t l = *c.StableLeader();
  Commit(c, l, "c");
  for (uint64_t id : c.ids()) {
    const auto& d = c.node(id).applied_data;
    CHECK(Contains(d, "a"));
    CHECK(Contains(d, "b"));
    CHECK(Contains(d, "c"));
    CHECK_FALSE(Contains(d, "lost-1"));
    CHECK_FALSE(Contains(d, "lost-2"));
  }
  RequireSafe(c);
}

TEST_CASE("a rejoining node does not disrupt a healthy leader (pre-vote)", "[raft][prevote]") {
  SimCluster c(Opts(3));
  uint64_t leader = WaitLeader(c);
  uint64_t term = c.node(leader).core->term();
  uint64_t loner = leader == 1 ? 2 : 1;
  std::set<uint64_t> rest;
  for (uint64_t id : c.ids()) {
    if (id != loner) rest.insert(id);
  }
  c.Partition({{loner}, rest});
  c.RunTicks(200);  // many election timeouts alone
  // Pre-vote: its failed pre-elections never raised its term.
  CHECK(c.node(loner).core->term() == term);
  Commit(c, leader, "while-away", 50);
  c.Heal();
  REQUIRE(c.RunUntil([&] { return Contains(c.node(loner).applied_data, "while-away"); }, 50));
  CHECK(c.node(leader).core->is_leader());
  CHECK(c.node(leader).core->term() == term);
  RequireSafe(c);
}

TEST_CASE("without pre-vote a rejoining node would disrupt (the contrast)", "[raft][prevote]") {
  SimOptions o = Opts(3);
  o.base.pre_vote = false;
  o.base.check_quorum = false;
  SimCluster c(o);
  uint64_t leader = WaitLeader(c);
  uint64_t term = c.node(leader).core->term();
  uint64_t loner = leader == 1 ? 2 : 1;
  std::set<uint64_t> rest;
  for (uint64_t id : c.ids()) {
    if (id != loner) rest.insert(id);
  }
  c.Partition({{loner}, rest});
  c.RunTicks(200);
  CHECK(c.node(loner).core->term() > term);  // it kept campaigning
  c.Heal();
  REQUIRE(c.RunUntil([&] { return c.StableLeader().has_value(); }, kElectionBound));
  CHECK(c.node(*c.StableLeader()).core->term() > term);  // the healthy leader was deposed
  RequireSafe(c);
}

TEST_CASE("a far-behind follower catches up with few round trips", "[raft][backtrack]") {
  // Node 1 leads term A and, cut off with its proposals, piles up a long suffix of
  // uncommitted entries; the others move on through several terms. When node 1 rejoins,
  // its conflicting suffix must be found in a few rejections, not one per entry.
  SimOptions o = Opts(3);
  o.base.max_msg_bytes = 1 << 20;
  SimCluster c(o);
  uint64_t leader = WaitLeader(c);
  Commit(c, leader, "base");
  std::set<uint64_t> rest;
  for (uint64_t id : c.ids()) {
    if (id != leader) rest.insert(id);
  }
  c.Partition({{leader}, rest});
  for (int i = 0; i < 100; ++i)
    REQUIRE(c.Propose(leader, "stale-" + std::to_string(i)).ok());
  c.RunTicks(1);
  // The majority goes through a few terms with a few entries each.
  for (int round = 0; round < 3; ++round) {
    uint64_t l = 0;
    REQUIRE(c.RunUntil(
        [&] {
          for (uint64_t id : rest) {
            if (c.node(id).core->is_leader()) l = id;
          }
          return l != 0;
        },
        kElectionBound));
    for (int i = 0; i < 5; ++i)
      REQUIRE(c.Propose(l, "new-" + std::to_string(round * 10 + i)).ok());
    c.RunTicks(5);
    c.Crash(l);  // force the next term
    c.Restart(l);
  }
  int rejections = 0;
  c.SetFilter([&](tug::raftpb::Message& m) {
    if (m.type() == tug::raftpb::MSG_APP_RESP && m.reject() && m.from() == leader) ++rejections;
    return false;
  });
  c.Heal();
  REQUIRE(c.RunUntil([&] { return c.StableLeader().has_value(); }, kElectionBound));
  uint64_t l = *c.StableLeader();
  Commit(c, l, "after-heal", 100);
  for (int i = 0; i < 100; ++i)
    CHECK_FALSE(Contains(c.node(leader).applied_data, "stale-" + std::to_string(i)));
  // One rejection per conflicting term at most (plus reordering slack), versus ~100 naively.
  CHECK(rejections <= 6);
  RequireSafe(c);
}

TEST_CASE("a follower behind the compacted log receives a snapshot", "[raft][snapshot]") {
  SimOptions o = Opts(3);
  o.snapshot_every = 10;
  SimCluster c(o);
  uint64_t leader = WaitLeader(c);
  uint64_t lagger = leader == 3 ? 2 : 3;
  c.Crash(lagger);
  for (int i = 0; i < 60; ++i)
    Commit(c, leader, "e" + std::to_string(i));
  REQUIRE(c.node(leader).core->log().snapshot_index() > 20);  // compacted past what it has
  int snaps = 0;
  c.SetFilter([&](tug::raftpb::Message& m) {
    if (m.type() == tug::raftpb::MSG_SNAP && m.to() == lagger) ++snaps;
    return false;
  });
  c.Restart(lagger);
  uint64_t last = Commit(c, leader, "after", 100);
  CHECK(snaps >= 1);
  CHECK(c.node(lagger).applied >= last);
  CHECK(c.node(lagger).hash == c.node(leader).hash);  // the same state, via the snapshot
  RequireSafe(c);
}

TEST_CASE("snapshot lost in transit is sent again", "[raft][snapshot]") {
  SimOptions o = Opts(3);
  o.snapshot_every = 5;
  SimCluster c(o);
  uint64_t leader = WaitLeader(c);
  uint64_t lagger = leader == 3 ? 2 : 3;
  c.Crash(lagger);
  for (int i = 0; i < 20; ++i)
    Commit(c, leader, "e" + std::to_string(i));
  int dropped = 0;
  c.SetFilter([&](tug::raftpb::Message& m) {
    if (m.type() == tug::raftpb::MSG_SNAP && dropped < 2) {
      ++dropped;
      return true;
    }
    return false;
  });
  c.Restart(lagger);
  REQUIRE(c.RunUntil([&] { return c.node(lagger).applied >= c.node(leader).applied; }, 200));
  CHECK(dropped == 2);
  RequireSafe(c);
}

TEST_CASE("figure 8: an entry of an older term is not committed by counting replicas",
          "[raft][figure8]") {
  // Raft paper, Figure 8. S1 leads term 2 and replicates entry 2 (term 2) to S2 only; S5
  // has entry 2 of term 3 (it led term 3 briefly). S1 leads again in term 4 and copies its
  // entry 2 to S3: entry 2 of term 2 is now on a majority (S1, S2, S3) but must NOT be
  // committed by counting, because S5 can still be elected (its log ends in term 3) and
  // overwrite it. Only S1's own term-4 entry, once on a majority, commits everything.
  SimOptions o = Opts(5);
  o.base.max_msg_bytes = 1;  // one entry per AppendEntries, to control what arrives
  o.initial[1] = Persisted(3, {Ent(1, 1, "x"), Ent(2, 2, "from-term-2")});
  o.initial[2] = Persisted(3, {Ent(1, 1, "x"), Ent(2, 2, "from-term-2")});
  o.initial[3] = Persisted(3, {Ent(1, 1, "x")});
  o.initial[4] = Persisted(3, {Ent(1, 1, "x")});
  o.initial[5] = Persisted(3, {Ent(1, 1, "x"), Ent(2, 3, "from-term-3")});
  SimCluster c(o);
  // S5 is cut off. Among S1..S4 only S1 or S2 can win (S3 and S4 lack entry 2, and three
  // votes are needed); the new leader's own entries (index 3 on) are held back.
  c.Partition({{1, 2, 3, 4}, {5}});
  c.SetFilter([](tug::raftpb::Message& m) {
    if (m.type() == tug::raftpb::MSG_APP && m.entries_size() > 0 && m.entries(0).index() >= 3) {
      m.clear_entries();  // delivered, but without the new leader's own entries
    }
    return false;
  });
  uint64_t l = 0;
  REQUIRE(c.RunUntil(
      [&] {
        l = c.node(1).core->is_leader() ? 1 : c.node(2).core->is_leader() ? 2 : 0;
        return l != 0;
      },
      kElectionBound));
  REQUIRE(c.node(l).core->term() >= 4);
  // The leader copies entry 2 (term 2) to S3 and S4.
  REQUIRE(c.RunUntil(
      [&] {
        return c.node(3).core->log().last_index() >= 2 && c.node(4).core->log().last_index() >= 2;
      },
      30));
  c.RunTicks(5);
  // Entry 2 is on four of five nodes, but it is of an older term: not committed.
  CHECK(c.node(l).core->log().committed() < 2);
  CHECK(c.MaxCommitted() < 2);
  RequireSafe(c);

  // Once an entry of the leader's own term reaches a majority, entry 2 commits with it.
  c.SetFilter(nullptr);
  REQUIRE(c.RunUntil([&] { return c.MaxCommitted() >= 3; }, 20));
  c.Heal();
  uint64_t leader = WaitLeader(c);
  Commit(c, leader, "final", 100);
  RequireSafe(c);
  for (uint64_t id : c.ids()) {
    CHECK(c.node(id).hash == c.node(leader).hash);
    CHECK(Contains(c.node(id).applied_data, "from-term-2"));
    CHECK_FALSE(Contains(c.node(id).applied_data, "from-term-3"));
  }
}

TEST_CASE("figure 8: the older-term entry can be overwritten when no newer entry commits",
          "[raft][figure8]") {
  // The other branch of Figure 8: the leader holding entry 2 of term 2 crashes before any
  // entry of its own term is replicated; S5 (whose log ends in term 3) is elected and
  // replaces entry 2 everywhere. Safe only because nobody committed the term-2 entry.
  SimOptions o = Opts(5);
  o.initial[1] = Persisted(3, {Ent(1, 1, "x"), Ent(2, 2, "from-term-2")});
  o.initial[2] = Persisted(3, {Ent(1, 1, "x"), Ent(2, 2, "from-term-2")});
  o.initial[3] = Persisted(3, {Ent(1, 1, "x"), Ent(2, 2, "from-term-2")});
  o.initial[4] = Persisted(3, {Ent(1, 1, "x")});
  o.initial[5] = Persisted(3, {Ent(1, 1, "x"), Ent(2, 3, "from-term-3")});
  SimCluster c(o);
  // Only S5, S4 and one of the holders of entry 2 can talk: S5's log is the most up to
  // date among them, so S5 wins and entry 2 of term 2 is overwritten on S3 as well.
  c.Crash(1);
  c.Crash(2);
  REQUIRE(c.RunUntil([&] { return c.node(5).core->is_leader(); }, kElectionBound));
  Commit(c, 5, "by-s5", 50);
  c.Restart(1);
  c.Restart(2);
  uint64_t leader = WaitLeader(c);
  Commit(c, leader, "final", 100);
  RequireSafe(c);
  for (uint64_t id : c.ids()) {
    CHECK(Contains(c.node(id).applied_data, "from-term-3"));
    CHECK_FALSE(Contains(c.node(id).applied_data, "from-term-2"));
  }
}

TEST_CASE("repeated crashes and restarts on an unreliable network", "[raft][chaos]") {
  for (uint64_t seed : {11u, 12u, 13u}) {
    SimOptions o = Opts(5, seed);
    o.drop = 0.1;
    o.dup = 0.05;
    o.max_delay = 25;
    o.snapshot_every = 8;
    o.crash_mid_ready = 0.01;
    SimCluster c(o);
    std::mt19937_64 rng(seed);
    int accepted = 0;
    for (int round = 0; round < 40; ++round) {
      uint64_t victim = 1 + rng() % 5;
      c.Crash(victim);
      for (int i = 0; i < 10; ++i) {
        uint64_t id = 1 + rng() % 5;
        if (c.IsUp(id) && c.Propose(id, "r" + std::to_string(round) + "-" + std::to_string(i)).ok())
          ++accepted;
        c.RunTicks(1);
      }
      for (uint64_t id : c.ids())
        c.Restart(id);
      c.RunTicks(5);
      RequireSafe(c);
    }
    CHECK(accepted > 0);
    c.SetLossy(0, 0, 1, 3);
    c.SetCrashMidReady(0);
    uint64_t l = WaitLeader(c);
    Commit(c, l, "final", 400);
    RequireSafe(c);
  }
}

TEST_CASE("ReadIndex: reads see every write committed before them", "[raft][read]") {
  SimCluster c(Opts(3));
  uint64_t leader = WaitLeader(c);
  uint64_t idx = Commit(c, leader, "w1");
  uint64_t follower = leader == 1 ? 2 : 1;
  REQUIRE(c.ReadIndex(follower, "read-1").ok());
  REQUIRE(c.ReadIndex(leader, "read-2").ok());
  bool answered = c.RunUntil(
      [&] { return !c.node(follower).reads.empty() && !c.node(leader).reads.empty(); }, 10);
  RequireSafe(c);
  REQUIRE(answered);
  CHECK(c.node(follower).reads[0].context == "read-1");
  CHECK(c.node(follower).reads[0].index >= idx);
  CHECK(c.node(leader).reads[0].index >= idx);
  RequireSafe(c);  // the checker also verifies every read against what was committed
}

TEST_CASE("ReadIndex: a deposed leader in a minority cannot serve a read", "[raft][read]") {
  SimCluster c(Opts(5));
  uint64_t leader = WaitLeader(c);
  std::set<uint64_t> rest;
  for (uint64_t id : c.ids()) {
    if (id != leader) rest.insert(id);
  }
  c.Partition({{leader}, rest});
  // Before check-quorum deposes it, it still believes it leads and accepts the request...
  REQUIRE(c.ReadIndex(leader, "stale-read").ok());
  c.RunTicks(40);
  // ...but no quorum ever confirms it, so it never answers.
  CHECK(c.node(leader).reads.empty());
  RequireSafe(c);
}

TEST_CASE("leadership transfer hands over to a caught-up follower", "[raft][transfer]") {
  SimCluster c(Opts(3));
  uint64_t leader = WaitLeader(c);
  uint64_t term = c.node(leader).core->term();
  uint64_t target = leader == 3 ? 1 : leader + 1;
  // Let the target fall behind first, so the leader must bring it up to date.
  c.Crash(target);
  for (int i = 0; i < 10; ++i)
    Commit(c, leader, "t" + std::to_string(i));
  c.Restart(target);
  REQUIRE(c.TransferLeadership(leader, target).ok());
  // Proposals are refused while the transfer is underway.
  CHECK_FALSE(c.Propose(leader, "during").ok());
  REQUIRE(c.RunUntil([&] { return c.StableLeader() == target; }, 30));
  CHECK(c.node(target).core->term() == term + 1);
  Commit(c, target, "after-transfer");
  RequireSafe(c);
}

TEST_CASE("leadership transfer to an unreachable node is abandoned", "[raft][transfer]") {
  SimCluster c(Opts(3));
  uint64_t leader = WaitLeader(c);
  uint64_t target = leader == 3 ? 1 : leader + 1;
  c.Crash(target);
  REQUIRE(c.TransferLeadership(leader, target).ok());
  CHECK_FALSE(c.Propose(leader, "during").ok());
  // After an election timeout the leader gives up and serves again, same term.
  REQUIRE(c.RunUntil([&] { return c.Propose(leader, "after").ok(); }, 12));
  CHECK(c.node(leader).core->is_leader());
  RequireSafe(c);
}

TEST_CASE("a node restarted on its disk keeps term, vote and log", "[raft][persistence]") {
  SimCluster c(Opts(3));
  uint64_t leader = WaitLeader(c);
  for (int i = 0; i < 5; ++i)
    Commit(c, leader, "p" + std::to_string(i));
  uint64_t follower = leader == 1 ? 2 : 1;
  auto before = c.node(follower).core->status();
  c.Crash(follower);
  c.Restart(follower);
  auto after = c.node(follower).core->status();
  CHECK(after.term == before.term);
  CHECK(after.vote == before.vote);
  CHECK(after.last_index == before.last_index);
  // It re-applies its committed log and ends in the same state as the others.
  Commit(c, leader, "more");
  CHECK(c.node(follower).hash == c.node(leader).hash);
  RequireSafe(c);
}
