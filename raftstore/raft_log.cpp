#include "raftstore/raft_log.h"

#include <algorithm>
#include <string>

#include "base/check.h"

namespace tug::raft {

void RaftLog::RestorePersisted(uint64_t snap_index, uint64_t snap_term,
                               std::vector<raftpb::Entry> entries, uint64_t commit) {
  offset_ = snap_index;
  offset_term_ = snap_term;
  entries_.assign(std::make_move_iterator(entries.begin()), std::make_move_iterator(entries.end()));
  stable_ = last_index();
  applied_ = applying_ = snap_index;
  committed_ = std::clamp(commit, snap_index, last_index());
}

uint64_t RaftLog::last_term() const {
  return entries_.empty() ? offset_term_ : entries_.back().term();
}

std::optional<uint64_t> RaftLog::Term(uint64_t i) const {
  if (i == offset_) return offset_term_;
  if (i < offset_ || i > last_index()) return std::nullopt;
  return At(i).term();
}

bool RaftLog::MatchTerm(uint64_t i, uint64_t term) const {
  auto t = Term(i);
  return t && *t == term;
}

bool RaftLog::IsUpToDate(uint64_t last_index, uint64_t last_term) const {
  return last_term > this->last_term() ||
         (last_term == this->last_term() && last_index >= this->last_index());
}

std::optional<uint64_t> RaftLog::MaybeAppend(uint64_t index, uint64_t log_term, uint64_t commit,
                                             const std::vector<raftpb::Entry>& ents) {
  if (!MatchTerm(index, log_term)) return std::nullopt;
  uint64_t last_new = index + ents.size();
  // Skip the prefix we already hold: truncating it could drop entries a newer message
  // (delivered earlier, out of order) appended after it.
  size_t k = 0;
  for (; k < ents.size(); ++k) {
    const auto& e = ents[k];
    if (e.index() <= offset_) continue;  // covered by our snapshot, hence committed
    if (!MatchTerm(e.index(), e.term())) break;
  }
  if (k < ents.size()) {
    std::vector<raftpb::Entry> rest(ents.begin() + static_cast<std::ptrdiff_t>(k), ents.end());
    Append(rest);
  }
  CommitTo(std::min(commit, last_new));
  return last_new;
}

uint64_t RaftLog::Append(const std::vector<raftpb::Entry>& ents) {
  if (ents.empty()) return last_index();
  uint64_t first = ents.front().index();
  // The callers validate messages before they get here; reaching this means a bug in the
  // core, and truncating committed entries would lose acknowledged writes.
  TUG_CHECK(first > committed_ && first <= last_index() + 1,
            "raft log: append at " + std::to_string(first) + " (committed " +
                std::to_string(committed_) + ", last " + std::to_string(last_index()) +
                ") would truncate committed entries or leave a gap");
  entries_.resize(first - offset_ - 1);
  stable_ = std::min(stable_, first - 1);
  for (const auto& e : ents)
    entries_.push_back(e);
  return last_index();
}

uint64_t RaftLog::FindConflictByTerm(uint64_t index, uint64_t term) const {
  index = std::min(index, last_index());
  while (index > offset_) {
    if (At(index).term() <= term) return index;
    --index;
  }
  return offset_;
}

std::vector<raftpb::Entry> RaftLog::Slice(uint64_t lo, uint64_t hi, uint64_t max_bytes) const {
  std::vector<raftpb::Entry> out;
  hi = std::min(hi, last_index() + 1);
  if (lo <= offset_) lo = offset_ + 1;
  uint64_t bytes = 0;
  for (uint64_t i = lo; i < hi; ++i) {
    const auto& e = At(i);
    bytes += e.data().size() + 16;
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(e);
  }
  return out;
}

bool RaftLog::MaybeCommit(uint64_t index, uint64_t term) {
  if (index > committed_ && MatchTerm(index, term)) {
    CommitTo(index);
    return true;
  }
  return false;
}

void RaftLog::CommitTo(uint64_t index) {
  index = std::min(index, last_index());
  if (index > committed_) committed_ = index;
}

std::vector<raftpb::Entry> RaftLog::UnstableEntries() const {
  std::vector<raftpb::Entry> out;
  for (uint64_t i = std::max(stable_, offset_) + 1; i <= last_index(); ++i)
    out.push_back(At(i));
  return out;
}

void RaftLog::StableTo(uint64_t index, uint64_t term) {
  if (index > stable_ && MatchTerm(index, term)) stable_ = index;
}

std::vector<raftpb::Entry> RaftLog::NextCommitted(uint64_t max_bytes) const {
  uint64_t lo = std::max(applying_, offset_) + 1;
  return Slice(lo, committed_ + 1, max_bytes);
}

void RaftLog::ApplyingTo(uint64_t index) {
  applying_ = std::max(applying_, std::min(index, committed_));
}

void RaftLog::AppliedTo(uint64_t index) {
  applied_ = std::max(applied_, std::min(index, committed_));
}

void RaftLog::RestoreSnapshot(uint64_t index, uint64_t term) {
  offset_ = index;
  offset_term_ = term;
  entries_.clear();
  committed_ = index;
  applying_ = index;
  // The caller discards its durable log when it installs the snapshot, so nothing after
  // `index` is durable; `applied_` moves when the caller reports the snapshot installed.
  stable_ = index;
}

void RaftLog::Compact(uint64_t index) {
  if (index <= offset_ || index > applied_) return;
  auto term = Term(index);
  TUG_CHECK(term.has_value(), "raft log: no term for compaction index " + std::to_string(index));
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(index - offset_));
  offset_ = index;
  offset_term_ = *term;
}

}  // namespace tug::raft
