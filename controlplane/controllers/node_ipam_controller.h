// The node IPAM controller: gives every Node without one a `spec.podCIDR`, a /24 (by
// default) of --cluster-cidr that no other Node has, as Kubernetes' range allocator does. A
// Node's range is free again once the Node is deleted (it is simply no longer in use). The
// range in a Node is never changed: agents build their pod network on it.
//
// No two Nodes get the same range: one leader allocates, the ranges in flight count as used
// until their writes are answered, and each write carries the resourceVersion read (a new
// leader starts from the applied state, which holds every committed range).
#pragma once

#include <map>
#include <string>

#include "base/ipv4.h"
#include "controlplane/controllers/controller.h"

namespace tug::cp {

class NodeIpamController : public Controller {
 public:
  explicit NodeIpamController(ControllerContext& ctx);
  const char* name() const override { return "node-ipam"; }
  void OnChange(const std::string& resource, const std::string& key, const nlohmann::json* before,
                const nlohmann::json* after) override;
  void Resync() override { dirty_ = true; }
  void Process() override;

 private:
  Ipv4Cidr cluster_;
  bool dirty_ = true;
  bool said_full_ = false;
  std::map<std::string, std::string> pending_;  // node name -> range being written
};

}  // namespace tug::cp
