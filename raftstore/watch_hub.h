// Watches over the key-value store: each watcher names a key range and a start revision,
// first receives the events it missed (from the store's bounded history) and then every new
// change in its range, in revision order, without gaps or repeats. A start revision older
// than the history is refused as compacted (the client lists again and watches from there).
//
// Runs on the thread that applies entries (the node's io thread). Fan-out is a pass over the
// watchers per applied write, filtered by range: hundreds of watchers cost microseconds.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "raftstore/kv_store.h"

namespace tug::store {

struct WatchUpdate {
  int64_t revision = 0;
  std::vector<storepb::Event> events;
  // The watch ended: the store was replaced by a snapshot (history lost). The client
  // must list again and start a new watch.
  bool canceled = false;
  std::string reason;
};

class WatchHub {
 public:
  // Returns false to end the watch (e.g. the client went away).
  using Sink = std::function<bool(const WatchUpdate&)>;

  // Takes over the store's observers (and gives them back when destroyed).
  explicit WatchHub(KvStore& kv);
  ~WatchHub();
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  // Starts a watch on [key, range_end) (range_end as in KvStore::Range) from
  // `start_revision` (0: from the next change). Delivers the history first, synchronously.
  // Fails with Status::Compacted if the history no longer reaches back that far.
  Result<uint64_t> Watch(const std::string& key, const std::string& range_end,
                         int64_t start_revision, Sink sink);
  void Cancel(uint64_t id);
  size_t size() const { return watchers_.size(); }

 private:
  struct Watcher {
    std::string key, range_end;
    Sink sink;
  };
  void OnChange(int64_t rev, const std::vector<storepb::Event>& events);
  void OnReset();

  KvStore& kv_;
  uint64_t next_id_ = 0;
  std::map<uint64_t, Watcher> watchers_;
};

}  // namespace tug::store
