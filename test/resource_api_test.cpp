// The Kubernetes-shaped API against three real tugd processes (with the controllers off):
// every verb on every kind, optimistic concurrency, subresources, selectors, watches (order,
// resume, 410), the same answers through followers, bad input, authentication and metrics.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "test/support/objects.h"
#include "test/support/tugd_cluster.h"

using namespace std::chrono_literals;
using nlohmann::json;
using tug::net::HttpClient;
using tug::net::RequestOptions;
using tug::testing::ClusterOptions;
using tug::testing::TugdCluster;
using tug::testing::WaitFor;

namespace {

struct Answer {
  int code = 0;
  json body;
  std::string text;
};

// A client of one member (or of all, failing over), speaking JSON.
class Api {
 public:
  Api(const TugdCluster& c, std::vector<std::string> servers)
      : client_(std::move(servers), c.Token()) {}
  Api(std::vector<std::string> servers, const std::string& token)
      : client_(std::move(servers), token) {}

  // `retry`: let the client retry reads on 503 (as every client should); off to see the 503.
  Answer Call(const std::string& method, const std::string& path, const std::string& body = "",
              const std::string& content_type = "application/json", bool retry = true) {
    RequestOptions o;
    o.content_type = content_type;
    o.timeout = 10s;
    o.idempotent = retry && method != "POST";
    auto r = client_.Do(method, path, body, o);
    // No Catch macro here: test threads call this too, and Catch is not thread-safe (two
    // threads inside INFO at once corrupted its state). No answer at all is code 0, which
    // every caller's check of the code reports, with the reason in `text`.
    Answer a;
    if (!r.ok()) {
      a.text = method + " " + path + ": " + r.status().message();
      return a;
    }
    a.code = r->status;
    a.text = r->body;
    a.body = json::parse(r->body, nullptr, false);
    return a;
  }
  Answer Get(const std::string& path) { return Call("GET", path); }
  Answer Post(const std::string& path, const json& body) { return Call("POST", path, body.dump()); }
  Answer Put(const std::string& path, const json& body) { return Call("PUT", path, body.dump()); }
  Answer Patch(const std::string& path, const json& patch) {
    return Call("PATCH", path, patch.dump(), "application/merge-patch+json");
  }
  Answer Delete(const std::string& path) { return Call("DELETE", path); }

  // Reads a watch stream until `want` events arrived or `timeout` passed.
  std::vector<json> Watch(const std::string& path, size_t want,
                          std::chrono::milliseconds timeout = 10s) {
    std::vector<json> events;
    std::string buf;
    auto st = client_.Stream(
        "GET", path, "",
        [&](const std::string& data) {
          buf += data;
          size_t nl;
          while ((nl = buf.find('\n')) != std::string::npos) {
            events.push_back(json::parse(buf.substr(0, nl)));
            buf.erase(0, nl + 1);
          }
          return events.size() < want;
        },
        timeout);
    // No Catch assertion here: Watch runs on test threads too, and Catch is not thread-safe
    // (two threads asserting at once corrupted its state: "double free or corruption").
    // Callers check the events; the error is kept for their messages.
    if (!st.ok()) last_watch_error = path + ": " + st.message();
    return events;
  }
  std::string last_watch_error;

  int64_t Revision() {
    auto a = Call("POST", "/v3/maintenance/status", "{}");
    return std::stoll(a.body["header"].value("revision", "0"));
  }

