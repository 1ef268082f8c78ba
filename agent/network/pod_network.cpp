#include "agent/network/pod_network.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "base/command.h"
#include "base/file.h"

namespace tug::agent {

namespace fs = std::filesystem;

std::string PodNetwork::VethName(const std::string& pod_uid) {
  // FNV-1a: stable across runs and builds (std::hash is neither promised to be).
  uint32_t h = 2166136261u;
  for (unsigned char ch : pod_uid)
    h = (h ^ ch) * 16777619u;
  char buf[16];
  std::snprintf(buf, sizeof buf, "veth%08x", h);
  return buf;
}

Result<std::unique_ptr<PodNetwork>> PodNetwork::Open(PodNetworkOptions o) {
  std::optional<Ipv4Range> range;
  if (!o.cidr.empty()) {
    auto r = Ipv4Range::Parse(o.cidr);
    if (!r.ok()) return Status::Invalid("--pod-cidr: " + r.status().message());
    range = *r;
  }
  if (o.bridge.empty() || o.bridge.size() > 15 ||
      o.bridge.find_first_of("/ \t:") != std::string::npos)
    return Status::Invalid(
        "--pod-bridge \"" + o.bridge +
        "\": an interface name is 1 to 15 characters, without '/', ':' or spaces");
  std::error_code ec;
  fs::create_directories(o.state_dir, ec);
  if (ec) return Status::Error("cannot create " + o.state_dir + ": " + ec.message());
  std::unique_ptr<PodNetwork> n(new PodNetwork(std::move(o), range));
  if (!n->range_) {
    // The range the control plane gave this node on an earlier run.
    std::string saved;
    if (ReadWholeFile(n->RangePath(), &saved).ok()) {
      while (!saved.empty() && (saved.back() == '\n' || saved.back() == ' '))
        saved.pop_back();
      if (auto r = Ipv4Range::Parse(saved); r.ok()) n->range_ = *r;
    }
  }
  for (auto it = fs::directory_iterator(n->o_.state_dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::string ip = it->path().filename().string();
    std::string uid;
    uint32_t addr = 0;
    if (!Ipv4Range::ParseAddress(ip, &addr) || !ReadWholeFile(it->path().string(), &uid).ok() ||
        uid.empty()) {
      // Not a record (the saved range), or a torn one: it cannot be ours to keep. Its
      // namespace, if any, is found again by the pod's uid when the pod is pruned.
      continue;
    }
    n->by_pod_[uid] = ip;
  }
  return n;
}

std::optional<Ipv4Range> PodNetwork::range() const {
  std::lock_guard<std::mutex> l(mu_);
  return range_;
}

Status PodNetwork::SetRange(const std::string& cidr) {
  auto r = Ipv4Range::Parse(cidr);
  if (!r.ok()) return Status::Invalid("the Node's spec.podCIDR: " + r.status().message());
  std::lock_guard<std::mutex> l(mu_);
  if (range_ && range_->ToString() == r->ToString()) return Status::Ok();
  if (range_ && !by_pod_.empty())
    return Status::Conflict("the Node's pod range is now " + cidr + " but " +
                            std::to_string(by_pod_.size()) + " pods still have addresses in " +
                            range_->ToString() + "; keeping it until they are gone");
  if (auto s = WriteFileAtomically(RangePath(), r->ToString() + "\n", {0644, true}); !s.ok())
    return Status::Error("cannot record the pod range: " + s.message());
  range_ = *r;
  bridge_ready_ = false;  // its address is the new range's gateway
  return Status::Ok();
}

Result<std::string> PodNetwork::AssignLocked(const std::string& pod_uid) {
  if (auto it = by_pod_.find(pod_uid); it != by_pod_.end()) return it->second;
  if (!range_)
    return Status::Unavailable(
        "this node has no pod range yet: waiting for the control plane to give its Node a "
        "spec.podCIDR (tugd --cluster-cidr)");
  std::set<int64_t> used;
  for (const auto& [uid, ip] : by_pod_)
    used.insert(range_->PodIndex(ip));
  for (uint32_t i = 0; i < range_->PodCount(); ++i) {
    if (used.count(i)) continue;
    std::string ip = range_->Pod(i);
    // Not durable: after a machine crash the namespaces are gone too, and so are the pods.
    if (auto s = WriteFileAtomically(RecordPath(ip), pod_uid, {0644, false}); !s.ok())
      return Status::Error("cannot record the address of pod " + pod_uid + ": " + s.message());
    by_pod_[pod_uid] = ip;
    return ip;
  }
  return Status::Unavailable("the node's pod range " + range_->ToString() + " is full (" +
                             std::to_string(range_->PodCount()) + " addresses)");
}

Result<std::string> PodNetwork::Assign(const std::string& pod_uid) {
  std::lock_guard<std::mutex> l(mu_);
  return AssignLocked(pod_uid);
}

std::optional<std::string> PodNetwork::AddressOf(const std::string& pod_uid) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = by_pod_.find(pod_uid);
  if (it == by_pod_.end()) return std::nullopt;
  return it->second;
}

std::set<std::string> PodNetwork::Pods() const {
  std::lock_guard<std::mutex> l(mu_);
  std::set<std::string> out;
  for (const auto& [uid, ip] : by_pod_)
    out.insert(uid);
  return out;
}

bool PodNetwork::InUse() const {
  std::lock_guard<std::mutex> l(mu_);
  return bridge_ready_ || !by_pod_.empty();
}

Status PodNetwork::EnsureBridgeLocked() {
  if (bridge_ready_) return Status::Ok();
  if (!range_) return Status::Unavailable("this node has no pod range yet");
  const std::string& br = o_.bridge;
  auto shown = RunCommand({o_.ip, "link", "show", "dev", br});
  if (!shown.ok())
    return Status::Error("the pod network needs iproute2: " + shown.status().message());
  if (shown->exit_code != 0) {
    auto added = RunChecked({o_.ip, "link", "add", br, "type", "bridge"});
    // Another agent on this machine may have made it meanwhile; the next steps tell.
    if (!added.ok() && added.message().find("File exists") == std::string::npos) return added;
  }
  std::string gw = range_->Gateway() + "/" + std::to_string(range_->prefix());
  if (auto s = RunChecked({o_.ip, "addr", "replace", gw, "dev", br}); !s.ok()) return s;
  if (auto s = RunChecked({o_.ip, "link", "set", br, "up"}); !s.ok()) return s;
  bridge_ready_ = true;
  return Status::Ok();
}

Result<std::string> PodNetwork::Attach(const std::string& pod_uid) {
  std::lock_guard<std::mutex> l(mu_);
  auto ip = AssignLocked(pod_uid);
  if (!ip.ok()) return ip.status();
  const std::string ns = NetnsName(pod_uid), path = NetnsPath(pod_uid), veth = VethName(pod_uid);
  if (attached_.count(pod_uid)) return path;
  if (auto s = EnsureBridgeLocked(); !s.ok())
    return Status::Error("cannot set up the bridge " + o_.bridge + ": " + s.message());
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    // An earlier run made it: kept if its veth is still on the bridge (an agent restart while
    // the pod runs), else made again (a start that was cut off half-way).
    auto shown = RunCommand({o_.ip, "link", "show", "dev", veth});
    if (shown.ok() && shown->exit_code == 0 &&
        shown->output.find("master " + o_.bridge) != std::string::npos) {
      attached_.insert(pod_uid);
      return path;
    }
    (void)RunCommand({o_.ip, "netns", "del", ns});
  }
  (void)RunCommand({o_.ip, "link", "del", veth});  // a leftover from a cut-off start
  std::string addr = *ip + "/" + std::to_string(range_->prefix());
  const std::vector<std::vector<std::string>> steps = {
      {o_.ip, "netns", "add", ns},
      {o_.ip, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns},
      {o_.ip, "link", "set", veth, "master", o_.bridge, "up"},
      {o_.ip, "-n", ns, "addr", "add", addr, "dev", "eth0"},
      {o_.ip, "-n", ns, "link", "set", "lo", "up"},
      {o_.ip, "-n", ns, "link", "set", "eth0", "up"},
      {o_.ip, "-n", ns, "route", "add", "default", "via", range_->Gateway()},
  };
  for (const auto& step : steps) {
    if (auto s = RunChecked(step); !s.ok()) {
      (void)RunCommand({o_.ip, "netns", "del", ns});
      (void)RunCommand({o_.ip, "link", "del", veth});
      return Status::Error("cannot set up the pod's network: " + s.message());
    }
  }
  attached_.insert(pod_uid);
  return path;
}

