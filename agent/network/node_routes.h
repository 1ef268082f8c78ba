// What a node needs beyond its own pods for the pod network and the Service proxy:
// - the other nodes' pod ranges routed via their addresses (host-gw, as flannel's host-gw and
//   kube-router do on one L2 segment), so pods reach each other by pod IP with no NAT;
// - the Services' cluster IPs as local addresses (routes in the `local` table on lo), so that
//   the agent's proxy can listen on them and traffic to them from pods and the node is
//   delivered to it, with no per-address interface to manage;
// - masquerading of pod traffic that leaves the pod network (iptables chain TUG-MASQ), and
//   IPv4 forwarding on (other nodes' pods come through this node to its pods).
//
// Level-triggered: Sync makes the node match what is asked, adding what is missing and
// removing what an earlier call or an earlier run of the agent added that is no longer asked
// for. Everything it adds carries routing protocol kProto, so it finds its own routes after a
// restart and never touches anyone else's. Runs `ip` and `iptables`: call it off the io thread.
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>

#include "base/status.h"

namespace tug::agent {

struct NodeRoutesWant {
  std::string own_cidr;                       // this node's pod range ("" until known)
  std::map<std::string, std::string> remote;  // another node's pod range -> its address
  std::set<std::string> local_ips;            // cluster IPs the proxy listens on
  bool operator==(const NodeRoutesWant&) const = default;
};

class NodeRoutes {
 public:
  static constexpr int kProto = 153;  // the routing protocol number that marks Tug's routes
  explicit NodeRoutes(std::string ip = "ip", std::string iptables = "iptables")
      : ip_(std::move(ip)), iptables_(std::move(iptables)) {}

  // Returns the first error (every part is still attempted).
  Status Sync(const NodeRoutesWant& want);
  // Removes every route and rule Sync made (an agent told to leave the node clean).
  void Clear();

 private:
  Status SyncRemote(const std::map<std::string, std::string>& want);
  Status SyncLocal(const std::set<std::string>& want);
  Status SyncMasquerade(const NodeRoutesWant& want);

  const std::string ip_, iptables_;
  std::mutex mu_;
  bool forwarding_ = false;
  std::string masq_done_;  // the rules last written, to write them again only on change
};

}  // namespace tug::agent
