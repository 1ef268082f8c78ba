// Failover time: three tugd on 127.0.0.1 with the default timers (--heartbeat-ms 100,
// --election-ms 1000); one client writes in a loop through a failover client; the leader is
// SIGKILLed; we measure the time from the kill until the next write succeeds on a survivor.
// Five trials by default; prints each and the median. Asserts nothing.
//
//   failover [--trials N]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "test/support/tugd_cluster.h"

using Clock = std::chrono::steady_clock;
using tug::testing::B64;

int main(int argc, char** argv) {
  int trials = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--trials") trials = std::atoi(argv[i + 1]);
  }
  std::vector<double> results;
  std::printf(
      "failover: 3 tugd, --heartbeat-ms 100 --election-ms 1000; SIGKILL the leader during a write "
      "loop\n");
  for (int t = 0; t < trials; ++t) {
    tug::testing::ClusterOptions o;
    o.heartbeat_ms = 100;
    o.election_ms = 1000;
    o.request_timeout_ms = 5000;
    tug::testing::TugdCluster c(o);
    c.StartAll();
    int leader = c.WaitLeader(std::chrono::seconds(20));
    if (leader < 0) {
      std::printf("trial %d: no leader\n", t + 1);
      continue;
    }
    std::atomic<bool> stop{false};
    std::atomic<int64_t> killed_at{0}, first_ok_after{0};
    std::thread writer([&] {
      tug::net::HttpClient client(c.Apis(), c.Token());
      tug::net::RequestOptions ro;
      ro.timeout = std::chrono::milliseconds(10000);
      for (int i = 0; !stop; ++i) {
        auto body =
            nlohmann::json{{"key", B64("f/" + std::to_string(i))}, {"value", B64("v")}}.dump();
        // Only a write that started after the kill counts: one already in flight may have
        // been committed by the old leader just before it died.
        bool after_kill = killed_at != 0;
        auto r = client.Post("/v3/kv/put", body, ro);
        auto now = Clock::now().time_since_epoch().count();
        if (r.ok() && r->status == 200 && after_kill && first_ok_after == 0) {
          first_ok_after = now;
          return;
        }
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // writes flowing
    killed_at = Clock::now().time_since_epoch().count();
    c.Kill(leader);
    tug::testing::WaitFor([&] { return first_ok_after != 0; }, std::chrono::seconds(30));
    stop = true;
    writer.join();
    if (first_ok_after == 0) {
      std::printf("trial %d: no write succeeded within 30 s\n", t + 1);
      continue;
    }
    double ms =
        std::chrono::duration<double, std::milli>(Clock::duration(first_ok_after - killed_at))
            .count();
    results.push_back(ms);
    std::printf("trial %d: %.0f ms\n", t + 1, ms);
  }
  if (!results.empty()) {
    std::sort(results.begin(), results.end());
    std::printf("median %.0f ms over %zu trials (election timeout 1000 ms)\n",
                results[results.size() / 2], results.size());
  }
  return 0;
}
