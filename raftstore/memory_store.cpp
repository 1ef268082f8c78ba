#include "raftstore/memory_store.h"

#include <boost/asio/post.hpp>

namespace tug::store {

namespace {
Status NotLeader() {
  return Status::Unavailable("no leader: the store lost its quorum; retry later");
}
}  // namespace

void MemoryStore::Propose(storepb::Request r, std::function<void(Result<storepb::Response>)> done) {
  ++proposals_;
  if (!leader_) {
    boost::asio::post(io_, [done = std::move(done)] { done(NotLeader()); });
    return;
  }
  r.set_id(++next_id_);
  // As on a real member, the write is applied (and watchers told) later on the io thread,
  // never inside the caller's own call, and answered right after it is applied.
  boost::asio::post(io_, [this, r = std::move(r), done = std::move(done)]() mutable {
    storepb::Response resp = kv_.Apply(r);
    boost::asio::post(
        io_, [done = std::move(done), resp = std::move(resp)]() mutable { done(std::move(resp)); });
  });
}

void MemoryStore::WaitLinearizable(std::function<void(Status)> done) {
  Status s = leader_ ? Status::Ok() : NotLeader();
  boost::asio::post(io_, [done = std::move(done), s] { done(s); });
}

void MemoryStore::Range(storepb::RangeRequest r,
                        std::function<void(Result<storepb::RangeResponse>)> done) {
  const bool serializable = r.serializable();
  auto serve = [this, r = std::move(r), done = std::move(done)](Status s) {
    if (!s) {
      done(s);
      return;
    }
    auto res = ToResult(kv_.Range(r));
    if (res.ok()) {
      res.value().mutable_header()->set_revision(kv_.revision());
      res.value().mutable_header()->set_raft_term(term_);
    }
    done(std::move(res));
  };
  if (serializable) {
    serve(Status::Ok());  // this member's state, at once, as RaftNode serves it
  } else {
    WaitLinearizable(std::move(serve));
  }
}

}  // namespace tug::store
