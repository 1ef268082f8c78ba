// Integration tests of the replicated store: three real `tugd` processes on 127.0.0.1,
// driven over HTTP through the etcd-shaped /v3 API, killed and restarted by PID. Every wait
// polls a condition with a deadline.
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "test/support/programs.h"
#include "test/support/tugd_cluster.h"

using namespace std::chrono_literals;
using nlohmann::json;
using tug::net::HttpClient;
using tug::net::RequestOptions;
using tug::testing::B64;
using tug::testing::ClusterOptions;
using tug::testing::TugdCluster;
using tug::testing::UnB64;
using tug::testing::WaitFor;

namespace {

// A put that reports whether it was acknowledged (200) and otherwise the status or error.
struct PutResult {
  bool acked = false;
  int status = 0;
  std::string error;
};

PutResult Put(HttpClient& c, const std::string& key, const std::string& value,
              std::chrono::milliseconds timeout = 5000ms) {
  RequestOptions o;
  o.timeout = timeout;
  auto r = c.Post("/v3/kv/put", json{{"key", B64(key)}, {"value", B64(value)}}.dump(), o);
  if (!r.ok()) return {false, 0, r.status().message()};
  return {r->status == 200, r->status, r->body};
}

// Reads a key through one member; nullopt if absent. Fails the test on a non-200 answer.
std::optional<std::string> Get(const TugdCluster& cluster, int member, const std::string& key,
                               bool serializable = false) {
  HttpClient c({cluster.Api(member)}, cluster.Token());
  json req = {{"key", B64(key)}};
  if (serializable) req["serializable"] = true;
  RequestOptions o;
  o.idempotent = true;
  auto r = c.Post("/v3/kv/range", req.dump(), o);
  REQUIRE(r.ok());
  INFO(r->body);
  REQUIRE(r->status == 200);
  auto j = json::parse(r->body);
  if (!j.contains("kvs")) return std::nullopt;
  return UnB64(j["kvs"][0]["value"].get<std::string>());
}

// Every key in [prefix] on `server` (linearizable unless serializable), as key -> value.
std::map<std::string, std::string> All(const TugdCluster& cluster, int member,
                                       const std::string& prefix, bool serializable = false) {
  HttpClient c({cluster.Api(member)}, cluster.Token());
  std::string end = prefix;
  end.back() = static_cast<char>(end.back() + 1);
  json req = {{"key", B64(prefix)}, {"range_end", B64(end)}};
  if (serializable) req["serializable"] = true;
  RequestOptions o;
  o.idempotent = true;
  auto r = c.Post("/v3/kv/range", req.dump(), o);
  REQUIRE(r.ok());
  REQUIRE(r->status == 200);
  std::map<std::string, std::string> out;
  auto j = json::parse(r->body);
  for (const auto& kv : j.value("kvs", json::array())) {
    out[UnB64(kv["key"].get<std::string>())] = UnB64(kv.value("value", ""));
  }
  return out;
}

// Writes keys prefix0..prefixN-1 in a loop through a failover client until `stop`, retrying
// a key until it is acknowledged; records the acknowledged ones.
struct Writer {
  Writer(std::vector<std::string> servers, const std::string& token, std::string key_prefix)
      : client(std::move(servers), token), prefix(std::move(key_prefix)) {}
  void Run(std::atomic<bool>& stop, int max_keys) {
    for (int i = 0; i < max_keys && !stop; ++i) {
      std::string key = prefix + std::to_string(i);
      for (;;) {
        auto t0 = std::chrono::steady_clock::now();
        PutResult r = Put(client, key, "v" + std::to_string(i), 3000ms);
        auto dt = std::chrono::steady_clock::now() - t0;
        max_latency =
            std::max(max_latency, std::chrono::duration_cast<std::chrono::milliseconds>(dt));
        if (r.acked) {
          acked.insert(key);
          break;
        }
        ++failures;
        if (stop) return;
      }
    }
  }
  HttpClient client;
  std::string prefix;
  std::set<std::string> acked;
  int failures = 0;
  std::chrono::milliseconds max_latency{0};
};

}  // namespace