 private:
  HttpClient client_;
};

std::string Rv(const json& obj) {
  return obj["metadata"]["resourceVersion"].get<std::string>();
}

using tug::testing::Deployment;

json Pod(const std::string& name, const std::string& app, const std::string& node = "") {
  json p = {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", name}, {"labels", {{"app", app}}}}},
            {"spec", {{"containers", {{{"name", "main"}, {"command", {"/bin/sleep", "1000"}}}}}}}};
  if (!node.empty()) p["spec"]["nodeName"] = node;
  return p;
}

json Node(const std::string& name) {
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", {{"name", name}, {"labels", {{"zone", "a"}}}}},
          {"status",
           {{"capacity", {{"cpu", "4"}, {"memory", "8Gi"}}},
            {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}};
}

json Event(const std::string& name) {
  return {{"apiVersion", "v1"},
          {"kind", "Event"},
          {"metadata", {{"name", name}}},
          {"involvedObject", {{"kind", "Pod"}, {"name", "web-1"}, {"namespace", "default"}}},
          {"reason", "Scheduled"},
          {"message", "assigned to node-a"}};
}

struct Kind {
  std::string collection;  // where to POST and LIST
  json object;
  json change;  // a merge patch that changes something
};

std::vector<Kind> Kinds() {
  return {
      {"/apis/apps/v1/namespaces/default/deployments",
       Deployment("web", 2),
       {{"spec", {{"replicas", 3}}}}},
      {"/api/v1/namespaces/default/pods",
       Pod("web-1", "web"),
       {{"metadata", {{"labels", {{"tier", "front"}}}}}}},
      {"/api/v1/nodes", Node("node-a"), {{"spec", {{"unschedulable", true}}}}},
      {"/api/v1/namespaces/default/events", Event("web-1.scheduled"), {{"count", 2}}},
      {"/api/v1/namespaces/default/services",
       {{"apiVersion", "v1"},
        {"kind", "Service"},
        {"metadata", {{"name", "web"}}},
        {"spec",
         {{"type", "NodePort"},
          {"selector", {{"app", "web"}}},
          {"ports", {{{"port", 80}, {"targetPort", 8080}}}}}}},
       {{"spec", {{"selector", {{"app", "web"}, {"tier", "front"}}}}}}},
      {"/api/v1/namespaces/default/endpoints",
       {{"apiVersion", "v1"},
        {"kind", "Endpoints"},
        {"metadata", {{"name", "external-db"}}},
        {"subsets", {{{"addresses", {{{"ip", "192.0.2.10"}}}}, {"ports", {{{"port", 5432}}}}}}}},
       {{"subsets", {{{"addresses", {{{"ip", "192.0.2.11"}}}}, {"ports", {{{"port", 5432}}}}}}}}},
  };
}

// The API on its own: these tests check what the API does with each request, so the
// controllers (which would schedule the test's pods and write statuses) stay off.
ClusterOptions ApiOnly() {
  ClusterOptions o;
  o.extra_args = {"--run-controllers", "false"};
  return o;
}

TugdCluster& Started(TugdCluster& c) {
  c.StartAll();
  REQUIRE(c.WaitLeader() >= 0);
  return c;
}

}  // namespace

TEST_CASE("create, get, list, replace, merge-patch and delete work for every kind",
          "[api][cluster]") {
  TugdCluster c(ApiOnly());
  Started(c);
  Api api(c, c.Apis());
  for (const Kind& k : Kinds()) {
    std::string name = k.object["metadata"]["name"];
    std::string item = k.collection + "/" + name;
    INFO(item);

    auto created = api.Post(k.collection, k.object);
    INFO(created.text);
    REQUIRE(created.code == 201);
    const json& md = created.body["metadata"];
    CHECK(md["uid"].get<std::string>().size() == 36);
    CHECK(md.contains("creationTimestamp"));
    CHECK(std::stoll(Rv(created.body)) > 0);
    CHECK(created.body["kind"] == k.object["kind"]);

    auto got = api.Get(item);
    REQUIRE(got.code == 200);
    CHECK(got.body == created.body);

    auto list = api.Get(k.collection);
    REQUIRE(list.code == 200);
    CHECK(list.body["kind"] == k.object["kind"].get<std::string>() + "List");
    REQUIRE(list.body["items"].size() == 1);
    CHECK(list.body["items"][0] == created.body);
    CHECK(std::stoll(list.body["metadata"]["resourceVersion"].get<std::string>()) >=
          std::stoll(Rv(created.body)));

    // Replace with the read resourceVersion; unknown fields survive the round trip.
    json replaced = got.body;
    replaced["metadata"]["annotations"] = {{"note", "replaced"}};
    replaced["x-unknown"] = {{"kept", true}};
    auto put = api.Put(item, replaced);
    INFO(put.text);
    REQUIRE(put.code == 200);
    CHECK(std::stoll(Rv(put.body)) > std::stoll(Rv(created.body)));
    CHECK(put.body["metadata"]["annotations"]["note"] == "replaced");
    CHECK(put.body["x-unknown"]["kept"] == true);
    CHECK(put.body["metadata"]["uid"] == md["uid"]);

    auto patched = api.Patch(item, k.change);
    INFO(patched.text);
    REQUIRE(patched.code == 200);
    CHECK(std::stoll(Rv(patched.body)) > std::stoll(Rv(put.body)));
    json expect = put.body;
    expect.merge_patch(k.change);
    for (const auto& [field, v] : k.change.items()) {
      if (field != "metadata") CHECK(patched.body[field] == expect[field]);
    }
    CHECK(patched.body["x-unknown"]["kept"] == true);
    CHECK(api.Get(item).body == patched.body);

    if (k.collection.find("/deployments") != std::string::npos) {
      // kubectl's strategic merge patch: the container named changes, the rest stays.
      json before = patched.body["spec"]["template"]["spec"]["containers"][0];
      json smp = {
          {"spec",
           {{"template",
             {{"spec", {{"containers", {{{"name", before["name"]}, {"image", "other:2"}}}}}}}}}}};
      auto strategic =
          api.Call("PATCH", item, smp.dump(), "application/strategic-merge-patch+json");
      INFO(strategic.text);
      REQUIRE(strategic.code == 200);
      json after = strategic.body["spec"]["template"]["spec"]["containers"][0];
      CHECK(after["image"] == "other:2");
      before.erase("image");
      after.erase("image");
      CHECK(after == before);
    }

    auto deleted = api.Delete(item);
    INFO(deleted.text);
    REQUIRE(deleted.code == 200);
    CHECK(deleted.body["metadata"]["uid"] == md["uid"]);
    auto gone = api.Get(item);
    CHECK(gone.code == 404);
    CHECK(gone.body["kind"] == "Status");
    CHECK(gone.body["reason"] == "NotFound");
    CHECK(api.Get(k.collection).body["items"].empty());
  }
}

TEST_CASE("generation counts spec changes, and status and scale are subresources",
          "[api][cluster]") {
  TugdCluster c(ApiOnly());
  Started(c);
  Api api(c, c.Apis());
  const std::string d = "/apis/apps/v1/namespaces/default/deployments";
  auto created = api.Post(d, Deployment("web", 2));
  REQUIRE(created.code == 201);
  CHECK(created.body["metadata"]["generation"] == 1);
  CHECK(created.body["status"] == json::object());

  // A label change is not a spec change.
  auto labeled = api.Patch(d + "/web", {{"metadata", {{"labels", {{"team", "a"}}}}}});
  REQUIRE(labeled.code == 200);
  CHECK(labeled.body["metadata"]["generation"] == 1);

  // The controllers' write: /status changes only the status.
  json st = labeled.body;
  st["status"] = {{"replicas", 2}, {"readyReplicas", 1}, {"observedGeneration", 1}};
  st["spec"]["replicas"] = 99;  // ignored on /status
  auto status = api.Put(d + "/web/status", st);
  INFO(status.text);
  REQUIRE(status.code == 200);
  CHECK(status.body["status"]["readyReplicas"] == 1);
  CHECK(status.body["spec"]["replicas"] == 2);
  CHECK(status.body["metadata"]["generation"] == 1);

  // The users' write: the main resource keeps the status whatever the body says.
  json user = status.body;
  user["status"] = json::object();
  user["spec"]["replicas"] = 4;
  auto main = api.Put(d + "/web", user);
  REQUIRE(main.code == 200);
  CHECK(main.body["status"]["readyReplicas"] == 1);
  CHECK(main.body["spec"]["replicas"] == 4);
  CHECK(main.body["metadata"]["generation"] == 2);

  // Scale: autoscaling/v1, read and written without touching the rest.
  auto scale = api.Get(d + "/web/scale");
  REQUIRE(scale.code == 200);
  CHECK(scale.body["kind"] == "Scale");
  CHECK(scale.body["apiVersion"] == "autoscaling/v1");
  CHECK(scale.body["spec"]["replicas"] == 4);
  CHECK(scale.body["status"]["replicas"] == 2);
  CHECK(scale.body["status"]["selector"] == "app=web");
  auto scaled = api.Patch(d + "/web/scale", {{"spec", {{"replicas", 7}}}});
  REQUIRE(scaled.code == 200);
  CHECK(scaled.body["spec"]["replicas"] == 7);
  json put_scale = scaled.body;
  put_scale["spec"]["replicas"] = 1;
  auto put = api.Put(d + "/web/scale", put_scale);
  REQUIRE(put.code == 200);
  CHECK(put.body["spec"]["replicas"] == 1);
  auto after = api.Get(d + "/web");
  CHECK(after.body["spec"]["replicas"] == 1);
  CHECK(after.body["metadata"]["generation"] == 4);
  CHECK(after.body["metadata"]["labels"]["team"] == "a");
  CHECK(after.body["status"]["readyReplicas"] == 1);

  // A stale Scale is a conflict; a negative one is invalid; neither changes anything.
  auto stale = api.Put(d + "/web/scale", put_scale);
  CHECK(stale.code == 409);
  auto negative = api.Patch(d + "/web/scale", {{"spec", {{"replicas", -1}}}});
  CHECK(negative.code == 422);
  CHECK(negative.body["message"] ==
        "Scale.autoscaling \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater "
        "than or equal to 0");
  CHECK(api.Get(d + "/web").body == after.body);

  // A write that changes nothing is not written.
  auto same = api.Put(d + "/web", after.body);
  REQUIRE(same.code == 200);
  CHECK(Rv(same.body) == Rv(after.body));
}

TEST_CASE("a write with a stale resourceVersion gets 409 and changes nothing", "[api][cluster]") {
  TugdCluster c(ApiOnly());
  Started(c);
  Api api(c, c.Apis());
  const std::string pods = "/api/v1/namespaces/default/pods";
  auto v1 = api.Post(pods, Pod("p", "web"));
  REQUIRE(v1.code == 201);
  auto again = api.Post(pods, Pod("p", "other"));
  CHECK(again.code == 409);
  CHECK(again.body["reason"] == "AlreadyExists");
  CHECK(again.body["message"] == "pods \"p\" already exists");

  // Two writers read the same version; the second to write loses.
  json a = v1.body, b = v1.body;
  a["metadata"]["labels"]["writer"] = "a";
  b["metadata"]["labels"]["writer"] = "b";
  auto wa = api.Put(pods + "/p", a);
  REQUIRE(wa.code == 200);
  auto wb = api.Put(pods + "/p", b);
  CHECK(wb.code == 409);
  CHECK(wb.body["reason"] == "Conflict");
  CHECK(wb.body["message"] ==
        "Operation cannot be fulfilled on pods \"p\": the object has been modified; please apply "
        "your changes to the latest version and try again");
  auto stale_patch = api.Patch(
      pods + "/p", {{"metadata", {{"resourceVersion", Rv(v1.body)}, {"labels", {{"x", "y"}}}}}});
  CHECK(stale_patch.code == 409);
  auto stale_delete = api.Call("DELETE", pods + "/p",
                               json{{"kind", "DeleteOptions"},
                                    {"apiVersion", "v1"},
                                    {"preconditions", {{"resourceVersion", Rv(v1.body)}}}}
                                   .dump());
  CHECK(stale_delete.code == 409);
  auto now = api.Get(pods + "/p");
  CHECK(now.body == wa.body);

  // Without a resourceVersion, concurrent merge patches all land (retried on the fresh
  // object), none lost.
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};  // counted, not asserted: Catch is not thread-safe
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&c, &failed, t, pods] {
      Api mine(c, c.Apis());
      for (int i = 0; i < 5; ++i) {
        auto r = mine.Patch(
            pods + "/p",
            {{"metadata",
              {{"annotations", {{"t" + std::to_string(t) + "-" + std::to_string(i), "done"}}}}}});
        if (r.code != 200) ++failed;
      }
    });
  }
  for (auto& t : threads)
    t.join();
  CHECK(failed == 0);
  CHECK(api.Get(pods + "/p").body["metadata"]["annotations"].size() == 20);
}

