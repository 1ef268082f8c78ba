// A Store in one process, without Raft, disk or network: a write is applied to a KvStore on
// the io thread's next turn and answered after it, as a replicated write would be, and
// it is always the caught-up leader of term 1 unless a test says otherwise. For API server and
// controller tests that need no port and no process; the three-member tests keep what only a
// real cluster can show.
#pragma once

#include <boost/asio/io_context.hpp>

#include "raftstore/store.h"

namespace tug::store {

class MemoryStore : public Store {
 public:
  explicit MemoryStore(boost::asio::io_context& io, size_t history_limit = 100000)
      : io_(io), kv_(history_limit) {}

  void Propose(storepb::Request r, std::function<void(Result<storepb::Response>)> done) override;
  void WaitLinearizable(std::function<void(Status)> done) override;
  void Range(storepb::RangeRequest r,
             std::function<void(Result<storepb::RangeResponse>)> done) override;

  const KvStore& kv() const override { return kv_; }
  KvStore& kv() override { return kv_; }

  bool is_leader() const override { return leader_; }
  uint64_t term() const override { return term_; }
  bool LeaderCaughtUp() const override { return leader_; }

  // For tests: lose leadership (writes and linearizable reads then fail Unavailable, as on a
  // member without a quorum), or win it again in a new term.
  void SetLeader(bool leader) {
    if (leader && !leader_) ++term_;
    leader_ = leader;
  }
  // How many writes were proposed.
  uint64_t proposals() const { return proposals_; }

 private:
  boost::asio::io_context& io_;
  KvStore kv_;
  bool leader_ = true;
  uint64_t term_ = 1;
  uint64_t next_id_ = 0;
  uint64_t proposals_ = 0;
};

}  // namespace tug::store
