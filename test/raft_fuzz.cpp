// Randomized test of the Raft core: every seed builds a cluster with its own faults (message
// loss, duplication, reordering, partitions, crashes, crashes in the middle of persisting and
// sending, compaction and snapshots, leadership transfers, reads) and runs it under the
// safety checker; then heals everything and demands liveness: a stable leader and a new
// entry applied everywhere within a bounded number of ticks.
//
//   raft_fuzz --seeds 1000            # seeds 1..1000 (what CI runs)
//   raft_fuzz --first 5000 --seeds 100000
//   raft_fuzz --seed 1234 --verbose   # replay one seed with a full trace
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "test/sim/sim_cluster.h"

namespace {

constexpr int kChaosTicks = 1000;
// After healing: ticks allowed to elect a leader all follow, then to apply a new entry
// everywhere. Election timeouts are 10..19 ticks; pre-vote rounds can split a few times.
constexpr int kElectTicks = 150;
constexpr int kCommitTicks = 60;
constexpr int kCatchUpTicks = 600;

struct Outcome {
  bool ok = true;
  std::string why;
  std::string state;
};

Outcome RunSeed(uint64_t seed, bool verbose) {
  std::mt19937_64 rng(seed);
  auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };

  // One seed in three is a "churn" run (after MIT 6.824's Figure8Unreliable): leaders are
  // crashed or cut off after a few ticks, right after taking proposals, so that many short
  // terms leave divergent log suffixes behind; that is what exposes commit-rule and
  // election-restriction bugs. The others mix faults more evenly.
  const bool churn = chance(0.33);
  tug::sim::SimOptions o;
  o.seed = seed;
  o.nodes = chance(0.5) ? 3 : 5;
  o.drop = chance(0.3) ? 0.0 : std::uniform_real_distribution<double>(0, 0.2)(rng);
  o.dup = chance(0.5) ? 0.0 : std::uniform_real_distribution<double>(0, 0.1)(rng);
  o.min_delay = 1;
  o.max_delay = pick(churn ? 10 : 1, 40);  // up to 4 ticks: heavy reordering
  o.snapshot_every = chance(0.5) ? 0 : static_cast<uint64_t>(pick(3, 40));
  o.snapshot_retain = chance(0.5) ? 0 : static_cast<uint64_t>(pick(1, 10));
  o.crash_mid_ready = chance(0.3) ? 0.005 : 0.0;
  o.base.election_ticks = 10;
  o.base.heartbeat_ticks = 1;
  o.base.max_inflight_msgs = churn ? 1 : static_cast<size_t>(pick(1, 8));
  o.base.max_msg_bytes = churn || chance(0.5) ? 1 : 1 << 20;  // 1: one entry per message
  o.verbose = verbose;
  tug::sim::SimCluster c(o);
  auto ids = c.ids();
  auto any = [&]() { return ids[static_cast<size_t>(pick(0, static_cast<int>(ids.size()) - 1))]; };

  const double crash_p = std::vector<double>{0.002, 0.01, 0.03}[static_cast<size_t>(pick(0, 2))];
  const double leader_fail_p =
      churn ? 0.1 : std::vector<double>{0.0, 0.02, 0.05}[static_cast<size_t>(pick(0, 2))];
  const double partition_p = std::vector<double>{0.0, 0.01, 0.03}[static_cast<size_t>(pick(0, 2))];
  const double restart_p = churn ? 0.1 : chance(0.5) ? 0.02 : 0.08;
  const double heal_p = churn ? 0.1 : chance(0.5) ? 0.02 : 0.06;
  int proposals = 0, reads = 0;
  for (int t = 0; t < kChaosTicks && !c.violation(); ++t) {
    if (chance(crash_p)) c.Crash(any());
    if (chance(leader_fail_p)) {
      if (auto l = c.Leader()) {
        if (chance(0.5)) {
          c.Crash(*l);
        } else {
          std::set<uint64_t> rest;
          for (uint64_t id : ids) {
            if (id != *l) rest.insert(id);
          }
          c.Partition({{*l}, rest});
        }
      }
    }
    if (chance(restart_p)) c.Restart(any());
    if (chance(partition_p)) {
      std::vector<std::set<uint64_t>> groups(2);
      auto l = c.Leader();
      if (l && chance(0.5)) {
        // The leader with a random minority on one side, the rest on the other.
        groups[0].insert(*l);
        for (uint64_t id : ids) {
          if (id == *l) continue;
          bool join = groups[0].size() < ids.size() / 2 && chance(0.5);
          groups[join ? 0 : 1].insert(id);
        }
      } else {
        for (uint64_t id : ids)
          groups[static_cast<size_t>(pick(0, 1))].insert(id);
      }
      c.Partition(groups);
    }
    if (chance(heal_p)) c.Heal();
    int props = pick(0, 3);
    for (int i = 0; i < props; ++i) {
      // Churn runs feed the leader directly, so its new entries pile up before it fails.
      auto l = c.Leader();
      uint64_t id = churn && l ? *l : any();
      if (c.IsUp(id))
        (void)c.Propose(id, "s" + std::to_string(seed) + "-" + std::to_string(++proposals));
    }
    if (chance(0.1)) {
      uint64_t id = any();
      if (c.IsUp(id))
        (void)c.ReadIndex(id, "r" + std::to_string(id) + "-" + std::to_string(++reads));
    }
    if (chance(0.01)) {
      if (auto l = c.Leader()) (void)c.TransferLeadership(*l, any());
    }
    c.RunTicks(1);
  }
  if (c.violation()) return {false, c.violation()->what, c.Describe()};