TEST_CASE("list and watch select by labels and fields", "[api][cluster]") {
  TugdCluster c(ApiOnly());
  Started(c);
  Api api(c, c.Apis());
  const std::string pods = "/api/v1/namespaces/default/pods";
  REQUIRE(api.Post(pods, Pod("a1", "a", "node-a")).code == 201);
  REQUIRE(api.Post(pods, Pod("a2", "a", "node-b")).code == 201);
  REQUIRE(api.Post(pods, Pod("b1", "b", "node-a")).code == 201);
  REQUIRE(api.Post(pods, Pod("c1", "c")).code == 201);
  json other = Pod("x1", "a", "node-a");
  other["metadata"]["namespace"] = "other";
  REQUIRE(api.Post("/api/v1/namespaces/other/pods", other).code == 201);

  auto names = [&](const std::string& query) {
    auto r = api.Get(query);
    INFO(query << ": " << r.text);
    REQUIRE(r.code == 200);
    std::set<std::string> out;
    for (const auto& p : r.body["items"])
      out.insert(p["metadata"]["name"].get<std::string>());
    return out;
  };
  using S = std::set<std::string>;
  CHECK(names(pods + "?labelSelector=app%3Da") == S{"a1", "a2"});
  CHECK(names(pods + "?labelSelector=app!%3Da") == S{"b1", "c1"});
  CHECK(names(pods + "?labelSelector=app%20in%20(b,c)") == S{"b1", "c1"});
  CHECK(names(pods + "?labelSelector=app%20notin%20(a)") == S{"b1", "c1"});
  CHECK(names(pods + "?labelSelector=app") == S{"a1", "a2", "b1", "c1"});
  CHECK(names(pods + "?labelSelector=!app").empty());
  CHECK(names(pods + "?fieldSelector=spec.nodeName%3Dnode-a") == S{"a1", "b1"});
  CHECK(names(pods + "?fieldSelector=spec.nodeName%3D") == S{"c1"});
  CHECK(names(pods + "?fieldSelector=status.phase%3DPending") == S{"a1", "a2", "b1", "c1"});
  CHECK(names(pods + "?fieldSelector=spec.nodeName%3Dnode-a&labelSelector=app%3Da") == S{"a1"});
  CHECK(names("/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a") == S{"a1", "b1", "x1"});
  CHECK(names("/api/v1/pods?fieldSelector=metadata.namespace%3Dother") == S{"x1"});

  auto bad = api.Get(pods + "?fieldSelector=spec.color%3Dred");
  CHECK(bad.code == 400);
  CHECK(bad.body["message"].get<std::string>().find("field label not supported: spec.color") !=
        std::string::npos);
  CHECK(api.Get(pods + "?labelSelector=app%20in%20a").code == 400);

  // Pages: limit and continue give every object once, from one revision.
  auto page1 = api.Get(pods + "?limit=3");
  REQUIRE(page1.code == 200);
  CHECK(page1.body["items"].size() == 3);
  std::string cont = page1.body["metadata"]["continue"];
  REQUIRE(api.Post(pods, Pod("z9", "z")).code == 201);  // after the first page: not listed
  auto page2 = api.Get(pods + "?limit=3&continue=" + cont);
  REQUIRE(page2.code == 200);
  CHECK(page2.body["items"].size() == 1);
  CHECK(!page2.body["metadata"].contains("continue"));

  // A watch with a selector: objects entering and leaving the selection are ADDED and DELETED.
  auto list = api.Get(pods + "?labelSelector=app%3Db");
  std::string rv = list.body["metadata"]["resourceVersion"];
  REQUIRE(api.Patch(pods + "/c1", {{"metadata", {{"labels", {{"app", "b"}}}}}}).code == 200);
  REQUIRE(api.Patch(pods + "/b1", {{"metadata", {{"annotations", {{"n", "1"}}}}}}).code == 200);
  REQUIRE(api.Patch(pods + "/b1", {{"metadata", {{"labels", {{"app", "a"}}}}}}).code == 200);
  REQUIRE(api.Patch(pods + "/a1", {{"metadata", {{"annotations", {{"n", "1"}}}}}}).code == 200);
  REQUIRE(api.Delete(pods + "/c1").code == 200);
  auto events = api.Watch(pods + "?watch=true&labelSelector=app%3Db&resourceVersion=" + rv, 4);
  REQUIRE(events.size() == 4);
  std::vector<std::pair<std::string, std::string>> seen;
  for (const auto& e : events)
    seen.emplace_back(e["type"], e["object"]["metadata"]["name"]);
  CHECK(seen == std::vector<std::pair<std::string, std::string>>{
                    {"ADDED", "c1"}, {"MODIFIED", "b1"}, {"DELETED", "b1"}, {"DELETED", "c1"}});
}