TEST_CASE("writes through any member are readable through every member", "[store][cluster]") {
  TugdCluster c;
  c.StartAll();
  REQUIRE(c.WaitLeader() >= 0);
  for (int i = 0; i < 3; ++i) {
    HttpClient client({c.Api(i)}, c.Token());
    auto r = Put(client, "k" + std::to_string(i), "from-" + c.Name(i));
    INFO(r.error);
    REQUIRE(r.acked);
  }
  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k < 3; ++k)
      CHECK(Get(c, i, "k" + std::to_string(k)) == "from-" + c.Name(k));
  }
  // Revisions, versions and transactions behave as in etcd.
  HttpClient client({c.Api(1)}, c.Token());
  REQUIRE(Put(client, "k0", "again").acked);
  auto r = client.Post("/v3/kv/range", json{{"key", B64("k0")}}.dump());
  auto kv = json::parse(r->body)["kvs"][0];
  CHECK(kv["version"] == "2");
  std::string mod = kv["mod_revision"].get<std::string>();
  json txn = {
      {"compare",
       {{{"key", B64("k0")}, {"target", "MOD"}, {"result", "EQUAL"}, {"mod_revision", mod}}}},
      {"success", {{{"request_put", {{"key", B64("k0")}, {"value", B64("cas-won")}}}}}}};
  auto t1 = client.Post("/v3/kv/txn", txn.dump());
  REQUIRE(t1->status == 200);
  CHECK(json::parse(t1->body)["succeeded"] == true);
  auto t2 = client.Post("/v3/kv/txn", txn.dump());  // same compare, now stale
  CHECK(json::parse(t2->body).value("succeeded", false) == false);
  CHECK(Get(c, 2, "k0") == "cas-won");
}

TEST_CASE("SIGKILL the leader while clients write: no acknowledged write is lost",
          "[store][cluster][failover]") {
  TugdCluster c;
  c.StartAll();
  int leader = c.WaitLeader();
  REQUIRE(leader >= 0);
  std::atomic<bool> stop{false};
  Writer w1(c.Apis(), c.Token(), "a/"), w2(c.Apis(), c.Token(), "b/");
  std::thread t1([&] { w1.Run(stop, 100000); });
  std::thread t2([&] { w2.Run(stop, 100000); });
  REQUIRE(WaitFor([&] { return w1.acked.size() + w2.acked.size() >= 50; }, 10s));
  c.Kill(leader);
  // A new leader among the survivors, and writes flow again.
  size_t at_kill = w1.acked.size() + w2.acked.size();
  int next = c.WaitLeader();
  CHECK(next >= 0);
  CHECK(next != leader);
  bool resumed = WaitFor([&] { return w1.acked.size() + w2.acked.size() >= at_kill + 50; }, 15s);
  stop = true;
  t1.join();
  t2.join();
  REQUIRE(resumed);
  // Every acknowledged write is on every surviving member, and on the old leader once it is back.
  c.Start(leader);
  REQUIRE(c.WaitLeader() >= 0);
  for (int i = 0; i < 3; ++i) {
    auto a = All(c, i, "a/");
    auto b = All(c, i, "b/");
    for (const auto& k : w1.acked)
      CHECK(a.count(k) == 1);
    for (const auto& k : w2.acked)
      CHECK(b.count(k) == 1);
  }
}

TEST_CASE("SIGKILL every member and restart: acknowledged writes survive",
          "[store][cluster][durability]") {
  TugdCluster c;
  c.StartAll();
  REQUIRE(c.WaitLeader() >= 0);
  HttpClient client(c.Apis(), c.Token());
  std::set<std::string> acked;
  for (int i = 0; i < 200; ++i) {
    std::string k = "d/" + std::to_string(i);
    if (Put(client, k, "v").acked) acked.insert(k);
  }
  REQUIRE(acked.size() == 200);
  for (int i = 0; i < 3; ++i)
    c.Kill(i);
  c.StartAll();
  REQUIRE(c.WaitLeader() >= 0);
  for (int i = 0; i < 3; ++i)
    CHECK(All(c, i, "d/").size() == 200);
  // The revision continued where it was, not from zero.
  HttpClient after(c.Apis(), c.Token());
  auto r = after.Post("/v3/kv/put", json{{"key", B64("d/new")}, {"value", B64("x")}}.dump());
  REQUIRE(r->status == 200);
  CHECK(std::stoll(json::parse(r->body)["header"]["revision"].get<std::string>()) > 200);
}

