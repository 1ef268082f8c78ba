// Services on the launcher's cluster (root: network namespaces, runc, tug-web images):
//
//   1. requests/s and latency through the Service proxy (a node's NodePort) against the same
//      requests straight to the pod (podIP:8080, routed through the same node), one replica,
//      `--clients` concurrent clients, each request a fresh connection (HTTP/1.0);
//   2. the time from a new pod being Ready (seen by polling the API every 10 ms) to every
//      node's proxy sending it traffic (each node's NodePort polled until an answer names the
//      pod), over `--samples` scale-ups by one;
//   3. failed requests while a node with one of three replicas crashes (agent and containers
//      SIGKILLed, link down), a client looping on a surviving node's NodePort, and what
//      kube-proxy's iptables mode would have lost in the same window (see the end of the run).
//
//   service_bench [--seconds 5] [--clients 4] [--samples 10]
//
// The host reaches pod addresses through a route the benchmark adds for the run (and removes).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/command.h"
#include "test/support/local_cluster.h"
#include "test/support/raw_http.h"
#include "test/support/tugd_cluster.h"

using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using namespace tug::testing;

namespace {

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// A client that keeps one HTTP/1.1 connection and sends requests on it one after another.
class KeepAlive {
 public:
  KeepAlive(const std::string& ip, int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ok_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~KeepAlive() { ::close(fd_); }
  // One request and its whole answer; false on any failure (the connection is then dead).
  bool Get() {
    static const std::string req = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n";
    if (!ok_ || ::write(fd_, req.data(), req.size()) != static_cast<ssize_t>(req.size()))
      return ok_ = false;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!Fill()) return ok_ = false;
    size_t cl = buf_.find("Content-Length: ");
    if (cl == std::string::npos || cl > end) return ok_ = false;
    size_t len = std::strtoul(buf_.c_str() + cl + 16, nullptr, 10);
    while (buf_.size() < end + 4 + len)
      if (!Fill()) return ok_ = false;
    bool good = buf_.rfind("HTTP/1.1 200", 0) == 0;
    buf_.erase(0, end + 4 + len);
    return good;
  }

