// Proposals committed per second by a three-node cluster of Raft cores connected in memory,
// with no I/O at all: an upper bound on what consensus costs, so we know the core is never
// the bottleneck of the store. Prints figures; asserts nothing.
//
//   raft_bench [--seconds S] [--batch N] [--size BYTES]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "raftstore/raft.h"

using tug::raft::RaftCore;

namespace {

struct Cluster {
  std::map<uint64_t, std::unique_ptr<RaftCore>> nodes;
  std::deque<tug::raftpb::Message> net;
  uint64_t applied_on_leader = 0;

  explicit Cluster(int n) {
    std::vector<uint64_t> ids;
    for (int i = 1; i <= n; ++i)
      ids.push_back(static_cast<uint64_t>(i));
    for (uint64_t id : ids) {
      tug::raft::Config c;
      c.id = id;
      c.voters = ids;
      c.seed = id;
      nodes[id] = std::move(RaftCore::Create(c, {})).value();
    }
  }

  // Handles every Ready and delivers every message until the cluster is quiet.
  void Pump() {
    bool busy = true;
    while (busy) {
      busy = false;
      for (auto& [id, core] : nodes) {
        while (core->HasReady()) {
          busy = true;
          tug::raft::Ready rd = core->GetReady();
          for (auto& m : rd.messages)
            net.push_back(std::move(m));
          if (core->is_leader()) applied_on_leader += rd.committed_entries.size();
          core->Advance(rd);
        }
      }
      while (!net.empty()) {
        busy = true;
        tug::raftpb::Message m = std::move(net.front());
        net.pop_front();
        (void)nodes[m.to()]->Step(m);
      }
    }
  }

  RaftCore* Leader() {
    for (auto& [id, core] : nodes) {
      if (core->is_leader()) return core.get();
    }
    return nullptr;
  }
};

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  int batch = 64;
  size_t size = 256;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--seconds") seconds = std::atof(argv[i + 1]);
    if (a == "--batch") batch = std::atoi(argv[i + 1]);
    if (a == "--size") size = static_cast<size_t>(std::atoll(argv[i + 1]));
  }
  std::printf("raft_bench: 3 in-memory cores, no I/O, %zu-byte proposals\n", size);
  std::printf("%8s %16s %14s\n", "batch", "commits/s", "us/commit");
  for (int b : {1, batch}) {
    Cluster c(3);
    while (c.Leader() == nullptr) {
      for (auto& [id, core] : c.nodes)
        core->Tick();
      c.Pump();
    }
    RaftCore* leader = c.Leader();
    c.Pump();
    uint64_t start_applied = c.applied_on_leader;
    std::string payload(size, 'x');
    auto t0 = std::chrono::steady_clock::now();
    double elapsed = 0;
    uint64_t rounds = 0;
    while (elapsed < seconds) {
      for (int i = 0; i < b; ++i)
        (void)leader->Propose(payload);
      c.Pump();
      if (++rounds % 64 == 0) {
        // Keep the in-memory log bounded, as the store's snapshots will.
        uint64_t applied = leader->log().applied();
        for (auto& [id, core] : c.nodes)
          (void)core->Compact(std::min(applied, core->log().applied()), "");
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      }
    }
    double commits = static_cast<double>(c.applied_on_leader - start_applied);
    std::printf("%8d %16.0f %14.2f\n", b, commits / elapsed, elapsed * 1e6 / commits);
  }
  return 0;
}