TEST_CASE(
    "a watch streams every change in order, resumes without gaps or repeats, and answers "
    "410 for a compacted revision",
    "[api][cluster][watch]") {
  ClusterOptions o = ApiOnly();
  o.extra_args.insert(o.extra_args.end(), {"--history-events", "40"});
  TugdCluster c(o);
  Started(c);
  int leader = c.Leader();
  int follower = (leader + 1) % 3;
  Api api(c, c.Apis());
  Api via_follower(c, {c.Api(follower)});
  const std::string d = "/apis/apps/v1/namespaces/default/deployments";
  REQUIRE(api.Post("/api/v1/nodes", Node("first")).code == 201);  // the revision is not 0
  auto list = api.Get(d);
  std::string start = list.body["metadata"]["resourceVersion"];
  REQUIRE(start != "0");

  // A live watcher on a follower while writes go through the leader.
  std::vector<json> live;
  std::thread watcher(
      [&] { live = via_follower.Watch(d + "?watch=true&resourceVersion=" + start, 12, 20s); });
  Api writer(c, {c.Api(leader)});
  std::vector<std::string> rvs;
  for (int i = 0; i < 4; ++i) {
    auto r = writer.Post(d, Deployment("d" + std::to_string(i), 1));
    REQUIRE(r.code == 201);
    rvs.push_back(Rv(r.body));
  }
  for (int i = 0; i < 4; ++i) {
    auto r = writer.Patch(d + "/d" + std::to_string(i), {{"spec", {{"replicas", 2}}}});
    REQUIRE(r.code == 200);
    rvs.push_back(Rv(r.body));
  }
  for (int i = 0; i < 4; ++i) {
    REQUIRE(writer.Delete(d + "/d" + std::to_string(i)).code == 200);
  }
  watcher.join();
  INFO(via_follower.last_watch_error);
  REQUIRE(live.size() == 12);
  int64_t prev = std::stoll(start);
  for (size_t i = 0; i < live.size(); ++i) {
    INFO(live[i].dump());
    CHECK(live[i]["type"] == (i < 4 ? "ADDED" : i < 8 ? "MODIFIED" : "DELETED"));
    CHECK(live[i]["object"]["metadata"]["name"] == "d" + std::to_string(i % 4));
    int64_t rv = std::stoll(Rv(live[i]["object"]));
    CHECK(rv > prev);
    prev = rv;
    if (i < 8) CHECK(Rv(live[i]["object"]) == rvs[i]);
  }

  // Resume from the middle: exactly the events after it, on another member.
  for (int m = 0; m < 3; ++m) {
    Api one(c, {c.Api(m)});
    auto rest = one.Watch(d + "?watch=true&resourceVersion=" + rvs[5], 6, 2s);
    REQUIRE(rest.size() == 6);
    CHECK(Rv(rest[0]["object"]) == rvs[6]);
    CHECK(rest[5]["type"] == "DELETED");
    CHECK(rest[5]["object"]["metadata"]["name"] == "d3");
  }

  // Without a resourceVersion: the current state first.
  REQUIRE(writer.Post(d, Deployment("now", 1)).code == 201);
  auto initial = api.Watch(d + "?watch=true", 1, 2s);
  REQUIRE(initial.size() == 1);
  CHECK(initial[0]["type"] == "ADDED");
  CHECK(initial[0]["object"]["metadata"]["name"] == "now");

  // Push the start revision out of the history.
  for (int i = 0; i < 60; ++i)
    REQUIRE(writer.Patch(d + "/now", {{"metadata", {{"annotations", {{"i", std::to_string(i)}}}}}})
                .code == 200);
  auto r = api.Get(d + "?watch=true&resourceVersion=" + start);
  CHECK(r.code == 410);
  CHECK(r.body["reason"] == "Expired");
  CHECK(r.body["message"].get<std::string>().find("too old resource version") != std::string::npos);
  // The client's way out: list again and watch from there.
  auto relist = api.Get(d);
  auto fresh = api.Watch(d + "?watch=true&timeoutSeconds=1&resourceVersion=" +
                             relist.body["metadata"]["resourceVersion"].get<std::string>(),
                         1, 3s);
  CHECK(fresh.empty());
}