 private:
  bool Fill() {
    char tmp[4096];
    ssize_t n = ::read(fd_, tmp, sizeof tmp);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  bool ok_ = false;
  std::string buf_;
};

struct Load {
  double rps = 0, p50 = 0, p99 = 0;
  int failed = 0;
};

Load Run(const std::string& ip, int port, int clients, int seconds, bool keep_alive) {
  std::mutex mu;
  std::vector<double> lat;
  std::atomic<int> failed{0};
  auto end = Clock::now() + std::chrono::seconds(seconds);
  std::vector<std::thread> ts;
  for (int c = 0; c < clients; ++c) {
    ts.emplace_back([&] {
      std::vector<double> mine;
      std::unique_ptr<KeepAlive> conn;
      while (Clock::now() < end) {
        auto t0 = Clock::now();
        bool ok;
        if (keep_alive) {
          if (!conn) conn = std::make_unique<KeepAlive>(ip, port);
          ok = conn->Get();
          if (!ok) conn.reset();
        } else {
          ok = Ok200(RawGet(ip, port));
        }
        if (ok) mine.push_back(Ms(Clock::now() - t0));
        if (!ok) ++failed;
      }
      std::lock_guard<std::mutex> l(mu);
      lat.insert(lat.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : ts)
    t.join();
  Load l;
  l.rps = static_cast<double>(lat.size()) / seconds;
  l.p50 = Percentile(lat, 0.5);
  l.p99 = Percentile(lat, 0.99);
  l.failed = failed;
  return l;
}

bool Ready(const json& p) {
  for (const auto& c : p["status"].value("conditions", json::array()))
    if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
  return false;
}

std::vector<json> Pods(LocalCluster& lc) {
  json pods = lc.Get("/api/v1/namespaces/bench/pods?labelSelector=app%3Dweb");
  std::vector<json> out;
  if (pods.is_object())
    for (const auto& p : pods["items"])
      if (p["status"].value("phase", "") == "Running" &&
          !p["metadata"].contains("deletionTimestamp"))
        out.push_back(p);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int seconds = 5, clients = 4, samples = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--seconds") seconds = std::atoi(argv[i + 1]);
    if (a == "--clients") clients = std::atoi(argv[i + 1]);
    if (a == "--samples") samples = std::atoi(argv[i + 1]);
  }
  if (std::string why = LocalCluster::Unavailable(); !why.empty()) {
    std::printf("service_bench: cannot run here: %s\n", why.c_str());
    return 0;
  }
  LocalClusterOptions lo;
  lo.prefix = "tsb";
  lo.subnet = 9;
  LocalCluster lc(lo);
  if (!lc.ok()) {
    std::printf("service_bench: the cluster did not start:\n%s\n", lc.UpOutput().c_str());
    return 1;
  }
  std::string manifest = lc.dir() + "/bench.yaml";
  std::ofstream(manifest) << R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: bench}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: tug-web:latest
        args: ["--port", "8080"]
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: bench}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: http, nodePort: 30090}]
)";
  if (lc.Tugctl({"apply", "-f", manifest}).exit_code != 0) return 1;
  json pod;
  WaitFor(
      [&] {
        auto pods = Pods(lc);
        if (pods.size() != 1 || !Ready(pods[0])) return false;
        pod = pods[0];
        return true;
      },
      120s);
  if (pod.is_null()) return 1;
  // The pod's own node: direct and proxied requests take the same hops but the proxy's.
  std::string node_a = lc.Addr(pod["spec"].value("nodeName", "node-a"));
  WaitFor([&] { return Ok200(RawGet(node_a, 30090)); }, 30s);
  std::string pod_ip = pod["status"].value("podIP", "");
  std::string range = pod_ip.substr(0, pod_ip.rfind('.')) + ".0/24";
  // The host reaches the pod through node-a, as the NodePort's traffic does.
  auto added = tug::RunCommand({"ip", "route", "replace", range, "via", node_a});
  WaitFor([&] { return Ok200(RawGet(pod_ip, 8080)); }, 10s);

  for (bool keep_alive : {true, false}) {
    std::printf("1%s. one replica (tug-web), %d clients, %d s each, %s\n", keep_alive ? "a" : "b",
                clients, seconds,
                keep_alive ? "each keeping one connection (HTTP/1.1 keep-alive)"
                           : "a new connection per request (HTTP/1.0)");
    Load direct = Run(pod_ip, 8080, clients, seconds, keep_alive);
    Load proxied = Run(node_a, 30090, clients, seconds, keep_alive);
    std::printf("   direct to the pod   %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  failed %d\n",
                direct.rps, direct.p50, direct.p99, direct.failed);
    std::printf("   through the proxy   %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  failed %d\n",
                proxied.rps, proxied.p50, proxied.p99, proxied.failed);
    std::printf("   ratio (proxy/direct) %.2f of the requests/s; p99 %.2fx\n",
                direct.rps > 0 ? proxied.rps / direct.rps : 0,
                direct.p99 > 0 ? proxied.p99 / direct.p99 : 0);
  }
  (void)tug::RunCommand({"ip", "route", "del", range, "via", node_a});

  // 2. Ready -> traffic on every node.
  std::vector<double> to_traffic;
  for (int s = 0; s < samples; ++s) {
    std::set<std::string> before;
    for (const auto& p : Pods(lc))
      before.insert(p["metadata"].value("name", ""));
    lc.Tugctl({"scale", "deployment", "web", "-n", "bench", "--replicas",
               std::to_string(before.size() + 1)});
    std::string fresh;
    Clock::time_point ready_at;
    WaitFor(
        [&] {
          for (const auto& p : Pods(lc)) {
            std::string name = p["metadata"].value("name", "");
            if (!before.count(name) && Ready(p)) {
              fresh = name;
              ready_at = Clock::now();
              return true;
            }
          }
          return false;
        },
        120s);
    if (fresh.empty()) continue;
    double worst = 0;
    for (const char* node : {"node-a", "node-b", "node-c"}) {
      std::string addr = lc.Addr(node);
      bool seen =
          WaitFor([&] { return RawGet(addr, 30090).find(fresh) != std::string::npos; }, 10s);
      if (seen) worst = std::max(worst, Ms(Clock::now() - ready_at));
    }
    to_traffic.push_back(worst);
  }
  std::printf(
      "2. a new pod Ready -> every node's proxy sends it traffic (%zu samples): p50 %.0f ms, "
      "p99 %.0f ms, max %.0f ms\n",
      to_traffic.size(), Percentile(to_traffic, 0.5), Percentile(to_traffic, 0.99),
      to_traffic.empty() ? 0 : *std::max_element(to_traffic.begin(), to_traffic.end()));

  // 3. A node with one of three replicas crashes while a client loops on a surviving node.
  // (From none to three, so that the scheduler spreads them one per node.)
  lc.Tugctl({"scale", "deployment", "web", "-n", "bench", "--replicas", "0"});
  WaitFor([&] { return Pods(lc).empty(); }, 60s);
  lc.Tugctl({"scale", "deployment", "web", "-n", "bench", "--replicas", "3"});
  WaitFor(
      [&] {
        auto pods = Pods(lc);
        if (pods.size() != 3) return false;
        for (const auto& p : pods)
          if (!Ready(p)) return false;
        return true;
      },
      120s);
  std::map<std::string, int> per_node;
  for (const auto& p : Pods(lc))
    ++per_node[p["spec"].value("nodeName", "")];
  std::string victim, survivor, spread;
  for (const auto& [n, count] : per_node) {
    spread += " " + n + ":" + std::to_string(count);
    if (victim.empty() || count < per_node[victim]) victim = n;
  }
  for (const char* n : {"node-a", "node-b", "node-c"})
    if (n != victim && survivor.empty()) survivor = n;
  if (victim.empty() || per_node.size() < 2) {
    std::printf("3. skipped: the replicas are not on two nodes or more (%s)\n", spread.c_str());
    return 0;
  }
  std::atomic<int> sent{0}, failed{0};
  std::atomic<bool> stop{false};
  std::string target = lc.Addr(survivor);
  std::thread loop([&] {
    while (!stop) {
      if (!Ok200(RawGet(target, 30090))) ++failed;
      ++sent;
    }
  });
  WaitFor([&] { return sent >= 200; }, 30s);
  int before_crash = sent;
  auto crash_at = Clock::now();
  lc.Script({"crash", victim});
  // Until the node is judged lost and its pod leaves the Endpoints (node grace 5 s here).
  WaitFor(
      [&] {
        json ep = lc.Get("/api/v1/namespaces/bench/endpoints/web");
        if (!ep.is_object()) return false;
        size_t ready = 0;
        for (const auto& sub : ep.value("subsets", json::array()))
          ready += sub.value("addresses", json::array()).size();
        return ready == 2;
      },
      60s);
  double window_s = std::chrono::duration<double>(Clock::now() - crash_at).count();
  int during = sent - before_crash;
  stop = true;
  loop.join();
  std::printf(
      "3. %s crashed (replicas per node:%s): %d requests through %s's NodePort in the "
      "%.1f s until its pod left the Endpoints, %d failed\n",
      victim.c_str(), spread.c_str(), during, survivor.c_str(), window_s, failed.load());
  std::printf(
      "   kube-proxy's iptables mode in the same window: each new connection is DNATed to "
      "a random endpoint when its SYN passes, so about %d in 3 (~%d of these %d, at this "
      "rate) would go to the dead node and hang until the client's timeout; with "
      "Kubernetes' default 40 s node grace the window is 8x longer\n",
      per_node[victim], during * per_node[victim] / 3, during);
  return 0;
}
