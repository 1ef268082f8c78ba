// tug-agent: the worker on each machine. Registers its Node, heartbeats, runs the pods bound
// to it and reports their status; serves their logs on --addr. SIGTERM or SIGINT stops the
// agent but not its pods: started again with the same --data-dir it takes them over.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <thread>

#include "agent/agent.h"
#include "base/file.h"
#include "net/http_client.h"

namespace {

int Fail(const std::string& why) {
  std::fprintf(stderr, "tug-agent: %s\n", why.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tug-agent: a Tug worker (runs the pods the control plane binds to this node)"};
  tug::agent::AgentOptions o;
  std::string servers, token_file, labels, log_level = "info";
  int64_t backoff_initial_ms = 10'000, backoff_max_ms = 300'000;
  app.add_option("--name", o.name, "this node's name")->required();
  app.add_option("--data-dir", o.data_dir, "pods' working directories, logs and state")->required();
  app.add_option("--server", servers, "control-plane API URLs, comma-separated")->required();
  app.add_option("--addr", o.addr, "ip:port of this agent's log server")
      ->default_val("127.0.0.1:7301");
  app.add_option("--cpu", o.cpu, "CPU capacity to offer (default: the machine's cores)");
  app.add_option("--memory", o.memory, "memory capacity to offer (default: the machine's)");
  app.add_option("--labels", labels, "node labels: key=value,...");
  app.add_option("--heartbeat-ms", o.heartbeat_ms, "heartbeat interval")->default_val(1000);
  app.add_option("--token-file", token_file, "the cluster's bearer token");
  app.add_option("--resync-ms", o.resync_ms, "full re-read of this node's pods at least this often")
      ->default_val(30000);
  app.add_option("--backoff-initial-ms", backoff_initial_ms,
                 "first restart delay of a crash-looping container (doubles each time)")
      ->default_val(10000);
  app.add_option("--backoff-max-ms", backoff_max_ms, "longest restart delay")->default_val(300000);
  std::string runtimes = "runc,process";
  app.add_option("--runtimes", runtimes,
                 "container runtimes in the order pods are offered to them: runc (images; where "
                 "runc is installed and the agent is root), process (pods with runtimeClassName: "
                 "process run their command on the host)")
      ->default_val("runc,process");
  app.add_option("--runc", o.runc, "the runc program")->default_val("/usr/sbin/runc");
  app.add_option("--registry-config", o.registry_config,
                 "registries.yaml as k3s reads it: mirrors (e.g. docker.io -> "
                 "http://127.0.0.1:5000), per-registry auth and TLS");
  app.add_option("--image-gc-high-threshold", o.image_gc_high_percent,
                 "percent of the image disk in use above which unused images are removed")
      ->default_val(85)
      ->check(CLI::Range(1, 100));
  app.add_option("--image-gc-low-threshold", o.image_gc_low_percent,
                 "percent of the image disk in use image garbage collection frees down to")
      ->default_val(80)
      ->check(CLI::Range(0, 100));
  app.add_option("--pod-cidr", o.pod_cidr,
                 "this node's pod range: image-based pods get an address from it (the first "
                 "host address is the node's, on the pod bridge); default: the range the "
                 "control plane gives the Node (spec.podCIDR, from tugd --cluster-cidr)");
  app.add_option("--pod-bridge", o.pod_bridge,
                 "the bridge pods' veths hang on (made if missing; at most 15 characters)")
      ->default_val("tug0");
  app.add_option("--service-proxy", o.service_proxy,
                 "serve every Service's cluster IP and NodePort on this node")
      ->default_val(true);
  app.add_option("--proxy-connect-timeout-ms", o.proxy_connect_timeout_ms,
                 "how long the proxy waits for a backend to accept before trying the next")
      ->default_val(1000);
  app.add_option("--cluster-dns", o.cluster_dns,
                 "answer <service>.<namespace>.svc.<domain> for this node's pods")
      ->default_val(true);
  app.add_option("--cluster-domain", o.cluster_domain, "the cluster's DNS domain")
      ->default_val("cluster.local");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->default_val("info");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::flush_on(spdlog::level::trace);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [" + o.name + "] %v");
  o.servers = tug::net::SplitServers(servers);
  o.runtimes.clear();
  for (size_t start = 0; start <= runtimes.size();) {
    size_t end = runtimes.find(',', start);
    if (end == std::string::npos) end = runtimes.size();
    if (end > start) o.runtimes.push_back(runtimes.substr(start, end - start));
    start = end + 1;
  }
  if (o.image_gc_low_percent > o.image_gc_high_percent)
    return Fail("--image-gc-low-threshold must not be above --image-gc-high-threshold");
  o.backoff.initial_ms = backoff_initial_ms;
  o.backoff.max_ms = backoff_max_ms;
  if (!token_file.empty()) {
    std::string token;
    if (tug::Status s = tug::ReadWholeFile(token_file, &token); !s)
      return Fail("cannot read --token-file: " + s.message());
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' '))
      token.pop_back();
    o.token = token;
  }
  for (size_t start = 0; !labels.empty() && start <= labels.size();) {
    size_t end = labels.find(',', start);
    if (end == std::string::npos) end = labels.size();
    std::string kv = labels.substr(start, end - start);
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) return Fail("--labels wants key=value,...: " + kv);
    o.labels[kv.substr(0, eq)] = kv.substr(eq + 1);
    start = end + 1;
  }
  // A peer that closes its socket is an error on the write, not a signal that ends us.
  std::signal(SIGPIPE, SIG_IGN);
  // Signals are taken by a thread of their own, so the agent stops cleanly.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  auto agent = tug::agent::Agent::Create(o);
  if (!agent.ok()) return Fail(agent.status().message());
  std::thread signals([&] {
    int sig = 0;
    sigwait(&set, &sig);
    spdlog::info("signal {}: stopping the agent (pods keep running)", sig);
    agent.value()->Stop();
  });
  spdlog::info("tug-agent {} serving logs on {}, control plane {}", o.name, o.addr, servers);
  agent.value()->Run();
  // The watch may block until its timeout: nothing left to clean up, so leave now.
  std::fflush(nullptr);
  std::_Exit(0);
}
