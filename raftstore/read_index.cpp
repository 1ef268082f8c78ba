#include "raftstore/read_index.h"

namespace tug::raft {

void ReadIndexQueue::Add(uint64_t from, std::string context, uint64_t index) {
  if (pending_.count(context)) return;
  order_.push_back(context);
  PendingRead r{from, context, index, {}};
  pending_.emplace(std::move(context), std::move(r));
}

size_t ReadIndexQueue::Ack(uint64_t from, const std::string& context) {
  auto it = pending_.find(context);
  if (it == pending_.end()) return 0;
  it->second.acks.insert(from);
  return it->second.acks.size();
}

std::vector<PendingRead> ReadIndexQueue::ReleaseThrough(const std::string& context) {
  std::vector<PendingRead> out;
  if (!pending_.count(context)) return out;
  while (!order_.empty()) {
    std::string ctx = std::move(order_.front());
    order_.pop_front();
    auto node = pending_.extract(ctx);
    out.push_back(std::move(node.mapped()));
    if (ctx == context) break;
  }
  return out;
}

}  // namespace tug::raft
