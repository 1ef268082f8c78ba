// The end-to-end tests' handle on scripts/local-cluster.sh, the same launcher `make demo`
// uses: three tugd and three tug-agent, each in a network namespace of its own (the tests
// need root for that, and say so when they cannot run). Up in the constructor, down (and the
// directory removed) in the destructor; members and agents are killed, started, stopped and
// cut off by name.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "net/http_client.h"
#include "test/support/run_command.h"

namespace tug::testing {

struct LocalClusterOptions {
  std::string prefix = "tte";  // namespaces and links (apart from the demo's "tug")
  int subnet = 1;              // 10.213.<subnet>.0/24 (the demo uses 0)
  int node_grace_ms = 5000;
};

class LocalCluster {
 public:
  // Why the end-to-end tests cannot run here ("" when they can): they need root and
  // network namespaces.
  static std::string Unavailable();

  explicit LocalCluster(LocalClusterOptions o = {});
  ~LocalCluster();
  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;

  // Whether `up` worked; if not, what it printed.
  bool ok() const { return up_.exit_code == 0; }
  std::string UpOutput() const { return up_.out + up_.err; }

  // The launcher with `args` (a command and its arguments).
  CommandResult Script(const std::vector<std::string>& args,
                       std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // tugctl against the cluster.
  CommandResult Tugctl(const std::vector<std::string>& args, CommandOptions o = {});
  // A command inside NAME's namespace.
  CommandResult Exec(const std::string& name, const std::vector<std::string>& args,
                     std::chrono::milliseconds timeout = std::chrono::seconds(60));

  bool Kill(const std::string& name, const std::string& sig = "KILL");
  bool Start(const std::string& name);
  bool Stop(const std::string& name);
  bool Isolate(const std::string& name);
  bool Heal(const std::string& name);
  pid_t Pid(const std::string& name);
  std::string Addr(const std::string& name);  // "10.213.1.11"
  std::string Api(const std::string& name);   // "10.213.1.11:7101"
  std::string Token() const;
  std::vector<std::string> Apis();  // every member's, host:port
  const std::string& dir() const { return dir_; }
  // Every process's log, for failure messages.
  std::string Logs() const;

  // GET through any member (failover); null without a 200 answer.
  nlohmann::json Get(const std::string& path);
  // The leader's name as the members agree on it ("" if they do not).
  std::string Leader();

 private:
  std::string dir_;
  std::vector<std::string> base_;  // bash script --dir ... --bin ... [options]
  CommandResult up_;
};

}  // namespace tug::testing