  // Heal: everything up, a reliable network. Liveness is owed from here on.
  c.Heal();
  c.SetFilter(nullptr);
  c.SetLossy(0, 0, 1, 3);
  c.SetCrashMidReady(0);
  for (uint64_t id : ids)
    c.Restart(id);
  if (!c.RunUntil([&] { return c.StableLeader().has_value(); }, kElectTicks)) {
    return {false,
            c.violation() ? c.violation()->what
                          : "liveness: no stable leader " + std::to_string(kElectTicks) +
                                " ticks after healing",
            c.Describe()};
  }
  // The leader may still be handing leadership over (a transfer started before healing):
  // proposals are refused until that ends, so keep offering the entry.
  // The final entry must commit within a bound. A leadership change right after healing (a
  // transfer that was already underway) may discard it, as it may any uncommitted entry:
  // then it is proposed again, as a client would, at most a few times.
  uint64_t index = 0;
  bool committed = false;
  for (int attempt = 0; attempt < 3 && !committed; ++attempt) {
    uint64_t term = 0;
    index = 0;
    auto proposed = [&] {
      if (auto l = c.StableLeader()) {
        if (auto p = c.Propose(*l, "final"); p && p->index != 0) {
          index = p->index;
          term = p->term;
        }
      }
      return index != 0;
    };
    if (!c.RunUntil(proposed, kElectTicks)) {
      return {false,
              c.violation() ? c.violation()->what
                            : "liveness: no leader accepted a proposal after healing",
              c.Describe()};
    }
    // Entries queue behind the leader's uncommitted backlog; with one entry per message and a
    // window of one that is a round trip (under a tick here) per entry.
    uint64_t backlog = c.node(*c.Leader()).core->log().last_index() - c.MaxCommitted();
    int commit_ticks = kCommitTicks + static_cast<int>(backlog);
    auto leader_changed = [&] {
      auto l = c.Leader();
      return !l || c.node(*l).core->term() != term;
    };
    c.RunUntil([&] { return c.IsCommitted(index, term) || leader_changed(); }, commit_ticks);
    committed = c.IsCommitted(index, term);
    if (!committed && !leader_changed()) {
      return {false,
              c.violation() ? c.violation()->what
                            : "liveness: entry " + std::to_string(index) + " not committed " +
                                  std::to_string(commit_ticks) +
                                  " ticks after it was proposed to a stable leader",
              c.Describe()};
    }
  }
  if (!committed) {
    return {
        false,
        c.violation() ? c.violation()->what : "liveness: leadership kept changing after healing",
        c.Describe()};
  }
  // Everything committed reaches every node; a far-behind follower may need a while (with
  // one entry per message and a window of one, a round trip per entry).
  if (!c.RunUntil([&] { return c.AllApplied(c.MaxCommitted()); }, kCatchUpTicks)) {
    return {false,
            c.violation() ? c.violation()->what
                          : "liveness: committed entries not applied everywhere " +
                                std::to_string(kCatchUpTicks) + " ticks after healing",
            c.Describe()};
  }
  c.CheckLogs();
  if (c.violation()) return {false, c.violation()->what, c.Describe()};
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t first = 1, count = 1000;
  bool verbose = false;
  uint64_t max_failures = 5;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> uint64_t {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "raft_fuzz: %s needs a number\n", a.c_str());
        std::exit(2);
      }
      return std::strtoull(argv[++i], nullptr, 10);
    };
    if (a == "--seeds") {
      count = next();
    } else if (a == "--first") {
      first = next();
    } else if (a == "--seed") {
      first = next();
      count = 1;
    } else if (a == "--max-failures") {
      max_failures = next();
    } else if (a == "--verbose") {
      verbose = true;
    } else {
      std::fprintf(
          stderr,
          "usage: raft_fuzz [--seeds N] [--first S] [--max-failures N] | --seed S [--verbose]\n"
          "unknown argument: %s\n",
          a.c_str());
      return 2;
    }
  }
  auto start = std::chrono::steady_clock::now();
  uint64_t failed = 0;
  for (uint64_t s = first; s < first + count; ++s) {
    Outcome out = RunSeed(s, verbose);
    if (!out.ok) {
      ++failed;
      std::printf("seed %llu FAILED: %s\n%s  replay: %s --seed %llu --verbose\n",
                  static_cast<unsigned long long>(s), out.why.c_str(), out.state.c_str(), argv[0],
                  static_cast<unsigned long long>(s));
      if (failed >= max_failures) break;
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string verdict = failed ? std::to_string(failed) + " FAILED" : "all passed";
  std::printf("raft_fuzz: %llu seeds from %llu in %.1fs: %s\n",
              static_cast<unsigned long long>(count), static_cast<unsigned long long>(first), secs,
              verdict.c_str());
  return failed ? 1 : 0;
}
