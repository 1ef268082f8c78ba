// tug-agent's I/O shell around the Supervisor: the worker process on each machine.
//
// - Registration: creates its Node (capacity from the options or the machine, labels, the
//   address of its log server), or updates the one a previous run made; recreates it if it
//   disappears.
// - Heartbeat: POST /api/v1/nodes/{name}/heartbeat every heartbeat_ms to whichever server
//   answers (the HTTP client fails over between them).
// - Assignments: lists the pods bound to this node and watches from the list's revision; the
//   watch ends every resync_ms and the list is read again (a full resync). Only a successful
//   list replaces what the supervisor runs: cut off from every server, the pods keep running.
// - Status: after every supervisor tick, each pod's report is compared with the last one
//   handed over; changed ones are written (PUT .../status with the resourceVersion just read,
//   so a pod the control plane has failed or moved meanwhile is not overwritten).
// - Logs: the log server (log_server.h) on `addr`.
// - The cluster: Nodes, Services and Endpoints are mirrored (list and watch, as the pods are):
//   the Node's spec.podCIDR becomes the pod range, other Nodes' ranges are routed (host-gw,
//   network/node_routes.h), every Service is served by the proxy and the cluster DNS.
//
// Threads: one io thread runs the supervisor (on a timer), the log server and probe results;
// the heartbeat, watch and status writers each block on their own HTTP client; probes run on a
// small pool.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/restart_policy.h"
#include "base/status.h"

namespace tug::agent {

struct AgentOptions {
  std::string name;
  std::string data_dir;
  std::vector<std::string> servers;  // host:port
  std::string token;
  std::string addr = "127.0.0.1:7301";  // the log server
  std::string cpu;                      // a quantity; "" = the machine's cores
  std::string memory;                   // a quantity; "" = the machine's memory
  std::map<std::string, std::string> labels;
  int heartbeat_ms = 1000;
  int resync_ms = 30'000;
  int tick_ms = 100;
  int probe_threads = 4;
  std::string shim;  // the tug-shim program; "" = next to this executable
  BackoffOptions backoff;
  // Container runtimes, in the order pods are offered to them: "runc" (images; used where
  // runc is installed and the agent is root, else left out with a warning) and "process"
  // (commands on the host, for pods with runtimeClassName: process).
  std::vector<std::string> runtimes = {"runc", "process"};
  std::string runc = "/usr/sbin/runc";
  std::string registry_config;  // a registries.yaml file; "" for none
  int image_gc_high_percent = 85;
  int image_gc_low_percent = 80;
  int64_t image_gc_period_ms = 5 * 60'000;  // the kubelet's 5 minutes
  // The pod network of image-based pods (network/pod_network.h): this node's pod range ("":
  // the one the control plane gives its Node, spec.podCIDR) and the bridge its pods hang on.
  // Agents sharing a machine need a bridge each.
  std::string pod_cidr;
  std::string pod_bridge = "tug0";
  // The Service proxy (proxy/service_proxy.h) and cluster DNS (dns/dns_server.h).
  bool service_proxy = true;
  int64_t proxy_connect_timeout_ms = 1000;
  bool cluster_dns = true;
  std::string cluster_domain = "cluster.local";
};

class Agent {
 public:
  // Checks the options, makes the data dir, binds the log server, finds the memory cgroups and
  // takes over the containers a previous run left; errors say which of these failed.
  static Result<std::unique_ptr<Agent>> Create(AgentOptions o);
  ~Agent();
  // Runs until Stop (from any thread). The containers keep running after it returns: stopping
  // the agent is not stopping the pods (restart it and it takes them over).
  void Run();
  void Stop();
  uint16_t port() const;

  struct Impl;

 private:
  explicit Agent(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tug::agent
