// The agent's cluster DNS server: UDP on the node's pod gateway address (the first address of
// its pod range, on the pod bridge), port 53, which is every local pod's nameserver
// (resolv.conf written by the runtime). ClusterDns (cluster_dns.h) decides each answer;
// names outside the cluster domain are forwarded to the node's own resolvers (the
// nameservers of the node's /etc/resolv.conf, tried in order, 2 s each) and their answer
// relayed; no answer is SERVFAIL.
//
// Only UDP: pod resolvers (glibc, musl) ask over UDP, and the cluster's answers are small.
// Bounded: at most 256 forwarded queries at once (more are answered SERVFAIL at once).
// Binds with IP_FREEBIND, so it can start before the bridge has its address.
//
// Runs on a strand of the io_context given: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace boost::asio {
class io_context;
}

namespace tug::agent::dns {

class DnsServer {
 public:
  DnsServer(boost::asio::io_context& io, std::string domain = "cluster.local");
  ~DnsServer();
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  // Starts answering on ip:port (port 0: a free one, see port()).
  Status Listen(const std::string& ip, uint16_t port = 53);
  uint16_t port() const;
  // (namespace, name) -> cluster IP, the whole set each time.
  void SetServices(std::map<std::pair<std::string, std::string>, std::string> services);
  // Where names outside the domain go ("ip" or "ip:port").
  void SetUpstreams(std::vector<std::string> upstreams);
  void Stop();

  // The nameservers of a resolv.conf file (those this node can reach: not 127.0.0.53-style
  // stub addresses, which are the host's own and absent in a node's network namespace).
  static std::vector<std::string> NameserversOf(const std::string& resolv_conf);

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace tug::agent::dns
