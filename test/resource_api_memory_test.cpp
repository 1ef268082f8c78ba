// The Kubernetes-shaped API over the in-memory store (raftstore/memory_store.h): requests go
// straight to the handler on an io_context this test runs, with no port, process or Raft.
// The same handler serves tugd; the three-member tests (resource_api_test.cpp) keep what only
// a real cluster shows (followers, failover, restarts).
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "controlplane/registry.h"
#include "controlplane/resource_api.h"
#include "raftstore/memory_store.h"
#include "raftstore/watch_hub.h"
#include "test/support/objects.h"

using nlohmann::json;
using namespace tug;

namespace {

// The receiving end of a streamed answer (a watch).
class CollectingStream : public net::ResponseStream {
 public:
  bool Write(std::string chunk) override {
    if (closed_) return false;
    text += chunk;
    return true;
  }
  void End() override { Close(); }
  bool closed() const override { return closed_; }
  void OnClose(std::function<void()> f) override { on_close_ = std::move(f); }
  void Close() {
    if (closed_) return;
    closed_ = true;
    if (on_close_) on_close_();
  }
  std::string text;

 private:
  bool closed_ = false;
  std::function<void()> on_close_;
};

struct Answer {
  int code = 0;
  json body;
  std::shared_ptr<CollectingStream> stream;
};

// One API server's request path over a MemoryStore.
class Fixture {
 public:
  Fixture() : store(io), hub(store.kv()), registry(store), api(io, store, hub, registry) {}

  Answer Call(const std::string& method, const std::string& path, const json& body = nullptr,
              std::map<std::string, std::string> query = {}) {
    net::HttpRequest req;
    req.method = method;
    req.path = path;
    req.target = path;
    req.query = std::move(query);
    req.headers["content-type"] = "application/json";
    if (!body.is_null()) req.body = body.dump();
    std::optional<net::HttpResponse> got;
    auto info = cp::ClassifyRequest(req);
    REQUIRE(api.Handle(req, info, [&](net::HttpResponse r) { got = std::move(r); }));
    // Every answer is posted to the io thread by the store: run it until one arrives.
    for (int i = 0; i < 1000 && !got; ++i) {
      io.restart();
      io.poll();
    }
    REQUIRE(got.has_value());
    Answer a;
    a.code = got->status;
    if (got->stream) {
      a.stream = std::make_shared<CollectingStream>();
      got->stream(a.stream);
    } else {
      a.body = json::parse(got->body, nullptr, false);
    }
    return a;
  }
  void RunPending() {
    io.restart();
    io.poll();
  }

  boost::asio::io_context io;
  store::MemoryStore store;
  store::WatchHub hub;
  cp::Registry registry;
  cp::ResourceApi api;
};

using tug::testing::Deployment;

const std::string kDeployments = "/apis/apps/v1/namespaces/default/deployments";

}  // namespace

TEST_CASE("memory store: create, get, list, conflicting update and delete of a Deployment",
          "[controlplane]") {
  Fixture f;
  Answer created = f.Call("POST", kDeployments, Deployment("web", 2));
  INFO(created.body.dump());
  REQUIRE(created.code == 201);
  std::string rv = created.body["metadata"]["resourceVersion"];
  CHECK(!created.body["metadata"]["uid"].get<std::string>().empty());
  CHECK(created.body["metadata"]["generation"] == 1);

  Answer again = f.Call("POST", kDeployments, Deployment("web", 2));
  CHECK(again.code == 409);
  CHECK(again.body["reason"] == "AlreadyExists");

  Answer got = f.Call("GET", kDeployments + "/web");
  REQUIRE(got.code == 200);
  CHECK(got.body["spec"]["replicas"] == 2);
  CHECK(got.body["metadata"]["resourceVersion"] == rv);

  Answer list = f.Call("GET", kDeployments);
  REQUIRE(list.code == 200);
  CHECK(list.body["kind"] == "DeploymentList");
  REQUIRE(list.body["items"].size() == 1);
  CHECK(list.body["items"][0]["metadata"]["name"] == "web");

  // A replace carrying the resourceVersion it read wins once; the same again is stale.
  json update = got.body;
  update["spec"]["replicas"] = 5;
  Answer replaced = f.Call("PUT", kDeployments + "/web", update);
  INFO(replaced.body.dump());
  REQUIRE(replaced.code == 200);
  CHECK(replaced.body["spec"]["replicas"] == 5);
  CHECK(replaced.body["metadata"]["generation"] == 2);
  update["spec"]["replicas"] = 7;
  Answer stale = f.Call("PUT", kDeployments + "/web", update);
  CHECK(stale.code == 409);
  CHECK(stale.body["reason"] == "Conflict");

  Answer deleted = f.Call("DELETE", kDeployments + "/web");
  CHECK(deleted.code == 200);
  CHECK(f.Call("GET", kDeployments + "/web").code == 404);
}

TEST_CASE("memory store: invalid objects are refused with Kubernetes' 422 and nothing is written",
          "[controlplane]") {
  Fixture f;
  uint64_t before = f.store.proposals();
  Answer bad = f.Call("POST", kDeployments, Deployment("neg", -1));
  CHECK(bad.code == 422);
  CHECK(bad.body["reason"] == "Invalid");
  CHECK(f.store.proposals() == before);
  CHECK(f.Call("GET", kDeployments + "/neg").code == 404);
}

TEST_CASE("memory store: without a leader, writes and linearizable reads answer 503",
          "[controlplane]") {
  Fixture f;
  REQUIRE(f.Call("POST", kDeployments, Deployment("web", 1)).code == 201);
  f.store.SetLeader(false);
  Answer write = f.Call("POST", kDeployments, Deployment("other", 1));
  CHECK(write.code == 503);
  CHECK(f.Call("GET", kDeployments + "/web").code == 503);
  // A serializable read (resourceVersion=0) is this member's state, leader or not.
  CHECK(f.Call("GET", kDeployments, nullptr, {{"resourceVersion", "0"}}).code == 200);
  f.store.SetLeader(true);
  CHECK(f.store.term() == 2);
  CHECK(f.Call("POST", kDeployments, Deployment("other", 1)).code == 201);
}

TEST_CASE("memory store: a watch from a list's resourceVersion sees the changes after it",
          "[controlplane]") {
  Fixture f;
  REQUIRE(f.Call("POST", kDeployments, Deployment("first", 1)).code == 201);
  Answer list = f.Call("GET", kDeployments);
  std::string rv = list.body["metadata"]["resourceVersion"];

  Answer watch = f.Call("GET", kDeployments, nullptr, {{"watch", "true"}, {"resourceVersion", rv}});
  REQUIRE(watch.code == 200);
  REQUIRE(watch.stream);
  REQUIRE(f.Call("POST", kDeployments, Deployment("second", 1)).code == 201);
  REQUIRE(f.Call("DELETE", kDeployments + "/first").code == 200);
  f.RunPending();

  std::vector<std::pair<std::string, std::string>> events;
  size_t start = 0;
  for (size_t nl; (nl = watch.stream->text.find('\n', start)) != std::string::npos;
       start = nl + 1) {
    json e = json::parse(watch.stream->text.substr(start, nl - start));
    events.emplace_back(e["type"], e["object"]["metadata"]["name"]);
  }
  CHECK(events == std::vector<std::pair<std::string, std::string>>{{"ADDED", "second"},
                                                                   {"DELETED", "first"}});
  watch.stream->Close();  // the client goes away: the watch is cancelled
  f.RunPending();
  CHECK(f.hub.size() == 0);
}
