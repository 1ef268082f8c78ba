#include "agent/network/ipv4_range.h"

#include "base/ipv4.h"

namespace tug::agent {

bool Ipv4Range::ParseAddress(const std::string& s, uint32_t* out) {
  return ParseIpv4(s, out);
}

std::string Ipv4Range::Format(uint32_t a) {
  return FormatIpv4(a);
}

Result<Ipv4Range> Ipv4Range::Parse(const std::string& cidr) {
  auto c = Ipv4Cidr::Parse(cidr, 8, 30);
  if (!c.ok()) return c.status();
  Ipv4Range r;
  r.base_ = c->base();
  r.prefix_ = c->prefix();
  return r;
}

uint32_t Ipv4Range::PodCount() const {
  // All addresses minus network, gateway and broadcast.
  return (uint32_t{1} << (32 - prefix_)) - 3;
}

int64_t Ipv4Range::PodIndex(const std::string& ip) const {
  uint32_t a = 0;
  if (!ParseAddress(ip, &a) || a < base_ + 2) return -1;
  uint32_t i = a - base_ - 2;
  return i < PodCount() ? static_cast<int64_t>(i) : -1;
}

}  // namespace tug::agent