TEST_CASE("a follower answers as the leader does", "[api][cluster]") {
  TugdCluster c(ApiOnly());
  Started(c);
  int leader = c.Leader();
  const std::string pods = "/api/v1/namespaces/default/pods";
  for (int m = 0; m < 3; ++m) {
    Api one(c, {c.Api(m)});
    auto r = one.Post(pods, Pod("via-" + c.Name(m), "web"));
    INFO(r.text);
    REQUIRE(r.code == 201);
    // Read-your-writes on every member, at once (linearizable reads).
    for (int n = 0; n < 3; ++n) {
      Api other(c, {c.Api(n)});
      auto got = other.Get(pods + "/via-" + c.Name(m));
      REQUIRE(got.code == 200);
      CHECK(got.body == r.body);
    }
  }
  Api at_leader(c, {c.Api(leader)});
  auto expect = at_leader.Get(pods);
  for (int m = 0; m < 3; ++m) {
    Api one(c, {c.Api(m)});
    auto l = one.Get(pods);
    CHECK(l.body["items"] == expect.body["items"]);
    auto conflict = one.Post(pods, Pod("via-cp1", "web"));
    CHECK(conflict.code == 409);
  }
}

TEST_CASE("bad requests get the right Status and change nothing", "[api][cluster]") {
  ClusterOptions o = ApiOnly();
  o.extra_args.insert(o.extra_args.end(), {"--max-request-bytes", "65536"});
  TugdCluster c(o);
  Started(c);
  Api api(c, c.Apis());
  const std::string d = "/apis/apps/v1/namespaces/default/deployments";
  REQUIRE(api.Post(d, Deployment("web", 1)).code == 201);
  int64_t rev = api.Revision();

  json bad_name = Deployment("Web_Server", 1);
  json negative = Deployment("neg", -2);
  json mismatch = Deployment("mm", 1);
  mismatch["spec"]["selector"]["matchLabels"]["app"] = "other";
  json no_containers = Deployment("empty", 1);
  no_containers["spec"]["template"]["spec"]["containers"] = json::array();
  json bad_quantity = Pod("q", "web");
  bad_quantity["spec"]["containers"][0]["resources"] = {{"requests", {{"memory", "12 apples"}}}};
  json wrong_kind = Pod("wk", "web");
  json other_ns = Deployment("ns", 1);
  other_ns["metadata"]["namespace"] = "kube-system";

  // "Billion laughs": each level refers to the previous one ten times.
  std::string laughs = "a0: &a0 [lol]\n";
  for (int i = 1; i <= 9; ++i) {
    laughs += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k)
      laughs += std::string(k ? ", " : "") + "*a" + std::to_string(i - 1);
    laughs += "]\n";
  }
  std::string deep_yaml = "metadata: {name: deep}\nspec:\n";
  for (int i = 0; i < 150; ++i)
    deep_yaml += std::string(2 * i + 2, ' ') + "k:\n";
  deep_yaml += std::string(302, ' ') + "v: 1\n";
  struct Case {
    std::string what, method, path, body, content_type;
    int code;
    std::string reason, message;
  };
  const std::string pods = "/api/v1/namespaces/default/pods";
  std::vector<Case> cases = {
      {"malformed JSON", "POST", d, "{\"metadata\": {\"name\": \"x\",}", "application/json", 400,
       "BadRequest", "request body"},
      {"malformed YAML", "POST", d, "metadata:\n  name: [x\n", "application/yaml", 400,
       "BadRequest", "request body:"},
      {"two documents", "POST", d, "metadata: {name: a}\n---\nmetadata: {name: b}\n",
       "application/yaml", 400, "BadRequest", "2 documents"},
      {"nested too deeply", "POST", d,
       "{\"metadata\":" + std::string(5000, '[') + std::string(5000, ']') + "}", "application/json",
       400, "BadRequest", "nested more than 100 levels deep"},
      {"nested too deeply in a patch", "PATCH", d + "/web",
       "{\"spec\":" + std::string(5000, '[') + std::string(5000, ']') + "}",
       "application/merge-patch+json", 400, "BadRequest", "nested more than 100 levels deep"},
      {"a name that is not UTF-8", "GET", d + "/%FF%FE", "", "application/json", 404, "NotFound",
       "not found"},
      {"YAML that is not UTF-8", "POST", d, "metadata:\n  name: \xff\xfe\n", "application/yaml",
       400, "BadRequest", "not valid UTF-8"},
      {"YAML aliases that expand exponentially", "POST", d, laughs, "application/yaml", 400,
       "BadRequest", "expands to more than"},
      {"YAML nested too deeply", "POST", d, deep_yaml, "application/yaml", 400, "BadRequest",
       "nested more than 100 levels deep"},
      {"a huge number in YAML", "POST", d,
       "metadata: {name: big}\nspec:\n  replicas: " + std::string(20000, '9') + "\n",
       "application/yaml", 422, "Invalid", "spec.replicas"},
      {"a status that is not an object", "PUT", d + "/web/status",
       "{\"metadata\":{\"name\":\"web\"},\"status\":\"broken\"}", "application/json", 422,
       "Invalid", "status: Invalid value: broken: must be an object"},
      {"not an object", "POST", d, "\"web\"", "application/json", 400, "BadRequest",
       "must be an object"},
      {"invalid name", "POST", d, bad_name.dump(), "application/json", 422, "Invalid",
       "Deployment.apps \"Web_Server\" is invalid: metadata.name: Invalid value: Web_Server: a "
       "lowercase RFC 1123 label"},
      {"negative replicas", "POST", d, negative.dump(), "application/json", 422, "Invalid",
       "spec.replicas: Invalid value: -2: must be greater than or equal to 0"},
      {"selector does not match the template", "POST", d, mismatch.dump(), "application/json", 422,
       "Invalid", "`selector` does not match template `labels`"},
      {"no containers", "POST", d, no_containers.dump(), "application/json", 422, "Invalid",
       "spec.template.spec.containers: Required value"},
      {"bad quantity", "POST", pods, bad_quantity.dump(), "application/json", 422, "Invalid",
       "spec.containers[0].resources.requests.memory: Invalid value: 12 apples"},
      {"a Pod sent to deployments", "POST", d, wrong_kind.dump(), "application/json", 422,
       "Invalid", "kind: Invalid value: Pod: must be Deployment"},
      {"namespace differs from the URL", "POST", d, other_ns.dump(), "application/json", 400,
       "BadRequest", "does not match the namespace sent on the request"},
      {"huge body", "POST", d, std::string(100000, ' ') + "{}", "application/json", 413,
       "RequestEntityTooLarge", ""},
      {"wrong content type", "POST", d, Deployment("ct", 1).dump(), "text/plain", 415,
       "UnsupportedMediaType", "application/json, application/yaml"},
      {"server-side apply", "PATCH", d + "/web", "{\"spec\":{\"replicas\":5}}",
       "application/apply-patch+yaml", 415, "UnsupportedMediaType",
       "application/strategic-merge-patch+json"},
      {"strategic merge patch without a merge key", "PATCH", d + "/web",
       "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"image\":\"x\"}]}}}}",
       "application/strategic-merge-patch+json", 422, "Invalid", "lacks its merge key \"name\""},
      {"invalid patch result", "PATCH", d + "/web", "{\"spec\":{\"replicas\":-1}}",
       "application/merge-patch+json", 422, "Invalid", "must be greater than or equal to 0"},
      {"renaming by PUT", "PUT", d + "/web", Deployment("other", 1).dump(), "application/json", 400,
       "BadRequest", "does not match the name on the URL"},
      {"unknown object", "GET", d + "/nope", "", "application/json", 404, "NotFound",
       "deployments.apps \"nope\" not found"},
      {"unknown object on delete", "DELETE", d + "/nope", "", "application/json", 404, "NotFound",
       "deployments.apps \"nope\" not found"},
      {"unknown resource", "GET", "/apis/apps/v1/namespaces/default/statefulsets", "",
       "application/json", 404, "NotFound", "could not find the requested resource"},
      {"unknown path", "GET", "/nothing/here", "", "application/json", 404, "NotFound", ""},
      {"unsupported method", "PUT", d, "{}", "application/json", 405, "MethodNotAllowed", ""},
      {"bad label selector", "GET", d + "?labelSelector=a%20in%20(", "", "application/json", 400,
       "BadRequest", "labelSelector"},
  };
  for (const auto& k : cases) {
    INFO(k.what);
    auto r = api.Call(k.method, k.path, k.body, k.content_type);
    INFO(r.text);
    CHECK(r.code == k.code);
    CHECK(r.body["kind"] == "Status");
    CHECK(r.body["status"] == "Failure");
    CHECK(r.body["code"] == k.code);
    CHECK(r.body["reason"] == k.reason);
    CHECK(r.body["message"].get<std::string>().find(k.message) != std::string::npos);
  }
  CHECK(api.Revision() == rev);
  auto list = api.Get(d);
  REQUIRE(list.body["items"].size() == 1);
  CHECK(list.body["items"][0]["spec"]["replicas"] == 1);

  // YAML bodies and the seed's short form are accepted.
  auto yaml = api.Call("POST", d, "spec:\n  name: seed\n  replicas: 3\n  image: web:1\n",
                       "application/yaml");
  INFO(yaml.text);
  CHECK(yaml.code == 201);
  CHECK(yaml.body["spec"]["template"]["spec"]["containers"][0]["image"] == "web:1");
}

