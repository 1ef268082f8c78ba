// The key-value state machine on its own: revisions, ranges, transactions, history,
// snapshots and exactly-once application of re-proposed requests.
#include <catch2/catch.hpp>

#include "raftstore/kv_store.h"

using tug::store::KvError;
using tug::store::KvStore;
namespace storepb = tug::storepb;

namespace {

storepb::Request Put(const std::string& k, const std::string& v, uint64_t id = 0) {
  storepb::Request r;
  r.set_id(id);
  r.mutable_put()->set_key(k);
  r.mutable_put()->set_value(v);
  return r;
}

storepb::Request Del(const std::string& k, const std::string& end = "") {
  storepb::Request r;
  r.mutable_delete_range()->set_key(k);
  r.mutable_delete_range()->set_range_end(end);
  r.mutable_delete_range()->set_prev_kv(true);
  return r;
}

storepb::RangeRequest Range(const std::string& k, const std::string& end = "", int64_t rev = 0) {
  storepb::RangeRequest r;
  r.set_key(k);
  r.set_range_end(end);
  r.set_revision(rev);
  return r;
}

}  // namespace

TEST_CASE("puts advance the revision, keys carry create/mod revision and version", "[kv]") {
  KvStore kv;
  CHECK(kv.Apply(Put("a", "1")).revision() == 1);
  CHECK(kv.Apply(Put("b", "1")).revision() == 2);
  CHECK(kv.Apply(Put("a", "2")).revision() == 3);
  auto r = kv.Range(Range("a"));
  REQUIRE(r.response.kvs_size() == 1);
  const auto& a = r.response.kvs(0);
  CHECK(a.value() == "2");
  CHECK(a.create_revision() == 1);
  CHECK(a.mod_revision() == 3);
  CHECK(a.version() == 2);
  // A delete of nothing changes nothing, not even the revision.
  CHECK(kv.Apply(Del("zzz")).revision() == 3);
  auto d = kv.Apply(Del("a"));
  CHECK(d.revision() == 4);
  CHECK(d.delete_range().deleted() == 1);
  CHECK(d.delete_range().prev_kvs(0).value() == "2");
  // Re-created: version restarts, create_revision is new.
  kv.Apply(Put("a", "3"));
  auto again = kv.Range(Range("a")).response.kvs(0);
  CHECK(again.version() == 1);
  CHECK(again.create_revision() == 5);
}

TEST_CASE("ranges by prefix, from a key on, with limit and count", "[kv]") {
  KvStore kv;
  for (auto k : {"/pods/a", "/pods/b", "/pods/c", "/nodes/x", "/zz"})
    kv.Apply(Put(k, "v"));
  CHECK(kv.Range(Range("/pods/", "/pods0")).response.kvs_size() == 3);
  auto lim = Range("/pods/", "/pods0");
  lim.set_limit(2);
  auto r = kv.Range(lim).response;
  CHECK(r.kvs_size() == 2);
  CHECK(r.more());
  CHECK(r.count() == 3);
  CHECK(kv.Range(Range("/pods/b", std::string(1, '\0'))).response.kvs_size() == 3);  // b, c, /zz
  CHECK(kv.Range(Range("/missing")).response.kvs_size() == 0);
}

