// tug-agent: how long from a pod's binding to its process running, and what the agent costs
// in memory with many pods. A three-member tugd cluster on 127.0.0.1 and one real agent;
// pods are created already bound to the agent's node (spec.nodeName), so the time measured
// is the agent's: watch delivery, start of the container's process, its shell's first line.
//
//   agent_bench [--pods 200] [--clients 4] [--rate BINDS_PER_SECOND]
//
// Prints p50/p99/max of bind-to-running over the pods, then the agent's resident memory and
// that of the per-container supervisor processes with 100 pods running.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test/support/agent_fleet.h"
#include "test/support/tugd_cluster.h"

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

int64_t WallNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A field of /proc/<pid>/status or smaps_rollup, in kB.
int64_t ProcKb(const std::string& file, const std::string& field) {
  std::istringstream in(Slurp(file));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atoll(line.c_str() + field.size() + 1);
  }
  return -1;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

json PodFor(const std::string& name) {
  // The container writes the wall clock (ns) at its first instruction to a file.
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec",
           {{"nodeName", "bench-node"},
            {"containers",
             {{{"name", "main"},
               {"command", {"/bin/sh", "-c", "date +%s%N > started; exec sleep 100000"}}}}}}}};
}

}  // namespace

int main(int argc, char** argv) {
  int pods = 200, clients = 4, rate = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--pods") pods = std::atoi(argv[i + 1]);
    if (a == "--clients") clients = std::atoi(argv[i + 1]);
    if (a == "--rate") rate = std::atoi(argv[i + 1]);
  }
  tug::testing::TugdCluster c;
  c.StartAll();
  if (c.WaitLeader() < 0) {
    std::fprintf(stderr, "no leader\n");
    return 1;
  }
  tug::testing::AgentFleet agents(c);
  pid_t agent = agents.Start("bench-node", {"--heartbeat-ms", "1000"});
  {
    tug::net::HttpClient api(c.Apis(), c.Token());
    if (!tug::testing::WaitFor(
            [&] {
              auto r = api.Get("/api/v1/nodes/bench-node");
              return r.ok() && r->status == 200;
            },
            30s)) {
      std::fprintf(stderr, "the agent did not register:\n%s\n", agents.Logs().c_str());
      return 1;
    }
  }
  std::printf(
      "agent_bench: %d pods bound to one agent, %d creating clients, %s\n", pods, clients,
      rate > 0 ? ("about " + std::to_string(rate) + " binds/s").c_str() : "as fast as they can");
  std::mutex mu;
  std::map<std::string, int64_t> bound_ns;  // pod name -> when its create was acknowledged
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&] {
      tug::net::HttpClient api(c.Apis(), c.Token());
      for (int i; (i = next++) < pods;) {
        std::string name = "bench-" + std::to_string(i);
        auto r = api.Post("/api/v1/namespaces/default/pods", PodFor(name).dump());
        int64_t now = WallNs();
        if (r.ok() && r->status == 201) {
          std::lock_guard<std::mutex> l(mu);
          bound_ns[name] = now;
        }
        if (rate > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1000 * clients / rate));
      }
    });
  }
  for (auto& t : threads)
    t.join();
  // Wait until every pod's process has written its start time.
  std::map<std::string, int64_t> started;
  auto read_started = [&] {
    std::error_code ec;
    for (const auto& [name, t] : bound_ns) {
      if (started.count(name)) continue;
      std::string dir = agents.DataDir("bench-node") + "/pods";
      for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        std::string d = e.path().filename().string();
        if (d.rfind("default_" + name + "_", 0) != 0) continue;
        std::string s = Slurp(e.path().string() + "/main/work/started");
        if (!s.empty() && s.back() == '\n') started[name] = std::atoll(s.c_str());
      }
    }
    return started.size() == bound_ns.size();
  };
  if (!tug::testing::WaitFor(read_started, 120s)) {
    std::fprintf(stderr, "only %zu of %zu pods started\n", started.size(), bound_ns.size());
  }
  std::vector<double> ms;
  int64_t first_bound = INT64_MAX, last_bound = 0, last_started = 0;
  for (const auto& [name, t] : started) {
    ms.push_back(static_cast<double>(t - bound_ns[name]) / 1e6);
    first_bound = std::min(first_bound, bound_ns[name]);
    last_bound = std::max(last_bound, bound_ns[name]);
    last_started = std::max(last_started, t);
  }
  std::printf(
      "binds took %.0f ms from the first to the last; the last process ran %.0f ms after "
      "the first bind\n",
      static_cast<double>(last_bound - first_bound) / 1e6,
      static_cast<double>(last_started - first_bound) / 1e6);
  std::printf("bind to running (ms) over %zu pods: p50 %.1f  p99 %.1f  max %.1f\n", ms.size(),
              Percentile(ms, 0.5), Percentile(ms, 0.99), Percentile(ms, 1.0));

  // Memory with 100 pods: delete down to 100 and let the agent settle on them.
  {
    tug::net::HttpClient api(c.Apis(), c.Token());
    for (int i = 100; i < pods; ++i)
      api.Do("DELETE", "/api/v1/namespaces/default/pods/bench-" + std::to_string(i));
    tug::testing::WaitFor([&] { return agents.ContainerPids("bench-node").size() <= 100; }, 60s);
  }
  std::this_thread::sleep_for(2s);
  auto containers = agents.ContainerPids("bench-node");
  std::string proc = "/proc/" + std::to_string(agent);
  std::printf("with %zu pods: agent RSS %lld kB (PSS %lld kB)\n", containers.size(),
              static_cast<long long>(ProcKb(proc + "/status", "VmRSS")),
              static_cast<long long>(ProcKb(proc + "/smaps_rollup", "Pss")));
  // The supervisor processes: parents of the containers' processes.
  int64_t pss = 0, n = 0;
  for (const auto& [key, pid] : containers) {
    std::string stat = Slurp("/proc/" + std::to_string(pid) + "/stat");
    size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    std::string state;
    int ppid = 0;
    rest >> state >> ppid;
    int64_t k = ProcKb("/proc/" + std::to_string(ppid) + "/smaps_rollup", "Pss");
    if (k >= 0) {
      pss += k;
      ++n;
    }
  }
  if (n > 0)
    std::printf("per-container supervisor process: PSS %.0f kB on average (%lld kB for %lld)\n",
                static_cast<double>(pss) / static_cast<double>(n), static_cast<long long>(pss),
                static_cast<long long>(n));
  return 0;
}