TEST_CASE("every endpoint but the health checks needs the cluster token", "[api][cluster]") {
  TugdCluster c(ApiOnly());
  Started(c);
  Api none(std::vector<std::string>{c.Api(0)}, "");
  Api wrong(std::vector<std::string>{c.Api(0)}, "not-the-token");
  for (const std::string path : {"/api/v1/namespaces/default/pods", "/apis/apps/v1/deployments",
                                 "/api/v1/nodes", "/metrics", "/cluster/status"}) {
    INFO(path);
    auto a = none.Get(path);
    CHECK(a.code == 401);
    CHECK(a.body["reason"] == "Unauthorized");
    CHECK(wrong.Get(path).code == 401);
  }
  CHECK(none.Call("POST", "/v3/kv/range", "{}").code == 401);
  CHECK(none.Call("POST", "/api/v1/namespaces/default/pods", Pod("p", "a").dump()).code == 401);
  CHECK(none.Get("/healthz").code == 200);
  CHECK(none.Get("/readyz").code == 200);
  Api ok(c, {c.Api(0)});
  CHECK(ok.Get("/api/v1/namespaces/default/pods").body["items"].empty());
}

TEST_CASE("without --token-file the members agree on a generated token kept in each data dir",
          "[api][cluster]") {
  ClusterOptions o = ApiOnly();
  o.token_file = false;
  TugdCluster c(o);
  c.StartAll();
  auto token_of = [&](int i) {
    std::ifstream f(c.DataDir(i) + "/token");
    std::string t;
    f >> t;
    return t;
  };
  REQUIRE(WaitFor(
      [&] { return !token_of(0).empty() && !token_of(1).empty() && !token_of(2).empty(); }, 30s));
  CHECK(token_of(0).size() == 64);
  CHECK(token_of(0) == token_of(1));
  CHECK(token_of(1) == token_of(2));
  for (int i = 0; i < 3; ++i) {
    struct stat st {};
    REQUIRE(::stat((c.DataDir(i) + "/token").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    Api api(std::vector<std::string>{c.Api(i)}, token_of(0));
    CHECK(api.Post("/api/v1/nodes", Node("n" + std::to_string(i))).code == 201);
  }
  // A member restarted keeps the token it saved.
  c.Kill(1);
  c.Start(1);
  Api api(std::vector<std::string>{c.Api(1)}, token_of(0));
  REQUIRE(WaitFor([&] { return api.Get("/api/v1/nodes").code == 200; }, 30s));
  CHECK(api.Get("/api/v1/nodes").body["items"].size() == 3);
}

TEST_CASE("/metrics reports requests, Raft and watchers in the Prometheus format",
          "[api][cluster]") {
  TugdCluster c(ApiOnly());
  Started(c);
  Api api(c, {c.Api(0)});
  REQUIRE(api.Post("/api/v1/namespaces/default/pods", Pod("m", "a")).code == 201);
  REQUIRE(api.Get("/api/v1/namespaces/default/pods/m").code == 200);
  REQUIRE(api.Get("/api/v1/namespaces/default/pods/none").code == 404);
  std::string text = api.Call("GET", "/metrics").text;
  INFO(text);
  for (const std::string want :
       {"tug_api_requests_total{verb=\"CREATE\",resource=\"pods\",code=\"201\"} 1",
        "tug_api_requests_total{verb=\"GET\",resource=\"pods\",code=\"200\"} 1",
        "tug_api_requests_total{verb=\"GET\",resource=\"pods\",code=\"404\"} 1",
        "tug_api_request_duration_seconds_count{verb=\"CREATE\",resource=\"pods\"} 1",
        "# TYPE tug_api_request_duration_seconds histogram", "tug_raft_term ",
        "tug_raft_leader_changes_total ", "tug_raft_commit_index ", "tug_raft_applied_index ",
        "tug_raft_proposals_total ", "tug_watchers 0", "tug_wal_fsync_duration_seconds_count "}) {
    CHECK(text.find(want) != std::string::npos);
  }
  // Every line is a comment or "name{labels} value".
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    INFO(line);
    CHECK(line.find(' ') != std::string::npos);
    CHECK_NOTHROW(std::stod(line.substr(line.rfind(' ') + 1)));
  }
}

TEST_CASE("without a quorum, requests get 503 within the request timeout and change nothing",
          "[api][cluster]") {
  ClusterOptions o = ApiOnly();
  o.request_timeout_ms = 1500;
  TugdCluster c(o);
  Started(c);
  int leader = c.Leader();
  int survivor = (leader + 1) % 3;
  Api api(c, {c.Api(survivor)});
  REQUIRE(api.Post("/api/v1/nodes", Node("before")).code == 201);
  for (int i = 0; i < 3; ++i) {
    if (i != survivor) c.Kill(i);
  }
  auto t0 = std::chrono::steady_clock::now();
  auto write = api.Post("/api/v1/nodes", Node("lost"));
  auto took = std::chrono::steady_clock::now() - t0;
  INFO(write.text);
  CHECK(write.code == 503);
  CHECK(write.body["reason"] == "ServiceUnavailable");
  CHECK(took < 5s);
  auto read = api.Call("GET", "/api/v1/nodes", "", "application/json", /*retry=*/false);
  CHECK(read.code == 503);
  // This member's own (possibly stale) state is still readable on request, as in Kubernetes
  // with resourceVersion=0.
  auto stale = api.Get("/api/v1/nodes?resourceVersion=0");
  REQUIRE(stale.code == 200);
  REQUIRE(stale.body["items"].size() == 1);
  CHECK(stale.body["items"][0]["metadata"]["name"] == "before");
}

TEST_CASE("discovery, and lists in the Table form, as kubectl reads them", "[api][cluster]") {
  TugdCluster c(ApiOnly());
  Started(c);
  Api api(c, c.Apis());
  REQUIRE(api.Post("/apis/apps/v1/namespaces/default/deployments", Deployment("web", 2)).code ==
          201);

  auto core = api.Get("/api/v1");
  REQUIRE(core.code == 200);
  CHECK(core.body["kind"] == "APIResourceList");
  bool pods = false;
  for (const auto& r : core.body["resources"])
    pods = pods || (r["name"] == "pods" && r["shortNames"] == json{"po"});
  CHECK(pods);
  CHECK(api.Get("/api").body["versions"] == json{"v1"});
  CHECK(api.Get("/apis").body["groups"][0]["name"] == "apps");
  auto apps = api.Get("/apis/apps/v1");
  REQUIRE(apps.code == 200);
  bool scale = false;
  for (const auto& r : apps.body["resources"])
    scale = scale || (r["name"] == "deployments/scale" && r["kind"] == "Scale");
  CHECK(scale);
  CHECK(api.Get("/version").body["gitVersion"].get<std::string>().rfind("v", 0) == 0);
  auto openapi = api.Get("/openapi/v3");
  REQUIRE(openapi.code == 200);
  std::string gv_url = openapi.body["paths"]["apis/apps/v1"]["serverRelativeURL"];
  auto gv = api.Get(gv_url);
  REQUIRE(gv.code == 200);
  CHECK(gv.body["openapi"] == "3.0.0");
  CHECK(api.Get("/openapi/v3/apis/batch/v1").code == 404);

  tug::net::HttpClient client(c.Apis(), c.Token());
  tug::net::RequestOptions o;
  o.headers["Accept"] =
      "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;"
      "g=meta.k8s.io,application/json";
  auto table = client.Get("/apis/apps/v1/namespaces/default/deployments?limit=500", o);
  REQUIRE(table.ok());
  INFO(table->body);
  REQUIRE(table->status == 200);
  json t = json::parse(table->body);
  CHECK(t["kind"] == "Table");
  CHECK(t["columnDefinitions"][0]["name"] == "NAME");
  REQUIRE(t["rows"].size() == 1);
  CHECK(t["rows"][0]["cells"][0] == "web");
  CHECK(t["rows"][0]["cells"][1] == "0/2");
  auto one = client.Get("/apis/apps/v1/namespaces/default/deployments/web", o);
  REQUIRE(one.ok());
  CHECK(json::parse(one->body)["rows"].size() == 1);
  // Errors stay Status objects.
  auto missing = client.Get("/apis/apps/v1/namespaces/default/deployments/nope", o);
  REQUIRE(missing.ok());
  CHECK(missing->status == 404);
  CHECK(json::parse(missing->body)["kind"] == "Status");
}
