// Container probes, as Kubernetes defines them: `httpGet` (a 2xx or 3xx answer), `tcpSocket`
// (a connection is accepted) and `exec` (the command exits 0), each within `timeoutSeconds`.
// RunProbe blocks for at most the timeout, so the agent runs probes on worker threads; the
// supervisor decides when to probe and what a run of failures means.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace tug::agent {

struct ProbeSpec {
  enum class Kind { kHttpGet, kTcpSocket, kExec } kind = Kind::kTcpSocket;
  std::string host;  // httpGet/tcpSocket host: "" for the pod (ProbeTarget::host)
  std::string port;  // a number, or the name of a container port
  std::string path = "/";
  std::string scheme = "HTTP";
  std::vector<std::pair<std::string, std::string>> http_headers;
  std::vector<std::string> command;  // exec
  int64_t initial_delay_ms = 0;
  int64_t period_ms = 10'000;
  int64_t timeout_ms = 1'000;
  int failure_threshold = 3;
  int success_threshold = 1;
};

// Reads a probe (a container's livenessProbe or readinessProbe) with Kubernetes' defaults, or
// says what is wrong with it.
Result<ProbeSpec> ParseProbe(const nlohmann::json& probe);

// Where the probe runs: the container's host ports by name and number, and for exec its
// environment and working directory.
struct ProbeTarget {
  std::string host;                        // where the ports are ("": 127.0.0.1)
  std::map<std::string, int> named_ports;  // port name -> host port
  std::map<int, int> ports;                // container port -> host port
  // Runs an exec probe's command inside the container (Runtime::ExecPrefix); empty: on the
  // host, with `env` and `work_dir`.
  std::vector<std::string> exec_prefix;
  std::vector<std::string> env;
  std::string work_dir;
};

struct ProbeResult {
  bool success = false;
  std::string message;  // why it failed (shown in the Unhealthy event)
};

// Runs the probe once, taking at most its timeout (plus a little for an exec to be killed).
ProbeResult RunProbe(const ProbeSpec& p, const ProbeTarget& t);

}  // namespace tug::agent
