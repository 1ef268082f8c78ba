// The pod network on one node: every pod that does not use the host's network gets a network
// namespace of its own, an address from the node's pod range and a veth pair whose node end is
// on the node's bridge (whose address, the range's first, is the pods' default gateway). A
// pod's containers all join its namespace, so they share its address and reach each other on
// 127.0.0.1, as in Kubernetes. The node reaches every pod at podIP:containerPort directly.
// Routes to other nodes' ranges and masquerading come with Services (see agent/README.md).
//
// Two steps, so that the address is known at once and the slow part runs off the supervisor's
// thread: Assign (a file write) picks the pod's address; Attach (a few `ip` runs, tens of
// milliseconds) makes the bridge if needed, the namespace and the veth. Detach undoes both.
//
// Crash safety: an address is recorded (one file per address under `state_dir`, naming the pod,
// its namespace and its veth) before anything is made, so an agent restarted at any point finds
// what it made; Prune removes what belongs to pods that are gone. Nothing is changed on the node
// until the first Attach: an agent that only runs host-network pods leaves its network alone.
//
// Thread-safe. Uses iproute2's `ip` (namespaces live in /run/netns, as `ip netns` keeps them).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "agent/network/ipv4_range.h"
#include "base/status.h"

namespace tug::agent {

struct PodNetworkOptions {
  // The node's pod range; "" for the one the control plane gives (SetRange), kept in
  // `state_dir` across restarts.
  std::string cidr = "10.88.0.0/24";
  std::string bridge = "tug0";  // at most 15 characters (a Linux interface name)
  std::string state_dir;        // <data-dir>/network
  std::string ip = "ip";        // iproute2
};

// What the supervisor needs of a pod network (tests give it a fake): addresses, and undoing
// everything of a pod that is gone.
class PodAddresses {
 public:
  virtual ~PodAddresses() = default;
  virtual Result<std::string> Assign(const std::string& pod_uid) = 0;
  virtual Status Detach(const std::string& pod_uid) = 0;
  virtual void Prune(const std::set<std::string>& live) = 0;
};

class PodNetwork : public PodAddresses {
 public:
  // Reads the records of an earlier run; changes nothing on the node.
  static Result<std::unique_ptr<PodNetwork>> Open(PodNetworkOptions o);

  // The pod range, once known.
  std::optional<Ipv4Range> range() const;
  // Sets the range the control plane gave this node (its Node's spec.podCIDR) and records it.
  // A different range than the one in use is taken only when no pod holds an address.
  Status SetRange(const std::string& cidr);
  const std::string& bridge() const { return o_.bridge; }

  // The pod's address: the one it has, else the lowest free one (recorded before it is
  // returned). An error when the range is full.
  Result<std::string> Assign(const std::string& pod_uid) override;
  std::optional<std::string> AddressOf(const std::string& pod_uid) const;
  // Makes (or finds, after an agent restart) the pod's namespace and veth; returns the path of
  // its network namespace for the runtime to join. Assigns an address first if needed.
  Result<std::string> Attach(const std::string& pod_uid);
  // Removes the pod's namespace (its veth goes with it) and frees its address. Idempotent.
  Status Detach(const std::string& pod_uid) override;
  // Detaches every pod not in `live` (what an earlier run left for pods that are gone).
  void Prune(const std::set<std::string>& live) override;
  // The pods that have an address.
  std::set<std::string> Pods() const;
  // Whether this node uses its pod network (a pod has an address, or the bridge was made):
  // until then the agent leaves the node's routing and firewall alone.
  bool InUse() const;

  // The names this network gives a pod's namespace and the node end of its veth.
  static std::string NetnsName(const std::string& pod_uid) { return "tug-" + pod_uid; }
  static std::string VethName(const std::string& pod_uid);
  static std::string NetnsPath(const std::string& pod_uid) {
    return "/run/netns/" + NetnsName(pod_uid);
  }

 private:
  struct Record {
    std::string pod, ip;
  };
  PodNetwork(PodNetworkOptions o, std::optional<Ipv4Range> r) : o_(std::move(o)), range_(r) {}
  Result<std::string> AssignLocked(const std::string& pod_uid);
  Status EnsureBridgeLocked();
  Status DetachLocked(const std::string& pod_uid);
  std::string RecordPath(const std::string& ip) const { return o_.state_dir + "/" + ip; }
  std::string RangePath() const { return o_.state_dir + "/range"; }

  const PodNetworkOptions o_;
  std::optional<Ipv4Range> range_;  // under mu_
  mutable std::mutex mu_;
  std::map<std::string, std::string> by_pod_;  // uid -> address
  std::set<std::string> attached_;             // uids whose namespace exists (this run)
  bool bridge_ready_ = false;
};

}  // namespace tug::agent
