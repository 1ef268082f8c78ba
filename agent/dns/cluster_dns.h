// Cluster DNS as Kubernetes' CoreDNS answers it, for the agent's resolver: what to do with
// one datagram from a pod. Pure: the UDP/TCP shell around it reads the query, calls Handle,
// and sends the response, forwards the raw query to the node's upstream resolver, or drops
// it. The Services come in whole with SetServices (level-triggered, from the watch).
//
//   <svc>.<ns>.svc.<domain>, a known Service, type A  -> its cluster IP (TTL 5, AA)
//     the same name, any other type (AAAA, ...)       -> NOERROR, no answer (NODATA, AA)
//   <domain>, svc.<domain>, <ns>.svc.<domain> for a
//     namespace that has Services                     -> NODATA (AA): these names exist
//   any other name under <domain>                     -> NXDOMAIN (AA)
//   names outside <domain>                            -> forward
//   opcode other than QUERY -> NOTIMP; qdcount != 1 or malformed -> FORMERR;
//   shorter than a header, or a response (QR=1)       -> drop (answering responses loops)
//
// Why NODATA rather than NXDOMAIN for the names above a Service: NXDOMAIN says nothing exists
// at or below the name (RFC 8020), and a caching resolver may then refuse every Service under
// it. CoreDNS answers these names the same way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

namespace tug::agent::dns {

class ClusterDns {
 public:
  explicit ClusterDns(std::string domain = "cluster.local");

  // (namespace, name) -> cluster IP. Replaces what was there.
  void SetServices(std::map<std::pair<std::string, std::string>, std::string> by_ns_and_name);

  struct Decision {
    enum Kind { kAnswer, kForward, kDrop } kind = kDrop;
    std::string response;  // the bytes to send back, for kAnswer
  };
  Decision Handle(const uint8_t* data, size_t len) const;

  const std::string& domain() const { return domain_; }

 private:
  std::string domain_;  // lower case, no trailing dot
  // The IPv4 cluster IP in host order; none for a Service without one (headless: "None"
  // or empty), or with an address we cannot give as an A record.
  std::map<std::pair<std::string, std::string>, std::optional<uint32_t>> services_;
  std::set<std::string> namespaces_;  // those with at least one Service
};

// A pod's /etc/resolv.conf as the kubelet writes it for dnsPolicy ClusterFirst: short names
// try the pod's namespace, then svc, then the domain; ndots:5 so that "web.other" is tried
// with the search list before it goes out as is.
std::string ResolvConf(const std::string& ns, const std::string& nameserver,
                       const std::string& domain = "cluster.local");

}  // namespace tug::agent::dns
