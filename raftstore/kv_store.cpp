#include "raftstore/kv_store.h"

#include <algorithm>

namespace tug::store {

using storepb::Event;
using storepb::KeyValue;

bool KvStore::InRange(const std::string& key, const std::string& begin, const std::string& end) {
  if (end.empty()) return key == begin;
  if (end == std::string(1, '\0')) return key >= begin;
  return key >= begin && key < end;
}

storepb::Response KvStore::Apply(const storepb::Request& r) {
  if (r.id() != 0) {
    auto it = recent_.find(r.id());
    if (it != recent_.end()) return it->second;
  }
  storepb::Response resp;
  int64_t rev = revision_ + 1;
  std::vector<Event> events;
  switch (r.op_case()) {
    case storepb::Request::kPut:
      Put(r.put(), resp.mutable_put(), rev, &events);
      break;
    case storepb::Request::kDeleteRange:
      DeleteRange(r.delete_range(), resp.mutable_delete_range(), rev, &events);
      break;
    case storepb::Request::kTxn: {
      const auto& t = r.txn();
      bool ok = std::all_of(t.compare().begin(), t.compare().end(),
                            [&](const storepb::Compare& c) { return Compare(c); });
      auto* tr = resp.mutable_txn();
      tr->set_succeeded(ok);
      for (const auto& op : ok ? t.success() : t.failure()) {
        auto* out = tr->add_responses();
        switch (op.request_case()) {
          case storepb::RequestOp::kRequestRange:
            // A read inside a transaction sees the writes before it in the same transaction.
            RangeNow(op.request_range(), out->mutable_response_range());
            break;
          case storepb::RequestOp::kRequestPut:
            Put(op.request_put(), out->mutable_response_put(), rev, &events);
            break;
          case storepb::RequestOp::kRequestDeleteRange:
            DeleteRange(op.request_delete_range(), out->mutable_response_delete_range(), rev,
                        &events);
            break;
          case storepb::RequestOp::REQUEST_NOT_SET:
            break;
        }
      }
      break;
    }
    case storepb::Request::OP_NOT_SET:
      break;
  }
  if (!events.empty()) {
    revision_ = rev;
    Record(rev, std::move(events));
  }
  resp.set_revision(revision_);
  if (r.id() != 0) {
    recent_.emplace(r.id(), resp);
    recent_order_.push_back(r.id());
    while (recent_order_.size() > dedupe_limit_) {
      recent_.erase(recent_order_.front());
      recent_order_.pop_front();
    }
  }
  return resp;
}

void KvStore::Put(const storepb::PutRequest& p, storepb::PutResponse* out, int64_t rev,
                  std::vector<Event>* events) {
  Event ev;
  ev.set_type(Event::PUT);
  auto it = kvs_.find(p.key());
  KeyValue kv;
  if (it != kvs_.end()) {
    *ev.mutable_prev_kv() = it->second;
    if (p.prev_kv()) *out->mutable_prev_kv() = it->second;
    kv = it->second;
    // Two puts of one key in one transaction: the key was created at this revision or
    // before; either way its version counts each write.
  } else {
    kv.set_key(p.key());
    kv.set_create_revision(rev);
    kv.set_version(0);
  }
  kv.set_value(p.value());
  kv.set_mod_revision(rev);
  kv.set_version(kv.version() + 1);
  kvs_[p.key()] = kv;
  *ev.mutable_kv() = std::move(kv);
  events->push_back(std::move(ev));
}

void KvStore::DeleteRange(const storepb::DeleteRangeRequest& d, storepb::DeleteRangeResponse* out,
                          int64_t rev, std::vector<Event>* events) {
  auto it = kvs_.lower_bound(d.key());
  int64_t deleted = 0;
  while (it != kvs_.end() && InRange(it->first, d.key(), d.range_end())) {
    Event ev;
    ev.set_type(Event::DELETE);
    ev.mutable_kv()->set_key(it->first);
    ev.mutable_kv()->set_mod_revision(rev);
    *ev.mutable_prev_kv() = it->second;
    if (d.prev_kv()) *out->add_prev_kvs() = it->second;
    events->push_back(std::move(ev));
    it = kvs_.erase(it);
    ++deleted;
    if (d.range_end().empty()) break;
  }
  out->set_deleted(deleted);
}

bool KvStore::Compare(const storepb::Compare& c) const {
  auto it = kvs_.find(c.key());
  const KeyValue* kv = it == kvs_.end() ? nullptr : &it->second;
  int cmp = 0;  // sign of (actual - expected)
  auto sign = [](int64_t a, int64_t b) { return a < b ? -1 : a > b ? 1 : 0; };
  switch (c.target()) {
    case storepb::Compare::VERSION:
      cmp = sign(kv ? kv->version() : 0, c.version());
      break;
    case storepb::Compare::CREATE:
      cmp = sign(kv ? kv->create_revision() : 0, c.create_revision());
      break;
    case storepb::Compare::MOD:
      cmp = sign(kv ? kv->mod_revision() : 0, c.mod_revision());
      break;
    case storepb::Compare::VALUE:
      // As in etcd, a value comparison against a missing key fails.
      if (!kv) return false;
      cmp = kv->value().compare(c.value());
      cmp = cmp < 0 ? -1 : cmp > 0 ? 1 : 0;
      break;
    default:
      return false;
  }
  switch (c.result()) {
    case storepb::Compare::EQUAL:
      return cmp == 0;
    case storepb::Compare::GREATER:
      return cmp > 0;
    case storepb::Compare::LESS:
      return cmp < 0;
    case storepb::Compare::NOT_EQUAL:
      return cmp != 0;
    default:
      return false;
  }
}

void KvStore::RangeNow(const storepb::RangeRequest& r, storepb::RangeResponse* out) const {
  int64_t count = 0;
  for (auto it = kvs_.lower_bound(r.key());
       it != kvs_.end() && InRange(it->first, r.key(), r.range_end()); ++it) {
    ++count;
    if (r.count_only()) continue;
    if (r.limit() > 0 && out->kvs_size() >= r.limit()) {
      out->set_more(true);
      continue;
    }
    KeyValue* kv = out->add_kvs();
    *kv = it->second;
    if (r.keys_only()) kv->clear_value();
    if (r.range_end().empty()) break;
  }
  out->set_count(count);
}

RangeResult KvStore::Range(const storepb::RangeRequest& r) const {
  RangeResult res;
  if (r.revision() <= 0 || r.revision() >= revision_) {
    if (r.revision() > revision_) {
      res.error = KvError::kFutureRevision;
      res.message = "required revision " + std::to_string(r.revision()) +
                    " is a future revision (current " + std::to_string(revision_) + ")";
      return res;
    }
    RangeNow(r, &res.response);
    return res;
  }
  if (r.revision() < compacted_) {
    res.error = KvError::kCompacted;
    res.message = "required revision " + std::to_string(r.revision()) +
                  " has been compacted (oldest available " + std::to_string(compacted_ + 1) + ")";
    return res;
  }
  // Rebuild the keys in range as of r.revision() by undoing newer events, newest first.
  std::map<std::string, KeyValue> view;
  for (auto it = kvs_.lower_bound(r.key());
       it != kvs_.end() && InRange(it->first, r.key(), r.range_end()); ++it) {
    view[it->first] = it->second;
    if (r.range_end().empty()) break;
  }
  for (auto it = history_.rbegin(); it != history_.rend() && it->first > r.revision(); ++it) {
    const Event& ev = it->second;
    const std::string& key = ev.type() == Event::PUT ? ev.kv().key() : ev.prev_kv().key();
    if (!InRange(key, r.key(), r.range_end())) continue;
    if (ev.has_prev_kv()) {
      view[key] = ev.prev_kv();
    } else {
      view.erase(key);
    }
  }
  int64_t count = 0;
  for (const auto& [k, kv] : view) {
    ++count;
    if (r.count_only()) continue;
    if (r.limit() > 0 && res.response.kvs_size() >= r.limit()) {
      res.response.set_more(true);
      continue;
    }
    KeyValue* out = res.response.add_kvs();
    *out = kv;
    if (r.keys_only()) out->clear_value();
  }
  res.response.set_count(count);
  return res;
}

void KvStore::Record(int64_t rev, std::vector<Event> events) {
  for (const auto& ev : events)
    history_.emplace_back(rev, ev);
  // Drop whole revisions only, so a revision is either fully in the history or compacted.
  while (history_.size() > history_limit_) {
    int64_t oldest = history_.front().first;
    while (!history_.empty() && history_.front().first == oldest)
      history_.pop_front();
    compacted_ = oldest;
  }
  if (observer_) observer_(rev, events);
}

EventsResult KvStore::EventsSince(int64_t from, const std::string& key,
                                  const std::string& range_end) const {
  EventsResult res;
  if (from <= compacted_) {
    res.error = KvError::kCompacted;
    res.message = "required revision " + std::to_string(from) +
                  " has been compacted (oldest available " + std::to_string(compacted_ + 1) + ")";
    return res;
  }
  auto it = std::lower_bound(history_.begin(), history_.end(), from,
                             [](const auto& e, int64_t r) { return e.first < r; });
  for (; it != history_.end(); ++it) {
    const Event& ev = it->second;
    const std::string& k = ev.type() == Event::PUT ? ev.kv().key() : ev.prev_kv().key();
    if (InRange(k, key, range_end)) res.events.push_back(ev);
  }
  return res;
}

std::string KvStore::Snapshot() const {
  storepb::KvSnapshot s;
  s.set_revision(revision_);
  for (const auto& [id, m] : members_)
    *s.add_members() = m;
  s.set_cluster_id(cluster_id_);
  for (const auto& [k, kv] : kvs_)
    *s.add_kvs() = kv;
  for (uint64_t id : recent_order_) {
    auto* a = s.add_recent();
    a->set_id(id);
    *a->mutable_response() = recent_.at(id);
  }
  return s.SerializeAsString();
}

Status KvStore::Restore(const std::string& data) {
  storepb::KvSnapshot s;
  if (!s.ParseFromString(data)) return Status::Error("kv store: snapshot data does not parse");
  kvs_.clear();
  for (const auto& kv : s.kvs())
    kvs_[kv.key()] = kv;
  revision_ = s.revision();
  members_.clear();
  for (const auto& m : s.members())
    members_[m.id()] = m;
  cluster_id_ = s.cluster_id();
  recent_.clear();
  recent_order_.clear();
  for (const auto& a : s.recent()) {
    recent_.emplace(a.id(), a.response());
    recent_order_.push_back(a.id());
  }
  history_.clear();
  // Nothing before the snapshot can be replayed to a watcher.
  compacted_ = revision_;
  if (reset_observer_) reset_observer_();
  return Status::Ok();
}

}  // namespace tug::store