TEST_CASE("transactions compare and then act, atomically at one revision", "[kv]") {
  KvStore kv;
  kv.Apply(Put("k", "v1"));
  auto txn = [&](storepb::Compare::CompareTarget target, int64_t mod, const std::string& newval) {
    storepb::Request r;
    auto* c = r.mutable_txn()->add_compare();
    c->set_key("k");
    c->set_target(target);
    c->set_result(storepb::Compare::EQUAL);
    if (target == storepb::Compare::MOD) c->set_mod_revision(mod);
    if (target == storepb::Compare::VERSION) c->set_version(mod);
    auto* op = r.mutable_txn()->add_success()->mutable_request_put();
    op->set_key("k");
    op->set_value(newval);
    auto* op2 = r.mutable_txn()->add_success()->mutable_request_put();
    op2->set_key("k2");
    op2->set_value(newval);
    r.mutable_txn()->add_failure()->mutable_request_range()->set_key("k");
    return kv.Apply(r);
  };
  auto ok = txn(storepb::Compare::MOD, 1, "v2");
  CHECK(ok.txn().succeeded());
  CHECK(ok.revision() == 2);  // two puts, one revision
  CHECK(kv.Range(Range("k2")).response.kvs(0).mod_revision() == 2);
  auto stale = txn(storepb::Compare::MOD, 1, "v3");
  CHECK_FALSE(stale.txn().succeeded());
  CHECK(stale.revision() == 2);  // nothing written
  CHECK(stale.txn().responses(0).response_range().kvs(0).value() == "v2");
  CHECK(txn(storepb::Compare::VERSION, 2, "v4").txn().succeeded());
  // A key that does not exist has version 0: "create if absent".
  storepb::Request create;
  auto* c = create.mutable_txn()->add_compare();
  c->set_key("new");
  c->set_target(storepb::Compare::VERSION);
  c->set_version(0);
  create.mutable_txn()->add_success()->mutable_request_put()->set_key("new");
  CHECK(kv.Apply(create).txn().succeeded());
  CHECK_FALSE(kv.Apply(create).txn().succeeded());
}

TEST_CASE("history: reads at an older revision and events since a revision", "[kv]") {
  KvStore kv(/*history_limit=*/4);
  kv.Apply(Put("a", "1"));  // rev 1
  kv.Apply(Put("a", "2"));  // rev 2
  kv.Apply(Put("b", "1"));  // rev 3
  kv.Apply(Del("a"));       // rev 4
  auto old = kv.Range(Range("a", "", 2));
  REQUIRE(old.error == KvError::kNone);
  REQUIRE(old.response.kvs_size() == 1);
  CHECK(old.response.kvs(0).value() == "2");
  CHECK(kv.Range(Range("a")).response.kvs_size() == 0);
  auto ev = kv.EventsSince(2, "a", "");
  REQUIRE(ev.error == KvError::kNone);
  REQUIRE(ev.events.size() == 2);
  CHECK(ev.events[0].type() == storepb::Event::PUT);
  CHECK(ev.events[1].type() == storepb::Event::DELETE);
  CHECK(ev.events[1].prev_kv().value() == "2");
  kv.Apply(Put("c", "1"));  // rev 5: history keeps 4 events, revision 1 is compacted
  auto gone = kv.EventsSince(1, "a", "");
  CHECK(gone.error == KvError::kCompacted);
  CHECK_THAT(gone.message, Catch::Contains("compacted"));
  CHECK(kv.Range(Range("a", "", 0)).error == KvError::kNone);
  CHECK(kv.Range(Range("a", "", 99)).error == KvError::kFutureRevision);
}

TEST_CASE("a request applied twice (re-proposed after a leader change) takes effect once", "[kv]") {
  KvStore kv;
  auto first = kv.Apply(Put("k", "v", /*id=*/42));
  auto again = kv.Apply(Put("k", "v", /*id=*/42));
  CHECK(again.revision() == first.revision());
  CHECK(kv.revision() == 1);
  CHECK(kv.Range(Range("k")).response.kvs(0).version() == 1);
  // The memory survives a snapshot, so a member restored from one agrees.
  KvStore other;
  REQUIRE(other.Restore(kv.Snapshot()).ok());
  other.Apply(Put("k", "v", 42));
  CHECK(other.revision() == 1);
}

TEST_CASE("snapshot and restore reproduce the state, bad data is an error", "[kv]") {
  KvStore kv;
  for (int i = 0; i < 100; ++i)
    kv.Apply(Put("k" + std::to_string(i), "v"));
  KvStore copy;
  REQUIRE(copy.Restore(kv.Snapshot()).ok());
  CHECK(copy.revision() == 100);
  CHECK(copy.size() == 100);
  CHECK(copy.Range(Range("k5")).response.kvs(0).create_revision() == 6);
  // Watches cannot start before the snapshot: that history is gone.
  CHECK(copy.EventsSince(50, "", std::string(1, '\0')).error == KvError::kCompacted);
  CHECK(copy.EventsSince(101, "", std::string(1, '\0')).error == KvError::kNone);
  KvStore bad;
  CHECK_FALSE(bad.Restore("\xff\xff garbage").ok());
}
