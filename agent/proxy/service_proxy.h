// The agent's Service proxy: a user-space L4 (TCP) proxy on every node, listening on every
// Service's clusterIP:port and on every NodePort, joining each client to one of the Service's
// ready endpoints.
//
// Why user space rather than iptables/nftables DNAT rules (kube-proxy's modes): a rule picks
// the backend when the client's SYN passes and cannot take that back, so a dead endpoint keeps
// getting its share of new connections (refused or timed out) until the endpoint list changes
// (kubernetes/kubernetes#24322). Here the proxy connects to the backend itself, so:
// - a connect that is refused or does not complete within connect_timeout_ms is retried on
//   the next backend, within the same client connection, and the failed backend is set aside
//   for set_aside_ms (BackendPicker), so the next clients do not wait for it;
// - a backend that accepted but died before sending a single byte (killed with its node) is
//   also replaced: the client's bytes sent so far (up to replay_limit) are kept until the
//   backend answers, and sent again to the next backend. A machine that lost power sends no
//   reset: tight TCP keepalives and a bound on unacknowledged data (TCP_USER_TIMEOUT) find it
//   within about 3 s while the proxy waits for the first byte, however slow a live backend's
//   application is (its kernel answers the probes). A backend that answered anything is
//   never replaced (the client has seen part of an answer; only it can retry).
// The cost is a copy of every byte through the agent (bench/ measures it against direct).
// Established connections survive Sync (listeners removed keep their connections to the end)
// but not an agent restart: they are the agent's sockets.
//
// Round robin across backends, or ClientIP affinity (sessionAffinity) as Kubernetes has it.
// Bounded: max_connections relayed at once (more clients are closed at once); 16 KiB of buffer
// per direction. Listeners set SO_REUSEPORT so that agents sharing one network namespace (the
// tests run several on one machine) can all serve a port.
//
// Listeners run on a strand of the io_context given, each connection on a strand of its own:
// give it an io_context with a thread per core and connections use every core. Sync and the
// destructor may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/proxy/backend_picker.h"

namespace boost::asio {
class io_context;
}

namespace tug::agent::proxy {

struct ProxyOptions {
  int64_t connect_timeout_ms = 1000;
  int64_t set_aside_ms = 5000;
  size_t replay_limit = 64 * 1024;
  int max_connections = 16384;
};

// One address the proxy listens on, for one Service port.
struct ProxyPort {
  std::string service;  // "ns/name:port" for logs
  std::string listen_ip;
  uint16_t listen_port = 0;
  std::vector<Backend> backends;  // ready endpoints
  Affinity affinity = Affinity::kNone;
  int64_t affinity_timeout_ms = 10800 * 1000;
  bool operator==(const ProxyPort&) const = default;
};

class ServiceProxy {
 public:
  ServiceProxy(boost::asio::io_context& io, ProxyOptions o = {});
  ~ServiceProxy();
  ServiceProxy(const ServiceProxy&) = delete;
  ServiceProxy& operator=(const ServiceProxy&) = delete;

  // Level-triggered: a listener for every port in `want` (opened when new; its backends and
  // affinity replaced when it exists), none for the rest. A port that cannot be listened on
  // is retried at the next Sync and reported by `on_error` (on the strand) once per problem.
  void Sync(std::vector<ProxyPort> want);
  void SetErrorHandler(std::function<void(const std::string&)> on_error);
  // Closes every listener and connection.
  void Stop();

  // Counters, for tests and logs (read on any thread; eventually consistent).
  struct Stats {
    uint64_t accepted = 0, connected = 0, retried = 0, replayed = 0, refused = 0;
  };
  Stats stats() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace tug::agent::proxy
