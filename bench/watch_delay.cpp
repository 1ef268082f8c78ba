// Watch fan-out: three tugd on 127.0.0.1, W watchers of the pods spread over the members,
// and one client creating pods one after another. Prints the write latency with and without
// the watchers, and the delay from the start of each write until each watcher saw its
// event (p50, p99, max), and the members' CPU time per pod. The watchers run on the same
// machine as the members: on two cores part of the added latency is theirs. Asserts nothing.
//
//   watch_delay [--watchers 100] [--writes 300] [--followers-only true]
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test/support/tugd_cluster.h"

using Clock = std::chrono::steady_clock;
using nlohmann::json;

namespace {

// CPU seconds (user + system) the members have used, from /proc.
double CpuSeconds(const tug::testing::TugdCluster& c) {
  double total = 0;
  for (int i = 0; i < c.size(); ++i) {
    std::ifstream f("/proc/" + std::to_string(c.Pid(i)) + "/stat");
    std::string line;
    if (!std::getline(f, line)) continue;
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::string field;
    for (int k = 3; k <= 15 && rest >> field; ++k) {
      if (k == 14 || k == 15) total += std::stod(field);
    }
  }
  return total / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double Pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

std::string PodJson(const std::string& name) {
  return json{{"metadata", {{"name", name}, {"labels", {{"app", "bench"}}}}},
              {"spec", {{"containers", {{{"name", "main"}, {"command", {"/bin/web"}}}}}}}}
      .dump();
}

// Creates `n` pods named prefix-i one at a time; returns each write's start time by name and
// the latencies.
std::vector<double> Write(tug::testing::TugdCluster& c, int leader, const std::string& prefix,
                          int n, std::map<std::string, Clock::time_point>* started) {
  tug::net::HttpClient client({c.Api(leader)}, c.Token());
  std::vector<double> lat;
  for (int i = 0; i < n; ++i) {
    std::string name = prefix + "-" + std::to_string(i);
    auto t0 = Clock::now();
    if (started) (*started)[name] = t0;
    auto r = client.Post("/api/v1/namespaces/default/pods", PodJson(name));
    if (r.ok() && r->status == 201) lat.push_back(Ms(Clock::now() - t0));
  }
  return lat;
}

}  // namespace

int main(int argc, char** argv) {
  int watchers = 100, writes = 300;
  bool followers_only = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--watchers") watchers = std::atoi(argv[i + 1]);
    if (a == "--writes") writes = std::atoi(argv[i + 1]);
    if (a == "--followers-only") followers_only = std::string(argv[i + 1]) == "true";
  }
  tug::testing::TugdCluster c;
  c.StartAll();
  int leader = c.WaitLeader(std::chrono::seconds(20));
  if (leader < 0) {
    std::printf("no leader\n");
    return 1;
  }
  // Baseline: the same writes with nobody watching.
  double cpu0 = CpuSeconds(c);
  auto base = Write(c, leader, "base", writes, nullptr);
  double base_cpu = (CpuSeconds(c) - cpu0) * 1000 / writes;

  tug::net::HttpClient lister({c.Api(leader)}, c.Token());
  auto list = lister.Get("/api/v1/namespaces/default/pods");
  std::string rv = json::parse(list->body)["metadata"]["resourceVersion"];

  std::mutex mu;
  std::vector<std::pair<std::string, Clock::time_point>> seen;
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < watchers; ++w) {
    threads.emplace_back([&, w] {
      int member = followers_only ? (leader + 1 + w % 2) % 3 : w % 3;
      tug::net::HttpClient client({c.Api(member)}, c.Token());
      std::string buf;
      std::vector<std::pair<std::string, Clock::time_point>> mine;
      int got = 0;
      bool counted = false;
      (void)client.Stream(
          "GET", "/api/v1/namespaces/default/pods?watch=true&resourceVersion=" + rv, "",
          [&](const std::string& data) {
            if (!counted) {
              counted = true;
              ++ready;
            }
            auto now = Clock::now();
            buf += data;
            size_t nl;
            while ((nl = buf.find('\n')) != std::string::npos) {
              // Cheaper than parsing: the watchers share two cores with the servers.
              std::string line = buf.substr(0, nl);
              buf.erase(0, nl + 1);
              size_t at = line.find("\"name\":\"pod-");
              if (line.rfind("{\"type\":\"ADDED\"", 0) == 0 && at != std::string::npos) {
                size_t b = at + 8, e = line.find('"', b);
                mine.emplace_back(line.substr(b, e - b), now);
                ++got;
              }
            }
            return got < writes;
          },
          std::chrono::seconds(120));
      std::lock_guard<std::mutex> l(mu);
      seen.insert(seen.end(), mine.begin(), mine.end());
    });
  }
  // Every watcher is connected once it received its first bytes; a first pod makes sure of it.
  auto warm_start = Clock::now();
  while (ready < watchers && Clock::now() - warm_start < std::chrono::seconds(30)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (ready < watchers) {
      tug::net::HttpClient poke({c.Api(leader)}, c.Token());
      (void)poke.Post("/api/v1/namespaces/default/pods",
                      PodJson("warm-" + std::to_string(Clock::now().time_since_epoch().count())));
    }
  }
  std::map<std::string, Clock::time_point> started;
  double cpu1 = CpuSeconds(c);
  auto loaded = Write(c, leader, "pod", writes, &started);
  for (auto& t : threads)
    t.join();
  double loaded_cpu = (CpuSeconds(c) - cpu1) * 1000 / writes;

  std::vector<double> delays;
  size_t missing = 0;
  for (const auto& [name, when] : seen) {
    auto it = started.find(name);
    if (it != started.end()) delays.push_back(Ms(when - it->second));
  }
  missing = static_cast<size_t>(watchers) * static_cast<size_t>(writes) - delays.size();
  std::printf("watch_delay: 3 tugd, %d watchers over 3 members, %d sequential pod creates\n",
              watchers, writes);
  std::printf("%-28s %9s %9s %9s %18s\n", "", "p50 ms", "p99 ms", "max ms", "server CPU ms/pod");
  std::printf("%-28s %9.2f %9.2f %9.2f %18.2f\n", "create, nobody watching", Pct(base, 0.5),
              Pct(base, 0.99), Pct(base, 1.0), base_cpu);
  std::printf("%-28s %9.2f %9.2f %9.2f %18.2f\n", "create, watchers connected", Pct(loaded, 0.5),
              Pct(loaded, 0.99), Pct(loaded, 1.0), loaded_cpu);
  std::printf("%-28s %9.2f %9.2f %9.2f\n", "write start -> event seen", Pct(delays, 0.5),
              Pct(delays, 0.99), Pct(delays, 1.0));
  std::printf("events delivered: %zu, missing: %zu\n", delays.size(), missing);
  return 0;
}
