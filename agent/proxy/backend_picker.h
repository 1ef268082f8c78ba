// Which backend a Service proxy connects a new client to, for one Service port. Pure: the
// proxy passes the time in, tries the backends in Order's order until one connects, and
// reports each outcome with Failed or Connected.
//
// Better than kube-proxy when a backend dies: kube-proxy's iptables rules keep sending a
// share of clients to a dead endpoint until the endpoints controller removes it, and with
// ClientIP affinity keep sending the same client there. Here a backend that refused or timed
// out is set aside for a while (tried after every healthy one), a client's affinity moves to
// whichever backend it did connect to, and a backend is still tried when all of them have
// failed, since trying may succeed where refusing cannot.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tug::agent::proxy {

struct Backend {
  std::string ip;
  uint16_t port = 0;

  bool operator==(const Backend&) const = default;
  std::string String() const;  // "10.244.1.5:8080", "[fd00::5]:8080"
};

enum class Affinity { kNone, kClientIP };

class BackendPicker {
 public:
  // At most this many clients are remembered for ClientIP affinity: a client's address comes
  // from outside, and a scan from many addresses must not grow the table without bound.
  static constexpr size_t kMaxClients = 65536;

  // affinity_timeout_ms: Kubernetes' sessionAffinityConfig.clientIP.timeoutSeconds (3 hours
  // by default), counted from the client's last connection.
  explicit BackendPicker(Affinity a = Affinity::kNone, int64_t affinity_timeout_ms = 10800 * 1000,
                         int64_t set_aside_ms = 2000);

  // The Service's endpoints now (level-triggered: the whole list each time; duplicates are
  // ignored). Backends still present keep their round-robin place, failure mark and
  // clients; the others are forgotten.
  void SetBackends(std::vector<Backend> backends);
  // kNone forgets every client.
  void SetAffinity(Affinity a, int64_t timeout_ms);

  // The order to try backends in for one new connection from `client_ip` at now_ms: with
  // ClientIP affinity, the client's backend first if it is still there and not set aside;
  // then the others from the round-robin cursor on; those set aside last, the one that failed
  // longest ago first. The cursor moves past the first backend not set aside, so successive
  // clients spread evenly over the healthy ones (one place per call when all are healthy).
  // Every backend appears exactly once; empty if there are none.
  std::vector<Backend> Order(const std::string& client_ip, int64_t now_ms);

  // Connecting to `b` was refused or timed out: set it aside until now_ms + set_aside_ms.
  void Failed(const Backend& b, int64_t now_ms);
  // `client_ip` connected to `b`: its failure mark goes, and with ClientIP affinity the
  // client sticks to it from now on. Ignored if `b` is no longer a backend. An empty
  // client_ip (here and in Order) means a client without affinity.
  void Connected(const Backend& b, const std::string& client_ip, int64_t now_ms);

  size_t size() const { return backends_.size(); }
  size_t clients() const { return clients_.size(); }

 private:
  struct Entry {
    Backend backend;
    bool set_aside = false;
    int64_t set_aside_until = 0;
  };
  struct Client {
    std::string ip;
    Backend backend;
    int64_t last_ms = 0;
  };
  using Key = std::pair<std::string, uint16_t>;

  int Find(const Backend& b) const;  // index in backends_, or -1
  bool Expired(const Client& c, int64_t now_ms) const;
  void ForgetClient(const std::string& ip);

  Affinity affinity_;
  int64_t affinity_timeout_ms_;
  int64_t set_aside_ms_;
  std::vector<Entry> backends_;
  std::map<Key, size_t> index_;  // backend -> its place in backends_
  size_t cursor_ = 0;            // where the next Order starts its round
  // Least recently connected first: as time moves forward the expired clients gather at the
  // front, then the oldest, so bounding the table costs O(1) per new client.
  std::list<Client> lru_;
  std::unordered_map<std::string, std::list<Client>::iterator> clients_;
};

}  // namespace tug::agent::proxy
