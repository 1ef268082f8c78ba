#include "test/support/agent_fleet.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "agent/runtime/memory_cgroup.h"
#include "agent/runtime/process_identity.h"
#include "test/support/programs.h"

namespace tug::testing {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string Slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Record {
  agent::ProcessIdentity id;
  std::string cgroup;
};

// Every container supervisor an agent's state files name: "<pod dir>/<container>" -> record.
std::vector<std::pair<std::string, Record>> Supervisors(const std::string& dir) {
  std::vector<std::pair<std::string, Record>> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir + "/pods", ec)) {
    json state = json::parse(Slurp(e.path().string() + "/state.json"), nullptr, false);
    if (!state.is_object() || !state.contains("containers")) continue;
    for (const auto& c : state["containers"]) {
      if (!c.is_object() || !c.contains("running") || !c["running"].is_object()) continue;
      // The checkpoint holds the runtime's handle; the process runtime's record is its state.
      const json& h = c["running"];
      if (h.value("runtime", "") != "process" || !h.contains("state") || !h["state"].is_object())
        continue;
      const json& rc = h["state"];
      Record r{{rc.value("pid", 0), rc.value("startTicks", uint64_t{0})}, rc.value("cgroup", "")};
      out.emplace_back(e.path().filename().string() + "/" + c.value("name", ""), r);
    }
  }
  return out;
}

}  // namespace

AgentFleet::~AgentFleet() {
  for (auto& [name, p] : procs_) {
    if (p.pid > 0) Kill(name);
  }
  // Containers outlive their agents: kill each group whose leader is still the process the
  // agent recorded.
  for (auto& [name, p] : procs_) {
    for (const auto& [key, r] : Supervisors(DataDir(name))) {
      if (agent::StillRunning(r.id)) ::kill(-r.id.pid, SIGKILL);
      // And their cgroups, which only the agent would have removed.
      for (int i = 0; i < 100 && agent::MemoryCgroups::SignalAll(r.cgroup, SIGKILL) > 0; ++i)
        ::usleep(10000);
      agent::MemoryCgroups::Remove(r.cgroup);
    }
  }
  // And any container supervisor no state file names (started just before its agent was
  // killed, before the handle was checkpointed): found by its command line, which names the
  // agent's data dir, and killed with its process group.
  std::vector<std::string> dirs;
  for (const auto& [name, p] : procs_)
    dirs.push_back(DataDir(name) + "/");
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    std::string n = e.path().filename().string();
    if (n.empty() || !std::isdigit(static_cast<unsigned char>(n[0]))) continue;
    std::string cmdline = Slurp(e.path().string() + "/cmdline");
    if (cmdline.find("tug-shim") == std::string::npos) continue;
    for (const auto& d : dirs)
      if (cmdline.find(d) != std::string::npos) ::kill(-std::stoi(n), SIGKILL);
  }
}

std::string AgentFleet::DataDir(const std::string& name) const {
  return c_.Root() + "/agent-" + name;
}

pid_t AgentFleet::Start(const std::string& name, std::vector<std::string> extra_args) {
  Proc& p = procs_[name];
  if (p.port == 0) p.port = FreePort();
  if (!extra_args.empty() || p.args.empty()) p.args = extra_args;
  std::string servers;
  for (const auto& a : c_.Apis())
    servers += (servers.empty() ? "http://" : ",http://") + a;
  std::vector<std::string> args = {tug::testing::Program("tug-agent"),
                                   "--name",
                                   name,
                                   "--data-dir",
                                   DataDir(name),
                                   "--server",
                                   servers,
                                   "--addr",
                                   "127.0.0.1:" + std::to_string(p.port),
                                   "--token-file",
                                   c_.TokenFile()};
  // The fleet's agents share this machine's network namespace: its Service proxy and DNS
  // would put the cluster's routes into the test machine's own tables (and serve every
  // cluster IP several times over). The end-to-end tests run them, one node per namespace.
  auto given = [&](const std::string& flag) {
    return std::find(p.args.begin(), p.args.end(), flag) != p.args.end();
  };
  if (!given("--service-proxy")) args.insert(args.end(), {"--service-proxy", "false"});
  if (!given("--cluster-dns")) args.insert(args.end(), {"--cluster-dns", "false"});
  args.insert(args.end(), p.args.begin(), p.args.end());
  pid_t pid = SpawnWithLog(args, DataDir(name) + ".log");
  p.pid = pid;
  return pid;
}

void AgentFleet::Kill(const std::string& name) {
  auto it = procs_.find(name);
  if (it == procs_.end() || it->second.pid <= 0) return;
  ::kill(it->second.pid, SIGKILL);
  ::waitpid(it->second.pid, nullptr, 0);
  it->second.pid = 0;
}

void AgentFleet::Signal(const std::string& name, int sig) {
  auto it = procs_.find(name);
  if (it != procs_.end() && it->second.pid > 0) ::kill(it->second.pid, sig);
}

bool AgentFleet::Running(const std::string& name) const {
  auto it = procs_.find(name);
  return it != procs_.end() && it->second.pid > 0;
}

std::string AgentFleet::ReadLog(const std::string& name) const {
  return Slurp(DataDir(name) + ".log");
}

std::string AgentFleet::Logs() const {
  std::string out;
  for (const auto& [name, p] : procs_) {
    std::string log = ReadLog(name);
    if (log.size() > 4000) log = "..." + log.substr(log.size() - 4000);
    out += "--- agent " + name + " ---\n" + log + "\n";
  }
  return out;
}

bool ProcessGone(pid_t pid) {
  if (::kill(pid, 0) != 0) return true;
  std::string stat = Slurp("/proc/" + std::to_string(pid) + "/stat");
  size_t close = stat.rfind(')');
  return close == std::string::npos || stat.compare(close + 2, 1, "Z") == 0;
}

std::map<std::string, pid_t> AgentFleet::ContainerPids(const std::string& name) const {
  // The container's process is the child of its supervisor process.
  std::map<pid_t, pid_t> child_of;  // parent -> a child
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    std::string n = e.path().filename().string();
    if (n.empty() || !std::isdigit(static_cast<unsigned char>(n[0]))) continue;
    std::string stat = Slurp(e.path().string() + "/stat");
    size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (state != "Z") child_of[ppid] = static_cast<pid_t>(std::stoi(n));
  }
  std::map<std::string, pid_t> out;
  for (const auto& [key, r] : Supervisors(DataDir(name))) {
    auto it = child_of.find(r.id.pid);
    if (agent::StillRunning(r.id) && it != child_of.end()) out[key] = it->second;
  }
  return out;
}

}  // namespace tug::testing
