#include "test/support/local_cluster.h"
#include "test/support/programs.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace tug::testing {

using json = nlohmann::json;

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
    s.pop_back();
  return s;
}

}  // namespace

std::string LocalCluster::Unavailable() {
  if (::geteuid() != 0) return "the end-to-end tests need root (network namespaces)";
  auto r = RunCommand({"/bin/sh", "-c", "ip netns list"}, {});
  if (r.exit_code != 0) return "`ip netns` does not work here: " + r.err;
  return "";
}

LocalCluster::LocalCluster(LocalClusterOptions o) {
  char tmpl[] = "/tmp/tug-e2e-XXXXXX";
  dir_ = ::mkdtemp(tmpl) ? tmpl : "/tmp/tug-e2e";
  base_ = {"/bin/bash",       TUG_SOURCE_DIR "/scripts/local-cluster.sh",
           "--dir",           dir_,
           "--bin",           tug::testing::BinDir(),
           "--net",           "netns",
           "--prefix",        o.prefix,
           "--subnet",        std::to_string(o.subnet),
           "--node-grace-ms", std::to_string(o.node_grace_ms)};
  // A run that died without its destructor left its namespaces: clear them first.
  Script({"down"});
  up_ = Script({"up"}, std::chrono::seconds(120));
}

LocalCluster::~LocalCluster() {
  Script({"down", "--purge"}, std::chrono::seconds(120));
}

CommandResult LocalCluster::Script(const std::vector<std::string>& args,
                                   std::chrono::milliseconds timeout) {
  std::vector<std::string> all = base_;
  all.insert(all.end(), args.begin(), args.end());
  CommandOptions o;
  o.timeout = timeout;
  return RunCommand(all, o);
}

CommandResult LocalCluster::Tugctl(const std::vector<std::string>& args, CommandOptions o) {
  std::vector<std::string> all = {tug::testing::Program("tugctl"), "--config", dir_ + "/config"};
  all.insert(all.end(), args.begin(), args.end());
  o.env.emplace("TUG_SERVER", std::nullopt);
  o.env.emplace("TUG_TOKEN", std::nullopt);
  return RunCommand(all, o);
}

CommandResult LocalCluster::Exec(const std::string& name, const std::vector<std::string>& args,
                                 std::chrono::milliseconds timeout) {
  std::vector<std::string> all = {"exec", name};
  all.insert(all.end(), args.begin(), args.end());
  return Script(all, timeout);
}

bool LocalCluster::Kill(const std::string& name, const std::string& sig) {
  return Script({"kill", name, sig}).exit_code == 0;
}
bool LocalCluster::Start(const std::string& name) {
  return Script({"start", name}).exit_code == 0;
}
bool LocalCluster::Stop(const std::string& name) {
  return Script({"stop", name}).exit_code == 0;
}
bool LocalCluster::Isolate(const std::string& name) {
  return Script({"isolate", name}).exit_code == 0;
}
bool LocalCluster::Heal(const std::string& name) {
  return Script({"heal", name}).exit_code == 0;
}

pid_t LocalCluster::Pid(const std::string& name) {
  auto r = Script({"pid", name});
  return r.exit_code == 0 ? static_cast<pid_t>(std::atoi(r.out.c_str())) : 0;
}

std::string LocalCluster::Addr(const std::string& name) {
  return Trim(Script({"addr", name}).out);
}
std::string LocalCluster::Api(const std::string& name) {
  return Addr(name) + ":7101";
}

std::string LocalCluster::Token() const {
  return Trim(ReadFile(dir_ + "/token"));
}

std::vector<std::string> LocalCluster::Apis() {
  return net::SplitServers(Trim(Script({"servers"}).out));
}

std::string LocalCluster::Logs() const {
  std::string out;
  for (const char* n : {"cp1", "cp2", "cp3", "node-a", "node-b", "node-c"}) {
    std::string log = ReadFile(dir_ + "/logs/" + n + ".log");
    if (log.size() > 4000) log = "..." + log.substr(log.size() - 4000);
    out += std::string("--- ") + n + "\n" + log;
  }
  return out;
}

json LocalCluster::Get(const std::string& path) {
  net::HttpClient c(Apis(), Token());
  net::RequestOptions o;
  o.timeout = std::chrono::seconds(10);
  auto r = c.Get(path, o);
  if (!r.ok() || r->status != 200) return nullptr;
  return json::parse(r->body, nullptr, false);
}

std::string LocalCluster::Leader() {
  std::string leader;
  for (const auto& a : Apis()) {
    net::HttpClient c({a}, Token());
    net::RequestOptions o;
    o.timeout = std::chrono::seconds(2);
    o.max_unreachable_rounds = 1;
    auto r = c.Get("/cluster/status", o);
    if (!r.ok() || r->status != 200) continue;
    json s = json::parse(r->body, nullptr, false);
    if (!s.is_object() || !s.contains("leader") || !s["leader"].is_string()) continue;
    std::string l = s["leader"].get<std::string>();
    if (l.empty()) return "";
    if (leader.empty()) {
      leader = l;
    } else if (leader != l) {
      return "";
    }
  }
  return leader;
}

}  // namespace tug::testing
