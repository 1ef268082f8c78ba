#include "agent/network/node_routes.h"

#include <unistd.h>

#include <sstream>
#include <vector>

#include "base/command.h"
#include "base/file.h"

namespace tug::agent {

namespace {

const std::string kProtoText = std::to_string(NodeRoutes::kProto);
const char* kChain = "TUG-MASQ";

std::vector<std::string> Words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;)
    out.push_back(w);
  return out;
}

// The routes with our protocol in `table`: destination -> gateway ("" for none).
Result<std::map<std::string, std::string>> OurRoutes(const std::string& ip,
                                                     const std::string& table) {
  auto shown = RunCommand({ip, "-4", "route", "show", "table", table, "proto", kProtoText});
  if (!shown.ok())
    return Status::Error("the pod network needs iproute2: " + shown.status().message());
  if (shown->exit_code != 0) return Status::Error("ip route show failed: " + shown->output);
  std::map<std::string, std::string> out;
  std::istringstream in(shown->output);
  for (std::string line; std::getline(in, line);) {
    auto w = Words(line);
    if (w.empty()) continue;
    size_t i = w[0] == "local" ? 1 : 0;
    if (i >= w.size()) continue;
    std::string dest = w[i], via;
    for (size_t j = i; j + 1 < w.size(); ++j)
      if (w[j] == "via") via = w[j + 1];
    if (dest.find('/') == std::string::npos) dest += "/32";
    out[dest] = via;
  }
  return out;
}

void Keep(Status* first, Status s) {
  if (first->ok() && !s.ok()) *first = std::move(s);
}

}  // namespace

Status NodeRoutes::Sync(const NodeRoutesWant& want) {
  std::lock_guard<std::mutex> l(mu_);
  Status first;
  Keep(&first, SyncRemote(want.remote));
  Keep(&first, SyncLocal(want.local_ips));
  if (!want.own_cidr.empty()) Keep(&first, SyncMasquerade(want));
  return first;
}

Status NodeRoutes::SyncRemote(const std::map<std::string, std::string>& want) {
  auto have = OurRoutes(ip_, "main");
  if (!have.ok()) return have.status();
  Status first;
  if (!want.empty() && !forwarding_) {
    // Other nodes' pods reach this node's pods through it.
    Status s = WriteFileAtomically("/proc/sys/net/ipv4/ip_forward", "1\n", {0644, false});
    if (!s.ok()) s = RunChecked({"sysctl", "-q", "-w", "net.ipv4.ip_forward=1"});
    forwarding_ = s.ok();
    Keep(&first, s);
  }
  for (const auto& [cidr, via] : want) {
    auto it = have->find(cidr);
    if (it != have->end() && it->second == via) continue;
    Keep(&first, RunChecked({ip_, "route", "replace", cidr, "via", via, "proto", kProtoText}));
  }
  for (const auto& [cidr, via] : *have)
    if (!want.count(cidr))
      Keep(&first, RunChecked({ip_, "route", "del", cidr, "proto", kProtoText}));
  return first;
}

Status NodeRoutes::SyncLocal(const std::set<std::string>& want) {
  auto have = OurRoutes(ip_, "local");
  if (!have.ok()) return have.status();
  Status first;
  for (const auto& addr : want) {
    if (have->count(addr + "/32")) continue;
    Keep(&first, RunChecked({ip_, "route", "replace", "local", addr + "/32", "dev", "lo", "table",
                             "local", "proto", kProtoText}));
  }
  for (const auto& [dest, via] : *have) {
    std::string addr = dest.substr(0, dest.find('/'));
    if (!want.count(addr))
      Keep(&first, RunChecked({ip_, "route", "del", "local", dest, "dev", "lo", "table", "local",
                               "proto", kProtoText}));
  }
  return first;
}

Status NodeRoutes::SyncMasquerade(const NodeRoutesWant& want) {
  // Pod traffic to another pod keeps its source address; to anywhere else it leaves with the
  // node's (the pod network is not routed outside the cluster).
  std::string rules = "*nat\n:" + std::string(kChain) + " - [0:0]\n";
  rules += "-A " + std::string(kChain) + " -d " + want.own_cidr + " -j RETURN\n";
  for (const auto& [cidr, via] : want.remote)
    rules += "-A " + std::string(kChain) + " -d " + cidr + " -j RETURN\n";
  rules += "-A " + std::string(kChain) + " -j MASQUERADE\nCOMMIT\n";
  std::string key = want.own_cidr + "\n" + rules;
  if (key == masq_done_) return Status::Ok();
  std::string file = "/tmp/tug-masq-" + std::to_string(::getpid()) + ".rules";
  if (auto s = WriteFileAtomically(file, rules, {0600, false}); !s.ok()) return s;
  // iptables-restore reads a file: the chain is replaced as a whole, never half-written.
  Status restored = RunChecked({iptables_ + "-restore", "--noflush", file});
  ::unlink(file.c_str());
  if (!restored.ok()) return restored;
  auto check =
      RunCommand({iptables_, "-t", "nat", "-C", "POSTROUTING", "-s", want.own_cidr, "-j", kChain});
  if (!check.ok() || check->exit_code != 0) {
    Status added = RunChecked(
        {iptables_, "-t", "nat", "-A", "POSTROUTING", "-s", want.own_cidr, "-j", kChain});
    if (!added.ok()) return added;
  }
  masq_done_ = key;
  return Status::Ok();
}

void NodeRoutes::Clear() {
  std::lock_guard<std::mutex> l(mu_);
  (void)SyncRemote({});
  (void)SyncLocal({});
  // The jump rules (one per range this node had) and the chain.
  for (int i = 0; i < 16; ++i) {
    auto rules = RunCommand({iptables_, "-t", "nat", "-S", "POSTROUTING"});
    if (!rules.ok() || rules->exit_code != 0) break;
    std::string line;
    std::istringstream in(rules->output);
    bool removed = false;
    while (std::getline(in, line)) {
      if (line.find(std::string("-j ") + kChain) == std::string::npos) continue;
      auto w = Words(line);
      if (w.size() < 2) continue;
      w[0] = "-D";
      w.insert(w.begin(), {iptables_, "-t", "nat"});
      removed = RunChecked(w).ok();
      break;
    }
    if (!removed) break;
  }
  (void)RunCommand({iptables_, "-t", "nat", "-F", kChain});
  (void)RunCommand({iptables_, "-t", "nat", "-X", kChain});
  masq_done_.clear();
}

}  // namespace tug::agent
