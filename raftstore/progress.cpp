#include "raftstore/progress.h"

#include <algorithm>

namespace tug::raft {

const char* ToString(ProgressState s) {
  switch (s) {
    case ProgressState::kProbe:
      return "probe";
    case ProgressState::kReplicate:
      return "replicate";
    case ProgressState::kSnapshot:
      return "snapshot";
  }
  return "?";
}

void Progress::BecomeProbe() {
  // After a snapshot the follower most likely holds it: probe right after it.
  if (state == ProgressState::kSnapshot) {
    next = std::max(match + 1, pending_snapshot + 1);
  } else {
    next = match + 1;
  }
  state = ProgressState::kProbe;
  probe_sent = false;
  pending_snapshot = 0;
  snapshot_ticks = 0;
  inflights.Reset();
}

void Progress::BecomeReplicate() {
  state = ProgressState::kReplicate;
  next = match + 1;
  probe_sent = false;
  pending_snapshot = 0;
  inflights.Reset();
}

void Progress::BecomeSnapshot(uint64_t snapshot_index) {
  state = ProgressState::kSnapshot;
  pending_snapshot = snapshot_index;
  snapshot_ticks = 0;
  probe_sent = false;
  inflights.Reset();
}

bool Progress::MaybeUpdate(uint64_t index) {
  bool updated = false;
  if (match < index) {
    match = index;
    updated = true;
    probe_sent = false;
  }
  next = std::max(next, index + 1);
  return updated;
}

bool Progress::MaybeDecrTo(uint64_t rejected, uint64_t match_hint) {
  if (state == ProgressState::kReplicate) {
    // A rejection of something already matched is a stale, reordered message.
    if (rejected <= match) return false;
    next = match + 1;
    return true;
  }
  // In Probe only the answer to the one outstanding message counts.
  if (next == 0 || next - 1 != rejected) return false;
  next = std::max(std::min(rejected, match_hint + 1), match + 1);
  probe_sent = false;
  return true;
}

void Progress::SentEntries(uint64_t last, bool had_entries) {
  switch (state) {
    case ProgressState::kReplicate:
      if (had_entries) {
        next = last + 1;
        inflights.Add(last);
      }
      break;
    case ProgressState::kProbe:
      probe_sent = true;
      break;
    case ProgressState::kSnapshot:
      break;
  }
}

bool Progress::IsPaused() const {
  switch (state) {
    case ProgressState::kProbe:
      return probe_sent;
    case ProgressState::kReplicate:
      return inflights.Full();
    case ProgressState::kSnapshot:
      return true;
  }
  return true;
}

void ProgressTracker::SetVoters(const std::vector<uint64_t>& voters) {
  voters_ = std::set<uint64_t>(voters.begin(), voters.end());
  for (auto it = progress_.begin(); it != progress_.end();) {
    it = voters_.count(it->first) ? std::next(it) : progress_.erase(it);
  }
  for (uint64_t id : voters_)
    progress_.try_emplace(id, max_inflight_);
}

Progress* ProgressTracker::Get(uint64_t id) {
  auto it = progress_.find(id);
  return it == progress_.end() ? nullptr : &it->second;
}

void ProgressTracker::ResetProgress(uint64_t last_index) {
  for (auto& [id, pr] : progress_) {
    pr = Progress(max_inflight_);
    pr.next = last_index + 1;
  }
}

uint64_t ProgressTracker::CommittedIndex() const {
  if (voters_.empty()) return 0;
  std::vector<uint64_t> matches;
  matches.reserve(voters_.size());
  for (uint64_t id : voters_)
    matches.push_back(progress_.at(id).match);
  std::sort(matches.begin(), matches.end(), std::greater<>());
  return matches[Quorum() - 1];
}

bool ProgressTracker::QuorumActive(uint64_t self, int64_t now, int64_t window) const {
  size_t active = 0;
  for (uint64_t id : voters_) {
    if (id == self || now - progress_.at(id).last_active_tick < window) ++active;
  }
  return active >= Quorum();
}

void ProgressTracker::RecordVote(uint64_t id, bool granted) {
  if (voters_.count(id)) votes_.try_emplace(id, granted);
}

ProgressTracker::VoteResult ProgressTracker::TallyVotes() const {
  size_t granted = 0, rejected = 0;
  for (const auto& [id, g] : votes_)
    (g ? granted : rejected)++;
  if (granted >= Quorum()) return VoteResult::kWon;
  if (rejected > voters_.size() - Quorum()) return VoteResult::kLost;
  return VoteResult::kPending;
}

}  // namespace tug::raft