Status PodNetwork::DetachLocked(const std::string& pod_uid) {
  const std::string ns = NetnsName(pod_uid), veth = VethName(pod_uid);
  struct stat st;
  if (::stat(NetnsPath(pod_uid).c_str(), &st) == 0)
    if (auto s = RunChecked({o_.ip, "netns", "del", ns}); !s.ok()) return s;
  // Deleting the namespace deletes the veth pair; this only finds one a cut-off start left.
  auto shown = RunCommand({o_.ip, "link", "show", "dev", veth});
  if (shown.ok() && shown->exit_code == 0) (void)RunCommand({o_.ip, "link", "del", veth});
  attached_.erase(pod_uid);
  if (auto it = by_pod_.find(pod_uid); it != by_pod_.end()) {
    ::unlink(RecordPath(it->second).c_str());
    by_pod_.erase(it);
  }
  return Status::Ok();
}

Status PodNetwork::Detach(const std::string& pod_uid) {
  std::lock_guard<std::mutex> l(mu_);
  return DetachLocked(pod_uid);
}

void PodNetwork::Prune(const std::set<std::string>& live) {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> gone;
  for (const auto& [uid, ip] : by_pod_)
    if (!live.count(uid)) gone.push_back(uid);
  for (const auto& uid : gone)
    (void)DetachLocked(uid);
}

}  // namespace tug::agent
