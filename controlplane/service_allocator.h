// Cluster IPs and node ports of Services: given out when a Service is written, never twice,
// and taken back when it is deleted (or a NodePort Service becomes a ClusterIP one).
//
// Every address and port a Service holds is a key of its own in the replicated store
// (/registry/allocations/serviceips/<ip>, /registry/allocations/nodeports/<port>, holding the
// Service's key), written in the same transaction as the Service and guarded by "does not exist
// yet" (Kubernetes' IPAddress objects work this way). So two API servers that pick the same
// address at once, or a create racing a failover, cannot both win: the loser's transaction
// fails and the registry picks again from a fresh read. No bitmap to repair, no leader-only
// state: any member allocates.
//
// This file is the pure part: which keys a Service holds, and filling in what it lacks from
// what is in use (read by the registry just before). Candidates are tried from a random
// offset, as Kubernetes does, so that concurrent creates rarely collide.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "base/ipv4.h"
#include "base/status.h"
#include "controlplane/registry.h"

namespace tug::cp {

struct ServiceRanges {
  Ipv4Cidr service_cidr;  // --service-cidr
  int node_port_min = 30000;
  int node_port_max = 32767;
};

class ServiceAllocator : public Holdings {
 public:
  explicit ServiceAllocator(ServiceRanges r) : r_(r) {}

  static constexpr const char* kPrefix = "/registry/allocations/";
  std::string Prefix() const override { return kPrefix; }
  // The allocation keys `svc` holds (its cluster IP and node ports).
  std::set<std::string> Held(const nlohmann::json& svc) const override;

  // Fills in the cluster IP and node ports `svc` (already defaulted and validated) lacks;
  // on an update (`old` not null) what the client left out is kept from `old`, and a changed
  // cluster IP is refused (immutable, as in Kubernetes). `used`: every allocation key that
  // exists now and the key of the object holding it; `owner` is this Service's key (its own
  // holdings are not "in use"). Status::Invalid for what the client asked that cannot be
  // given (Kubernetes' 422 wording), Status::Error when a range is full (a 500, as there).
  Status Assign(nlohmann::json& svc, const nlohmann::json* old,
                const std::map<std::string, std::string>& used, const std::string& owner) override;

  static std::string IpKey(const std::string& ip);
  static std::string PortKey(int port);

 private:
  ServiceRanges r_;
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace tug::cp
