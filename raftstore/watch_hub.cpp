#include "raftstore/watch_hub.h"

namespace tug::store {

namespace {
const std::string& EventKey(const storepb::Event& e) {
  return e.type() == storepb::Event::PUT ? e.kv().key() : e.prev_kv().key();
}
}  // namespace

WatchHub::WatchHub(KvStore& kv) : kv_(kv) {
  kv_.set_observer(
      [this](int64_t rev, const std::vector<storepb::Event>& events) { OnChange(rev, events); });
  kv_.set_reset_observer([this] { OnReset(); });
}

WatchHub::~WatchHub() {
  kv_.set_observer(nullptr);
  kv_.set_reset_observer(nullptr);
}

Result<uint64_t> WatchHub::Watch(const std::string& key, const std::string& range_end,
                                 int64_t start_revision, Sink sink) {
  if (start_revision > 0 && start_revision <= kv_.revision()) {
    EventsResult past = kv_.EventsSince(start_revision, key, range_end);
    if (past.error == KvError::kCompacted) return Status::Compacted(past.message);
    // Deliver the missed events grouped by revision, as live ones are.
    size_t i = 0;
    while (i < past.events.size()) {
      WatchUpdate u;
      u.revision = past.events[i].kv().mod_revision();  // a DELETE's kv carries its revision too
      while (i < past.events.size() && past.events[i].kv().mod_revision() == u.revision) {
        u.events.push_back(past.events[i++]);
      }
      if (!sink(u)) return Status::Error("watch: the client went away during the replay");
    }
  }
  uint64_t id = ++next_id_;
  watchers_.emplace(id, Watcher{key, range_end, std::move(sink)});
  return id;
}

void WatchHub::Cancel(uint64_t id) {
  watchers_.erase(id);
}

void WatchHub::OnChange(int64_t rev, const std::vector<storepb::Event>& events) {
  for (auto it = watchers_.begin(); it != watchers_.end();) {
    WatchUpdate u;
    u.revision = rev;
    for (const auto& e : events) {
      if (KvStore::InRange(EventKey(e), it->second.key, it->second.range_end))
        u.events.push_back(e);
    }
    // A sink may cancel watches (its own or others') while we iterate: copy the sink.
    if (!u.events.empty()) {
      Sink sink = it->second.sink;
      uint64_t id = it->first;
      bool keep = sink(u);
      it = watchers_.upper_bound(id);
      if (!keep) watchers_.erase(id);
      continue;
    }
    ++it;
  }
}

void WatchHub::OnReset() {
  auto all = std::move(watchers_);
  watchers_.clear();
  for (auto& [id, w] : all) {
    WatchUpdate u;
    u.revision = kv_.revision();
    u.canceled = true;
    u.reason =
        "the member installed a snapshot and cannot tell what changed: list again and watch from "
        "there";
    w.sink(u);
  }
}

}  // namespace tug::store
