// Runs real `tugd` processes on 127.0.0.1 for integration tests: free ports, a temporary
// directory per cluster, start/kill/restart by PID, and waits that poll a condition with a
// deadline. The destructor kills every process it started (by PID) and removes the
// directory.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "net/http_client.h"

namespace tug::testing {

struct ClusterOptions {
  int members = 3;
  int heartbeat_ms = 100;
  int election_ms = 1000;
  int request_timeout_ms = 3000;
  int snapshot_entries = 10000;
  std::vector<std::string> extra_args;
  // Give every member the same --token-file (the cluster's token from the start). Without
  // it the members agree on a generated one, saved in each data dir once a leader made it.
  bool token_file = true;
  // Every member also serves HTTPS (--tls-addr) with a certificate made for the cluster by
  // the openssl command: a CA, and a server certificate for 127.0.0.1 that it signs.
  bool tls = false;
};

class TugdCluster {
 public:
  explicit TugdCluster(ClusterOptions o = {});
  ~TugdCluster();
  TugdCluster(const TugdCluster&) = delete;
  TugdCluster& operator=(const TugdCluster&) = delete;

  // Starts member i (0-based) on its data dir; returns its pid.
  pid_t Start(int i);
  void StartAll();
  // Sends `sig` to member i's process (by PID). Does not wait.
  void Signal(int i, int sig);
  // SIGKILL and reap.
  void Kill(int i);
  // Waits for member i's process to exit; returns its exit status (or nullopt on timeout).
  std::optional<int> WaitExit(int i, std::chrono::milliseconds timeout);
  bool Running(int i) const { return pids_[static_cast<size_t>(i)] > 0; }
  pid_t Pid(int i) const { return pids_[static_cast<size_t>(i)]; }

  int size() const { return opt_.members; }
  std::string Api(int i) const;           // "127.0.0.1:port"
  std::string TlsApi(int i) const;        // "127.0.0.1:port" of the HTTPS listener (tls)
  std::string CaFile() const;             // the CA's certificate (PEM; tls)
  std::vector<std::string> Apis() const;  // every member's
  std::string DataDir(int i) const;
  std::string LogPath(int i) const;
  std::string ReadLog(int i) const;
  std::string Name(int i) const { return "cp" + std::to_string(i + 1); }
  // The bearer token clients send: the --token-file's, or the one saved in a member's data
  // dir ("" until it exists).
  std::string Token() const;
  // The --token-file every member got ("" without ClusterOptions::token_file).
  std::string TokenFile() const;
  // The cluster's temporary directory (removed with it).
  const std::string& Root() const { return root_; }

  // /cluster/status of member i, or nullopt if it does not answer.
  std::optional<std::string> StatusJson(int i);
  // Index of the member every running member agrees leads (same term), or -1.
  int Leader();
  // Waits until the running members agree on a leader; returns its index or -1.
  int WaitLeader(std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  ClusterOptions opt_;
  std::string root_;
  std::vector<int> api_ports_, peer_ports_, tls_ports_;
  std::vector<pid_t> pids_;
};

// Starts args[0] with args, stdout and stderr appended to `log`; returns its PID.
pid_t SpawnWithLog(std::vector<std::string> args, const std::string& log);

// GET `path`: the body as JSON, or null without a 200 answer within 5 s.
nlohmann::json GetJson(net::HttpClient& c, const std::string& path);
// A request with a JSON body (null: none); the HTTP status, or 0 without an answer in 5 s.
int SendJson(net::HttpClient& c, const std::string& method, const std::string& path,
             const nlohmann::json& body, const std::string& content_type = "application/json");

// A port free now on 127.0.0.1, below the ephemeral range.
int FreePort();

// Polls `pred` every 20 ms until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

// etcd-style base64 for keys and values in the /v3 JSON API.
std::string B64(const std::string& s);
std::string UnB64(const std::string& s);

}  // namespace tug::testing
