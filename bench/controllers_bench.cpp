// The controllers at scale, against three tugd on 127.0.0.1:
//  1. N simulated agents (nodes registered through the API, heartbeating every second) and a
//     deployment of R replicas: time until every pod is bound, and Raft entries written per
//     pod (the leader's commit index before and after, over R);
//  2. the same heartbeats while nothing changes, for S seconds: the leader's CPU (as a
//     share of one core) and how many log entries were written (there should be none).
// Prints figures; asserts nothing.
//
//   controllers_bench [--nodes 100] [--replicas 1000] [--heartbeat-nodes 1000] [--seconds 10]
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test/support/tugd_cluster.h"

using Clock = std::chrono::steady_clock;
using nlohmann::json;
using tug::net::HttpClient;

namespace {

double CpuSeconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return 0;
  std::istringstream rest(line.substr(line.rfind(')') + 2));
  std::string field;
  double total = 0;
  for (int k = 3; k <= 15 && rest >> field; ++k) {
    if (k == 14 || k == 15) total += std::stod(field);
  }
  return total / static_cast<double>(sysconf(_SC_CLK_TCK));
}

uint64_t CommitIndex(tug::testing::TugdCluster& c, int member) {
  auto s = c.StatusJson(member);
  if (!s) return 0;
  return json::parse(*s)["commitIndex"].get<uint64_t>();
}

std::string NodeJson(const std::string& name) {
  return json{{"metadata", {{"name", name}}},
              {"status",
               {{"capacity", {{"cpu", "16"}, {"memory", "64Gi"}}},
                {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}}
      .dump();
}

// Heartbeats for nodes [0, n) once a second from `threads` clients spread over the members,
// until `stop`.
void Heartbeats(tug::testing::TugdCluster& c, int n, int threads, std::atomic<bool>& stop,
                std::atomic<uint64_t>& sent) {
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      HttpClient client({c.Api(t % c.size())}, c.Token());
      while (!stop) {
        auto round = Clock::now();
        for (int i = t; i < n && !stop; i += threads) {
          auto r = client.Post("/api/v1/nodes/node-" + std::to_string(i) + "/heartbeat", "{}");
          if (r.ok() && r->status == 200) ++sent;
        }
        std::this_thread::sleep_until(round + std::chrono::seconds(1));
      }
    });
  }
  for (auto& t : ts)
    t.join();
}

}  // namespace

int main(int argc, char** argv) {
  int nodes = 100, replicas = 1000, hb_nodes = 1000, seconds = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (a == "--nodes") nodes = v;
    if (a == "--replicas") replicas = v;
    if (a == "--heartbeat-nodes") hb_nodes = v;
    if (a == "--seconds") seconds = v;
  }
  tug::testing::TugdCluster c;
  c.StartAll();
  int leader = c.WaitLeader(std::chrono::seconds(20));
  if (leader < 0) return 1;
  HttpClient api(c.Apis(), c.Token());
  int registered = std::max(nodes, hb_nodes);
  // Heartbeats from the start, so that no node is declared dead while the rest register.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> sent{0};
  std::thread hb([&] { Heartbeats(c, registered, 4, stop, sent); });
  for (int i = 0; i < registered; ++i) {
    (void)api.Post("/api/v1/nodes", NodeJson("node-" + std::to_string(i)));
  }

  // Part 1: a deployment over the first `nodes` nodes (the others are cordoned).
  for (int i = nodes; i < registered; ++i) {
    tug::net::RequestOptions o;
    o.content_type = "application/merge-patch+json";
    (void)api.Do("PATCH", "/api/v1/nodes/node-" + std::to_string(i),
                 R"({"spec":{"unschedulable":true}})", o);
  }
  uint64_t commit0 = CommitIndex(c, leader);
  json d = {{"metadata", {{"name", "big"}}},
            {"spec",
             {{"replicas", replicas},
              {"template",
               {{"metadata", {{"labels", {{"app", "big"}}}}},
                {"spec",
                 {{"containers",
                   {{{"name", "main"},
                     {"command", {"/bin/web"}},
                     {"resources", {{"requests", {{"cpu", "100m"}, {"memory", "64Mi"}}}}}}}}}}}}}}};
  auto t0 = Clock::now();
  (void)api.Post("/apis/apps/v1/namespaces/default/deployments", d.dump());
  size_t bound = 0;
  while (Clock::now() - t0 < std::chrono::seconds(120)) {
    auto r = api.Get(
        "/api/v1/namespaces/default/pods?labelSelector=app%3Dbig&fieldSelector=spec.nodeName!%3D");
    if (r.ok() && r->status == 200) bound = json::parse(r->body)["items"].size();
    if (bound >= static_cast<size_t>(replicas)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  // Let the last writes (status, events) land before counting entries.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  uint64_t commit1 = CommitIndex(c, leader);
  std::printf("controllers_bench: 3 tugd; a %d-replica deployment over %d nodes\n", replicas,
              nodes);
  {
    std::map<std::string, int> reasons;
    auto evs = api.Get("/api/v1/events");
    if (evs.ok() && evs->status == 200) {
      json list = json::parse(evs->body);
      for (const auto& e : list["items"])
        ++reasons[e.value("reason", "")];
    } else {
      std::printf("  (cannot list events: %s)\n",
                  evs.ok() ? evs->body.substr(0, 200).c_str() : evs.status().message().c_str());
    }
    std::string list;
    for (const auto& [r, n] : reasons)
      list += " " + r + "=" + std::to_string(n);
    std::printf("  events:%s\n", list.c_str());
  }
  std::printf(
      "  all %zu pods bound after %.2f s; %.2f Raft entries per pod (creates, binds, "
      "status, events)\n",
      bound, secs, static_cast<double>(commit1 - commit0) / replicas);

  // Part 2: heartbeats only.
  uint64_t commit2 = CommitIndex(c, leader);
  uint64_t sent0 = sent;
  double cpu0 = CpuSeconds(c.Pid(leader));
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  double cpu1 = CpuSeconds(c.Pid(leader));
  uint64_t commit3 = CommitIndex(c, leader);
  uint64_t hb_sent = sent - sent0;
  stop = true;
  hb.join();
  std::printf(
      "  %d nodes heartbeating every second for %d s (%.0f heartbeats/s over all "
      "members): leader CPU %.1f%% of a core, %llu log entries written\n",
      registered, seconds, static_cast<double>(hb_sent) / seconds, 100.0 * (cpu1 - cpu0) / seconds,
      static_cast<unsigned long long>(commit3 - commit2));
  return 0;
}
