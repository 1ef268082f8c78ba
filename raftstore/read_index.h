// The leader's bookkeeping for ReadIndex (Raft thesis §6.4): a read request remembers the
// commit index at the time it arrived, rides on the next heartbeat (its context), and is
// answered once a quorum has acknowledged that heartbeat, which proves this node was still
// the leader when the read arrived. Requests are answered in arrival order: an
// acknowledgement of a later request also confirms every earlier one.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace tug::raft {

struct PendingRead {
  uint64_t from = 0;  // the node that asked (the leader itself or a follower)
  std::string context;
  uint64_t index = 0;  // commit index when it arrived: the read waits for apply >= index
  std::set<uint64_t> acks;
};

class ReadIndexQueue {
 public:
  // Adds a request; a context already queued is ignored (contexts must be unique).
  void Add(uint64_t from, std::string context, uint64_t index);
  // Records a heartbeat acknowledgement for `context`; returns the number of distinct
  // acknowledgers (0 if the context is unknown).
  size_t Ack(uint64_t from, const std::string& context);
  // Removes and returns every request up to and including `context`, in order.
  std::vector<PendingRead> ReleaseThrough(const std::string& context);
  // The context of the newest queued request, or "" when none waits.
  std::string LastContext() const { return order_.empty() ? std::string() : order_.back(); }
  bool Empty() const { return order_.empty(); }
  void Clear() {
    order_.clear();
    pending_.clear();
  }

 private:
  std::deque<std::string> order_;
  std::map<std::string, PendingRead> pending_;
};

}  // namespace tug::raft