TEST_CASE("a torn WAL tail recovers, damage mid-log refuses to start", "[store][cluster][wal]") {
  TugdCluster c;
  c.StartAll();
  REQUIRE(c.WaitLeader() >= 0);
  HttpClient client(c.Apis(), c.Token());
  for (int i = 0; i < 100; ++i)
    REQUIRE(Put(client, "w/" + std::to_string(i), std::string(100, 'x')).acked);
  int victim = c.Leader() == 2 ? 1 : 2;
  c.Kill(victim);
  namespace fs = std::filesystem;
  std::vector<fs::path> segs;
  for (const auto& e : fs::directory_iterator(c.DataDir(victim) + "/wal")) {
    if (e.path().extension() == ".wal") segs.push_back(e.path());
  }
  std::sort(segs.begin(), segs.end());
  REQUIRE(!segs.empty());
  auto last = segs.back();

  SECTION("torn tail: truncated mid-record") {
    auto size = fs::file_size(last);
    fs::resize_file(last, size - 7);
    c.Start(victim);
    REQUIRE(WaitFor([&] { return c.StatusJson(victim).has_value(); }, 10s));
    REQUIRE(c.WaitLeader() >= 0);
    CHECK_THAT(c.ReadLog(victim), Catch::Contains("torn") || Catch::Contains("truncat"));
    // It catches up with what it lost and serves everything.
    REQUIRE(WaitFor([&] { return All(c, victim, "w/", true).size() == 100; }, 10s));
  }
  SECTION("damage before the tail: refuses to start, naming file and offset") {
    // Flip a byte early in the first segment, followed by many valid records.
    std::fstream f(segs.front(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);
    char b = 0;
    f.seekg(200);
    f.read(&b, 1);
    b = static_cast<char>(b ^ 0x5a);
    f.seekp(200);
    f.write(&b, 1);
    f.close();
    c.Start(victim);
    auto code = c.WaitExit(victim, 10s);
    REQUIRE(code.has_value());
    CHECK(*code != 0);
    std::string log = c.ReadLog(victim);
    CHECK_THAT(log, Catch::Contains(segs.front().filename().string()));
    CHECK_THAT(log, Catch::Contains("offset"));
  }
}

TEST_CASE("a follower behind the compacted log catches up by snapshot",
          "[store][cluster][snapshot]") {
  ClusterOptions o;
  o.snapshot_entries = 50;
  TugdCluster c(o);
  c.StartAll();
  int leader = c.WaitLeader();
  REQUIRE(leader >= 0);
  int lagger = leader == 0 ? 1 : 0;
  c.Kill(lagger);
  HttpClient client(c.Apis(), c.Token());
  // 8 KiB values: the snapshot (~2.4 MiB) travels in several chunks.
  std::string big(8192, 'x');
  for (int i = 0; i < 300; ++i)
    REQUIRE(Put(client, "s/" + std::to_string(i), big).acked);
  c.Start(lagger);
  REQUIRE(WaitFor([&] { return All(c, lagger, "s/", /*serializable=*/true).size() == 300; }, 15s));
  CHECK_THAT(c.ReadLog(lagger), Catch::Contains("installed snapshot"));
  CHECK(All(c, lagger, "s/", true)["s/299"] == big);
}

TEST_CASE("without a quorum writes fail with 503 within the bound, then succeed again",
          "[store][cluster][quorum]") {
  ClusterOptions o;
  o.request_timeout_ms = 1500;
  TugdCluster c(o);
  c.StartAll();
  REQUIRE(c.WaitLeader() >= 0);
  c.Kill(1);
  c.Kill(2);
  HttpClient client({c.Api(0)}, c.Token());
  auto t0 = std::chrono::steady_clock::now();
  PutResult r = Put(client, "q", "v", 10000ms);
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK_FALSE(r.acked);
  CHECK(r.status == 503);
  CHECK(took < 1500ms + 1000ms);
  // A linearizable read cannot be confirmed either; a serializable one is served.
  auto rr = client.Post("/v3/kv/range", json{{"key", B64("q")}}.dump());
  REQUIRE(rr.ok());
  CHECK(rr->status == 503);
  CHECK(Get(c, 0, "q", /*serializable=*/true) == std::nullopt);
  c.Start(1);
  REQUIRE(c.WaitLeader() >= 0);
  CHECK(Put(client, "q", "v").acked);
}

TEST_CASE("a second process on the same data dir refuses to start", "[store][cluster]") {
  ClusterOptions o;
  o.members = 1;
  TugdCluster c(o);
  c.Start(0);
  REQUIRE(c.WaitLeader() >= 0);
  // A second tugd on c's data dir.
  std::string cmd =
      tug::testing::Program("tugd") + " --name cp1 --data-dir " + c.DataDir(0) +
      " --peer-addr 127.0.0.1:1 --api-addr 127.0.0.1:0 --initial-cluster cp1=127.0.0.1:1 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p);
  std::string out;
  char buf[512];
  while (::fgets(buf, sizeof(buf), p))
    out += buf;
  int st = ::pclose(p);
  CHECK(WEXITSTATUS(st) != 0);
  CHECK_THAT(out, Catch::Contains("in use"));
}

TEST_CASE("SIGTERM hands leadership over: a rolling restart fails no write",
          "[store][cluster][rolling]") {
  TugdCluster c;
  c.StartAll();
  REQUIRE(c.WaitLeader() >= 0);
  std::atomic<bool> stop{false};
  Writer w(c.Apis(), c.Token(), "r/");
  std::thread t([&] { w.Run(stop, 100000); });
  REQUIRE(WaitFor([&] { return w.acked.size() >= 20; }, 10s));
  for (int round = 0; round < 3; ++round) {
    // Restart the leader each time: the hardest case.
    int l = c.WaitLeader();
    REQUIRE(l >= 0);
    c.Signal(l, SIGTERM);
    auto code = c.WaitExit(l, 10s);
    REQUIRE(code.has_value());
    CHECK(*code == 0);
    CHECK_THAT(c.ReadLog(l), Catch::Contains("handing leadership"));
    c.Start(l);
    REQUIRE(c.WaitLeader() >= 0);
    size_t n = w.acked.size();
    REQUIRE(WaitFor([&] { return w.acked.size() >= n + 20; }, 10s));
  }
  stop = true;
  t.join();
  // The stopping member answered what it had taken, and new connections went elsewhere.
  INFO("slowest write " << w.max_latency.count() << " ms");
  CHECK(w.failures == 0);
  for (int i = 0; i < 3; ++i) {
    auto all = All(c, i, "r/");
    for (const auto& k : w.acked)
      CHECK(all.count(k) == 1);
  }
}

TEST_CASE("bad requests get clear errors and change nothing", "[store][cluster][input]") {
  ClusterOptions o;
  o.members = 1;
  o.extra_args = {"--max-request-bytes", "65536"};
  TugdCluster c(o);
  c.Start(0);
  REQUIRE(c.WaitLeader() >= 0);
  HttpClient client({c.Api(0)}, c.Token());
  auto rev = [&] {
    auto r = client.Post("/v3/kv/range", json{{"key", B64("x")}}.dump());
    return json::parse(r->body)["header"].value("revision", "0");  // proto3 JSON omits 0
  };
  std::string before = rev();
  auto bad_json = client.Post("/v3/kv/put", "{\"key\": ");
  REQUIRE(bad_json.ok());
  CHECK(bad_json->status == 400);
  CHECK_THAT(bad_json->body, Catch::Contains("malformed"));
  auto bad_b64 = client.Post("/v3/kv/put", json{{"key", "***"}, {"value", "v"}}.dump());
  REQUIRE(bad_b64.ok());
  CHECK(bad_b64->status == 400);
  auto huge = client.Post("/v3/kv/put",
                          json{{"key", B64("h")}, {"value", B64(std::string(100000, 'x'))}}.dump());
  REQUIRE(huge.ok());
  CHECK(huge->status == 413);
  CHECK_THAT(huge->body, Catch::Contains("larger than the limit"));
  HttpClient fresh({c.Api(0)}, c.Token());
  auto unknown = fresh.Get("/v3/nope");
  REQUIRE(unknown.ok());
  CHECK(unknown->status == 404);
  CHECK(rev() == before);
  // The member is still healthy after all that.
  CHECK(Put(fresh, "ok", "v").acked);
}

namespace {

// Watches [prefix, prefix+1) on `server` from `start`, collecting events (key, type) until
// `want` of them arrived or 10 s passed. Returns every JSON line the stream carried.
// On a test thread pass `error`: Catch's macros are not thread-safe, so the failure is handed
// back for the main thread to check instead of asserted here.
std::vector<json> Watch(const TugdCluster& cluster, int member, const std::string& prefix,
                        int64_t start, size_t want, std::atomic<bool>* created = nullptr,
                        std::string* error = nullptr) {
  std::string end = prefix;
  end.back() = static_cast<char>(end.back() + 1);
  json req = {
      {"create_request",
       {{"key", B64(prefix)}, {"range_end", B64(end)}, {"start_revision", std::to_string(start)}}}};
  std::vector<json> lines;
  std::string buf;
  size_t events = 0;
  HttpClient c({cluster.Api(member)}, cluster.Token());
  auto st = c.Stream(
      "POST", "/v3/watch", req.dump(),
      [&](const std::string& data) {
        buf += data;
        for (size_t nl; (nl = buf.find('\n')) != std::string::npos;) {
          lines.push_back(json::parse(buf.substr(0, nl)));
          buf.erase(0, nl + 1);
          const json& r = lines.back()["result"];
          if (r.value("created", false) && created) *created = true;
          events += r.value("events", json::array()).size();
          if (r.value("canceled", false)) return false;
        }
        return events < want;
      },
      10s);
  if (error != nullptr) {
    *error = st.message();
  } else {
    INFO(st.message());
    CHECK(st.ok());
  }
  return lines;
}

}  // namespace

TEST_CASE("watch streams history then live changes, in order, from a follower",
          "[store][cluster][watch]") {
  TugdCluster c;
  c.StartAll();
  int leader = c.WaitLeader();
  REQUIRE(leader >= 0);
  HttpClient client(c.Apis(), c.Token());
  REQUIRE(Put(client, "w/1", "a").acked);
  auto r = client.Post("/v3/kv/range", json{{"key", B64("w/1")}}.dump());
  int64_t first_rev = std::stoll(json::parse(r->body)["kvs"][0]["mod_revision"].get<std::string>());
  REQUIRE(Put(client, "w/2", "b").acked);
  int follower = leader == 0 ? 1 : 0;
  std::atomic<bool> created{false};
  std::vector<json> lines;
  std::string watch_error;
  std::thread watcher(
      [&] { lines = Watch(c, follower, "w/", first_rev, 4, &created, &watch_error); });
  REQUIRE(WaitFor([&] { return created.load(); }, 10s));
  REQUIRE(Put(client, "other", "x").acked);  // outside the range: not seen
  REQUIRE(Put(client, "w/3", "c").acked);
  HttpClient del(c.Apis(), c.Token());
  REQUIRE(del.Post("/v3/kv/deleterange", json{{"key", B64("w/1")}}.dump())->status == 200);
  watcher.join();
  CHECK(watch_error.empty());
  std::vector<std::string> seen;
  int64_t last = 0;
  for (const auto& l : lines) {
    for (const auto& ev : l["result"].value("events", json::array())) {
      std::string type = ev.value("type", "PUT");
      std::string key = UnB64(ev["kv"]["key"].get<std::string>());
      int64_t rev = std::stoll(ev["kv"]["mod_revision"].get<std::string>());
      CHECK(rev > last);  // in order, no repeats
      last = rev;
      seen.push_back(type + " " + key);
    }
  }
  CHECK(seen == std::vector<std::string>{"PUT w/1", "PUT w/2", "PUT w/3", "DELETE w/1"});
}

TEST_CASE("a watch from a compacted revision is refused and says so", "[store][cluster][watch]") {
  ClusterOptions o;
  o.members = 1;
  o.extra_args = {"--history-events", "5"};
  TugdCluster c(o);
  c.Start(0);
  REQUIRE(c.WaitLeader() >= 0);
  HttpClient client({c.Api(0)}, c.Token());
  for (int i = 0; i < 20; ++i)
    REQUIRE(Put(client, "h/" + std::to_string(i), "v").acked);
  auto lines = Watch(c, 0, "h/", 1, 1);
  REQUIRE(lines.size() >= 2);
  const json& r = lines.back()["result"];
  CHECK(r.value("canceled", false));
  CHECK(std::stoll(r.value("compact_revision", "0")) >= 15);
  CHECK_THAT(r.value("cancel_reason", ""), Catch::Contains("compacted"));
}
