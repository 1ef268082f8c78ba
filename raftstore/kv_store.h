// The replicated key-value state machine: keys to values with etcd's revision semantics,
// deterministic, no I/O (every member applies the same committed requests in the same order
// and so holds the same state).
//
// - One store-wide `revision` that every write that changes something increases by one
//   (a transaction's writes share one revision). A key carries `create_revision`,
//   `mod_revision` and `version` (writes since it was created; deletion resets it).
// - Ranges by key, by prefix ([key, range_end)) or from a key on (range_end "\0"), now or as
//   of an older revision still in the history.
// - Transactions compare `version`, `create_revision`, `mod_revision` or `value` and then run
//   one list of operations or the other: what optimistic concurrency needs.
// - A bounded history of events serves watches from a given revision; older revisions are
//   "compacted" and asking for them is an error that says so.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "raftstore/store.pb.h"

namespace tug::store {

// Errors that callers map to distinct answers (HTTP 410 for kCompacted, and so on).
enum class KvError { kNone, kCompacted, kFutureRevision, kInvalid };

struct RangeResult {
  KvError error = KvError::kNone;
  std::string message;
  storepb::RangeResponse response;
};

// The answer of a range read as a Result: Compacted or Invalid with the store's message.
inline Result<storepb::RangeResponse> ToResult(RangeResult r) {
  if (r.error == KvError::kCompacted) return Status::Compacted(std::move(r.message));
  if (r.error != KvError::kNone) return Status::Invalid(std::move(r.message));
  return std::move(r.response);
}

struct EventsResult {
  KvError error = KvError::kNone;
  std::string message;
  std::vector<storepb::Event> events;  // in revision order
};

class KvStore {
 public:
  explicit KvStore(size_t history_limit = 100000, size_t dedupe_limit = 100000)
      : history_limit_(history_limit), dedupe_limit_(dedupe_limit) {}

  // Applies a committed write. Deterministic: the same request on the same state gives the
  // same state and answer on every member. A request whose id (non-zero) was among the last
  // `dedupe_limit` applied is not applied again: its first answer is returned. That makes
  // proposing a request again after a leader change safe (exactly-once application), as long
  // as the first copy was applied fewer than `dedupe_limit` requests before the second.
  storepb::Response Apply(const storepb::Request& r);

  // Reads. `revision` 0 means now; an older revision is served from the history.
  RangeResult Range(const storepb::RangeRequest& r) const;

  // Events with revision >= `from` for keys in [key, range_end) (range_end as in Range),
  // or an error if `from` is older than the history holds.
  EventsResult EventsSince(int64_t from, const std::string& key,
                           const std::string& range_end) const;

  int64_t revision() const { return revision_; }
  // The newest revision no longer served from history (watch/read from <= it fails).
  int64_t compacted_revision() const { return compacted_; }
  size_t size() const { return kvs_.size(); }

  // Called after every write that changed something, with that revision's events.
  void set_observer(std::function<void(int64_t, const std::vector<storepb::Event>&)> f) {
    observer_ = std::move(f);
  }

  // Called when Restore replaced the whole state (a snapshot from the leader): watchers
  // cannot be told what changed and must start over.
  void set_reset_observer(std::function<void()> f) { reset_observer_ = std::move(f); }

  // The cluster's members, kept here (in the snapshot too) as etcd keeps its member records
  // beside the keys: changed only by applied configuration entries (raftstore/members.h), in
  // log order on every member, so every member agrees on them at every index. Not keys: no
  // range, watch or revision sees them.
  const std::map<uint64_t, storepb::MemberRecord>& members() const { return members_; }
  uint64_t cluster_id() const { return cluster_id_; }
  void SetMembers(std::map<uint64_t, storepb::MemberRecord> members, uint64_t cluster_id) {
    members_ = std::move(members);
    cluster_id_ = cluster_id;
  }

  std::string Snapshot() const;
  // Replaces the whole state; the history restarts at the snapshot's revision.
  Status Restore(const std::string& data);

  // Whether `key` falls within [begin, end) in the etcd sense (end "" = just begin, "\0" = all
  // keys >= begin).
  static bool InRange(const std::string& key, const std::string& begin, const std::string& end);

 private:
  void Put(const storepb::PutRequest& p, storepb::PutResponse* out, int64_t rev,
           std::vector<storepb::Event>* events);
  void DeleteRange(const storepb::DeleteRangeRequest& d, storepb::DeleteRangeResponse* out,
                   int64_t rev, std::vector<storepb::Event>* events);
  bool Compare(const storepb::Compare& c) const;
  void RangeNow(const storepb::RangeRequest& r, storepb::RangeResponse* out) const;
  void Record(int64_t rev, std::vector<storepb::Event> events);

  std::map<std::string, storepb::KeyValue> kvs_;
  std::map<uint64_t, storepb::MemberRecord> members_;
  uint64_t cluster_id_ = 0;
  int64_t revision_ = 0;
  int64_t compacted_ = 0;
  size_t history_limit_;
  // Newest last. Every event carries the key's previous value, so an older state can be
  // rebuilt by undoing events.
  std::deque<std::pair<int64_t, storepb::Event>> history_;
  std::function<void(int64_t, const std::vector<storepb::Event>&)> observer_;
  std::function<void()> reset_observer_;
  // Answers of recently applied requests by id, and their order for eviction.
  size_t dedupe_limit_;
  std::unordered_map<uint64_t, storepb::Response> recent_;
  std::deque<uint64_t> recent_order_;
};

}  // namespace tug::store
