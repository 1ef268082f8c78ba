#include "agent/network/ipv4_range.h"

#include <cstdio>

namespace tug::agent {

bool Ipv4Range::ParseAddress(const std::string& s, uint32_t* out) {
  uint32_t addr = 0;
  size_t pos = 0;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (pos >= s.size() || s[pos] != '.') return false;
      ++pos;
    }
    size_t start = pos;
    uint32_t v = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9' && pos - start < 3)
      v = v * 10 + static_cast<uint32_t>(s[pos++] - '0');
    if (pos == start || v > 255 || (pos - start > 1 && s[start] == '0')) return false;
    addr = (addr << 8) | v;
  }
  if (pos != s.size()) return false;
  *out = addr;
  return true;
}

std::string Ipv4Range::Format(uint32_t a) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
  return buf;
}

Result<Ipv4Range> Ipv4Range::Parse(const std::string& cidr) {
  size_t slash = cidr.find('/');
  Ipv4Range r;
  if (slash == std::string::npos || !ParseAddress(cidr.substr(0, slash), &r.base_))
    return Status::Invalid("\"" + cidr +
                           "\" is not an IPv4 range in CIDR notation (10.244.1.0/24)");
  std::string bits = cidr.substr(slash + 1);
  if (bits.empty() || bits.size() > 2 || bits.find_first_not_of("0123456789") != std::string::npos)
    return Status::Invalid("\"" + cidr + "\": the prefix length must be a number");
  r.prefix_ = std::stoi(bits);
  if (r.prefix_ < 8 || r.prefix_ > 30)
    return Status::Invalid("\"" + cidr + "\": the prefix length must be between 8 and 30");
  uint32_t host_mask = (uint32_t{1} << (32 - r.prefix_)) - 1;
  if (r.base_ & host_mask)
    return Status::Invalid("\"" + cidr + "\" has host bits set: did you mean " +
                           Format(r.base_ & ~host_mask) + "/" + bits + "?");
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
