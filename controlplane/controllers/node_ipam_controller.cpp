#include "controlplane/controllers/node_ipam_controller.h"

#include <set>

#include <spdlog/spdlog.h>

#include "api/node.h"
#include "controlplane/controllers/informer.h"

namespace tug::cp {

using nlohmann::json;

NodeIpamController::NodeIpamController(ControllerContext& ctx)
    : Controller(ctx),
      // The API server checked it at startup.
      cluster_(Ipv4Cidr::Parse(ctx.options.cluster_cidr, 8, 30).value()) {}

void NodeIpamController::OnChange(const std::string& resource, const std::string&, const json*,
                                  const json*) {
  if (resource == "nodes") dirty_ = true;
}

void NodeIpamController::Process() {
  if (!dirty_) return;
  dirty_ = false;
  const int prefix = ctx_.options.node_cidr_prefix;
  std::set<uint32_t> used;
  std::vector<const json*> wanting;
  for (const auto& [key, n] : ctx_.cache.List("nodes")) {
    api::NodeInfo info = api::ReadNode(n);
    if (!info.pod_cidr.empty()) {
      if (auto r = Ipv4Cidr::Parse(info.pod_cidr, 8, 32); r.ok()) used.insert(r->base());
    } else if (!pending_.count(info.name)) {
      wanting.push_back(&n);
    }
  }
  for (const auto& [node, cidr] : pending_)
    if (auto r = Ipv4Cidr::Parse(cidr, 8, 32); r.ok()) used.insert(r->base());
  uint64_t next = 0, count = cluster_.SubnetCount(prefix);
  for (const json* n : wanting) {
    while (next < count && used.count(cluster_.Subnet(prefix, next).base()))
      ++next;
    std::string name = Meta(*n, "name");
    if (next >= count) {
      if (!said_full_)
        ctx_.RecordEvent(*n, "Warning", "CIDRNotAvailable",
                         "Node " + name + " status is now: CIDRNotAvailable (no /" +
                             std::to_string(prefix) + " of --cluster-cidr " + cluster_.ToString() +
                             " is free)",
                         "cidrAllocator");
      said_full_ = true;
      return;
    }
    std::string cidr = cluster_.Subnet(prefix, next++).ToString();
    json updated = *n;  // carries the resourceVersion read
    if (!updated.contains("spec") || !updated["spec"].is_object()) updated["spec"] = json::object();
    updated["spec"]["podCIDR"] = cidr;
    updated["spec"]["podCIDRs"] = json::array({cidr});
    pending_[name] = cidr;
    ReplyFn finish = Finish("cidr:" + name, "give node " + name + " the pod range " + cidr);
    ctx_.registry.Update(Kind("nodes"), "", name, Registry::Part::kMain, Replace(updated),
                         [this, alive = Alive(), name, cidr, finish](Reply r) {
                           if (alive.expired()) return;
                           pending_.erase(name);
                           dirty_ = true;  // a conflict: look again
                           if (r.ok()) {
                             ctx_.RecordEvent(r.body, "Normal", "CIDRAssignmentSucceeded",
                                              "Node " + name + " got the pod range " + cidr,
                                              "cidrAllocator");
                           }
                           finish(std::move(r));
                         });
  }
  said_full_ = false;
}

}  // namespace tug::cp
