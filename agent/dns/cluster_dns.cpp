#include "agent/dns/cluster_dns.h"

#include <vector>

#include "agent/dns/dns_message.h"
#include "base/ipv4.h"

namespace tug::agent::dns {

namespace {

// Services' cluster IPs change rarely but do change (delete and recreate): a short TTL, as
// CoreDNS's kubernetes plugin uses by default.
constexpr uint32_t kServiceTtl = 5;

std::string Lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t dot = s.find('.', start);
    parts.push_back(s.substr(start, dot - start));
    if (dot == std::string::npos) return parts;
    start = dot + 1;
  }
}

ClusterDns::Decision Answer(Response r) {
  return {ClusterDns::Decision::kAnswer, EncodeResponse(r)};
}

}  // namespace

ClusterDns::ClusterDns(std::string domain) : domain_(Lower(std::move(domain))) {
  while (!domain_.empty() && domain_.back() == '.')
    domain_.pop_back();
}

void ClusterDns::SetServices(
    std::map<std::pair<std::string, std::string>, std::string> by_ns_and_name) {
  services_.clear();
  namespaces_.clear();
  for (const auto& [key, ip] : by_ns_and_name) {
    uint32_t addr = 0;
    std::optional<uint32_t> a;
    if (ParseIpv4(ip, &addr)) a = addr;
    std::string ns = Lower(key.first);
    services_[{ns, Lower(key.second)}] = a;
    namespaces_.insert(ns);
  }
}

ClusterDns::Decision ClusterDns::Handle(const uint8_t* data, size_t len) const {
  auto header = ParseHeader(data, len);
  if (!header.ok() || header->qr()) return {Decision::kDrop, ""};
  Response r;
  r.query = *header;
  // Other opcodes (NOTIFY, UPDATE) give their sections other meanings: answer from the header.
  if (header->opcode() != kOpcodeQuery) {
    r.rcode = Rcode::kNotImp;
    return Answer(std::move(r));
  }
  auto query = ParseQuery(data, len);
  if (!query.ok() || header->qdcount != 1) {
    r.rcode = Rcode::kFormErr;
    return Answer(std::move(r));
  }
  const Question& q = query->questions[0];
  r.question = q;
  const std::string& name = q.name;
  bool in_domain = name == domain_ || (name.size() > domain_.size() && name.ends_with(domain_) &&
                                       name[name.size() - domain_.size() - 1] == '.');
  if (!in_domain) return {Decision::kForward, ""};
  r.authoritative = true;
  // The labels left of the domain, outermost first: ["svc", ns, name].
  std::vector<std::string> rel;
  if (name != domain_) rel = Split(name.substr(0, name.size() - domain_.size() - 1));
  std::vector<std::string> path(rel.rbegin(), rel.rend());
  bool exists = false;
  if (path.empty()) {
    exists = true;  // the domain itself
  } else if (path[0] == "svc") {
    if (path.size() == 1) exists = true;
    if (path.size() == 2) exists = namespaces_.count(path[1]) > 0;
    if (path.size() == 3) {
      auto it = services_.find({path[1], path[2]});
      exists = it != services_.end();
      // Kubernetes answers a headless Service (no cluster IP) with its ready pods' IPs. We do
      // not follow endpoints yet, so such a name exists without an A record: NODATA, since
      // NXDOMAIN would say the Service does not exist at all.
      bool type_a = q.type == kTypeA && (q.qclass == kClassIn || q.qclass == kClassAny);
      if (exists && it->second && type_a) r.addresses.push_back(*it->second);
    }
  }
  r.rcode = exists ? Rcode::kNoError : Rcode::kNxDomain;
  r.ttl = kServiceTtl;
  return Answer(std::move(r));
}

std::string ResolvConf(const std::string& ns, const std::string& nameserver,
                       const std::string& domain) {
  return "search " + ns + ".svc." + domain + " svc." + domain + " " + domain + "\nnameserver " +
         nameserver + "\noptions ndots:5\n";
}

}  // namespace tug::agent::dns
