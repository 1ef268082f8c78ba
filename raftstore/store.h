// The storage interface the API server and the controllers are written against: what they
// need of a replicated key-value store, and nothing of how it replicates. RaftNode (the Raft
// member, raftstore/node.h) is the real one; MemoryStore (raftstore/memory_store.h) is a
// single-process one over the same KvStore, for tests that need no port and no process.
//
// Every method is called on, and calls back on, the io thread that owns the store. Watches
// are served by a WatchHub over kv() (raftstore/watch_hub.h), which sees every change the
// store applies.
#pragma once

#include <functional>

#include "base/status.h"
#include "raftstore/kv_store.h"
#include "raftstore/store.pb.h"

namespace tug::store {

class Store {
 public:
  virtual ~Store() = default;

  // Commits a write (put, delete, txn) and answers with its result once it is applied here;
  // Unavailable when it cannot be committed in time (no quorum, shutting down).
  virtual void Propose(storepb::Request r, std::function<void(Result<storepb::Response>)> done) = 0;
  // Calls done once this member's applied state includes every write committed before the
  // call (a linearizable read barrier), or with Unavailable.
  virtual void WaitLinearizable(std::function<void(Status)> done) = 0;
  // A range read: linearizable unless r.serializable() (then this member's applied state).
  virtual void Range(storepb::RangeRequest r,
                     std::function<void(Result<storepb::RangeResponse>)> done) = 0;

  // This member's applied state, for serializable reads and for the watch hub.
  virtual const KvStore& kv() const = 0;
  virtual KvStore& kv() = 0;

  // Leadership, for the controllers: they run only where is_leader(), start once
  // LeaderCaughtUp() (every earlier leader's writes are applied here), and stop when the
  // term changes.
  virtual bool is_leader() const = 0;
  virtual uint64_t term() const = 0;
  virtual bool LeaderCaughtUp() const = 0;
};

}  // namespace tug::store
