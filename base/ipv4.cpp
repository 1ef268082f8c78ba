#include "base/ipv4.h"

#include <cstdio>

namespace tug {

bool ParseIpv4(const std::string& s, uint32_t* out) {
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

std::string FormatIpv4(uint32_t a) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
  return buf;
}

Result<Ipv4Cidr> Ipv4Cidr::Parse(const std::string& cidr, int min_prefix, int max_prefix) {
  size_t slash = cidr.find('/');
  Ipv4Cidr r;
  if (slash == std::string::npos || !ParseIpv4(cidr.substr(0, slash), &r.base_))
    return Status::Invalid("\"" + cidr +
                           "\" is not an IPv4 range in CIDR notation (10.244.0.0/16)");
  std::string bits = cidr.substr(slash + 1);
  if (bits.empty() || bits.size() > 2 || bits.find_first_not_of("0123456789") != std::string::npos)
    return Status::Invalid("\"" + cidr + "\": the prefix length must be a number");
  r.prefix_ = std::stoi(bits);
  if (r.prefix_ < min_prefix || r.prefix_ > max_prefix)
    return Status::Invalid("\"" + cidr + "\": the prefix length must be between " +
                           std::to_string(min_prefix) + " and " + std::to_string(max_prefix));
  if (r.base_ & ~r.Mask())
    return Status::Invalid("\"" + cidr + "\" has host bits set: did you mean " +
                           FormatIpv4(r.base_ & r.Mask()) + "/" + bits + "?");
  return r;
}

bool Ipv4Cidr::Contains(const std::string& addr) const {
  uint32_t a = 0;
  return ParseIpv4(addr, &a) && Contains(a);
}

uint64_t Ipv4Cidr::SubnetCount(int prefix) const {
  if (prefix < prefix_ || prefix > 32) return 0;
  return uint64_t{1} << (prefix - prefix_);
}

Ipv4Cidr Ipv4Cidr::Subnet(int prefix, uint64_t index) const {
  Ipv4Cidr s;
  s.prefix_ = prefix;
  s.base_ = base_ + static_cast<uint32_t>(index << (32 - prefix));
  return s;
}

}  // namespace tug
