// The controllers' shared cache (controlplane/controllers/informer.h) over the in-memory
// store: what it lists at start, which objects it keeps, and the changes it hands on.
#include <catch2/catch.hpp>

#include <boost/asio.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "controlplane/controllers/informer.h"
#include "raftstore/memory_store.h"
#include "raftstore/watch_hub.h"

using nlohmann::json;
using namespace tug;

namespace {

struct Change {
  std::string resource, key;
  std::optional<json> before, after;
};

struct Fixture {
  boost::asio::io_context io;
  store::MemoryStore store{io};
  store::WatchHub hub{store.kv()};
  std::vector<Change> changes;

  // A raw write around the API, as a /v3 client could make: any bytes under any key.
  void Put(const std::string& key, const std::string& value) {
    storepb::Request r;
    r.mutable_put()->set_key(key);
    r.mutable_put()->set_value(value);
    Commit(std::move(r));
  }
  void Delete(const std::string& key) {
    storepb::Request r;
    r.mutable_delete_range()->set_key(key);
    r.mutable_delete_range()->set_prev_kv(true);
    Commit(std::move(r));
  }
  void Commit(storepb::Request r) {
    bool done = false;
    store.Propose(std::move(r), [&](Result<storepb::Response> res) {
      REQUIRE(res.ok());
      done = true;
    });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done && std::chrono::steady_clock::now() < deadline) {
      io.run_for(std::chrono::milliseconds(2));
      if (io.stopped()) io.restart();
    }
    REQUIRE(done);
  }
  cp::Informer::OnChange Record() {
    return [this](const std::string& resource, const std::string& key, const json* before,
                  const json* after) {
      Change c{resource, key, std::nullopt, std::nullopt};
      if (before) c.before = *before;
      if (after) c.after = *after;
      changes.push_back(std::move(c));
    };
  }
};

const std::string kPod = R"({"metadata":{"name":"a","namespace":"default"},"spec":{}})";

}  // namespace

TEST_CASE("the informer lists the cached kinds at start and keeps only usable objects",
          "[controllers]") {
  Fixture f;
  f.Put("/registry/pods/default/a", kPod);
  f.Put("/registry/pods/default/no-spec", R"({"metadata":{"name":"no-spec"}})");
  f.Put("/registry/pods/default/bad-status", R"({"spec":{},"status":"Running"})");
  f.Put("/registry/pods/default/not-json", "{");
  f.Put("/registry/nodes/n1", R"({"metadata":{"name":"n1"}})");  // nodes need no spec
  f.Put("/registry/secrets/default/s", R"({"spec":{}})");        // a kind nobody asked for
  cp::Informer inf(f.store, f.hub, {{"pods", true}, {"nodes", false}}, f.Record(),
                   [](const std::string&) { FAIL("the watch must not end"); });
  REQUIRE(inf.Start().ok());
  CHECK(inf.watching());

  CHECK(inf.List("pods").size() == 1);
  CHECK(inf.Get("pods", "/registry/pods/default/a") != nullptr);
  CHECK(inf.Get("pods", "/registry/pods/default/no-spec") == nullptr);
  CHECK(inf.List("nodes").size() == 1);
  CHECK(inf.List("secrets").empty());
  REQUIRE(f.changes.size() == 2);  // creates, in key order: the node, then the pod
  CHECK(f.changes[0].resource == "nodes");
  CHECK(f.changes[1].key == "/registry/pods/default/a");
  CHECK_FALSE(f.changes[1].before.has_value());
  // Objects carry the revision they were written at, as the registry reads them.
  CHECK_FALSE(f.changes[1].after->at("metadata").value("resourceVersion", "").empty());
}

TEST_CASE("the informer hands on updates, deletes, and objects that stop being usable",
          "[controllers]") {
  Fixture f;
  cp::Informer inf(f.store, f.hub, {{"pods", true}}, f.Record(),
                   [](const std::string&) { FAIL("the watch must not end"); });
  REQUIRE(inf.Start().ok());
  REQUIRE(f.changes.empty());

  f.Put("/registry/pods/default/a", kPod);
  REQUIRE(f.changes.size() == 1);
  CHECK_FALSE(f.changes[0].before.has_value());
  REQUIRE(inf.Get("pods", "/registry/pods/default/a") != nullptr);

  f.Put("/registry/pods/default/a",
        R"({"metadata":{"name":"a","namespace":"default"},"spec":{"nodeName":"n1"}})");
  REQUIRE(f.changes.size() == 2);
  CHECK(f.changes[1].before->at("spec").empty());
  CHECK(f.changes[1].after->at("spec").at("nodeName") == "n1");
  CHECK(inf.Get("pods", "/registry/pods/default/a")->at("spec").at("nodeName") == "n1");

  // Rewritten around the API into a shape no controller can read: gone from the cache.
  f.Put("/registry/pods/default/a", R"({"spec":"nonsense"})");
  REQUIRE(f.changes.size() == 3);
  CHECK(f.changes[2].before.has_value());
  CHECK_FALSE(f.changes[2].after.has_value());
  CHECK(inf.List("pods").empty());

  f.Put("/registry/pods/default/b", kPod);
  f.Delete("/registry/pods/default/b");
  REQUIRE(f.changes.size() == 5);
  CHECK(f.changes[4].key == "/registry/pods/default/b");
  CHECK(f.changes[4].before.has_value());
  CHECK_FALSE(f.changes[4].after.has_value());
  CHECK(inf.List("pods").empty());

  // Other kinds pass by.
  f.Put("/registry/nodes/n1", R"({"metadata":{"name":"n1"}})");
  CHECK(f.changes.size() == 5);
}
