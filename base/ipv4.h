// IPv4 addresses and CIDR ranges as numbers: parsing ("10.244.1.0/24", strict dotted quads),
// formatting, membership and splitting a range into equal subnets (a cluster range into one
// /24 per node). Shared by the control plane's allocators and the agent's pod network. Pure.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace tug {

// "a.b.c.d" with no leading zeros and nothing around it.
bool ParseIpv4(const std::string& s, uint32_t* out);
std::string FormatIpv4(uint32_t addr);

class Ipv4Cidr {
 public:
  // "a.b.c.d/n" with n in [min_prefix, max_prefix] and no host bits set, or an error that
  // says what is wrong (and, for host bits, which range was probably meant).
  static Result<Ipv4Cidr> Parse(const std::string& cidr, int min_prefix = 8, int max_prefix = 30);

  uint32_t base() const { return base_; }
  int prefix() const { return prefix_; }
  uint64_t size() const { return uint64_t{1} << (32 - prefix_); }  // addresses, all of them
  uint32_t At(uint64_t index) const { return base_ + static_cast<uint32_t>(index); }
  bool Contains(uint32_t addr) const { return (addr & Mask()) == base_; }
  bool Contains(const std::string& addr) const;
  std::string ToString() const { return FormatIpv4(base_) + "/" + std::to_string(prefix_); }

  // How many subnets of `prefix` bits this range holds (0 if `prefix` is shorter than ours),
  // and the index-th of them.
  uint64_t SubnetCount(int prefix) const;
  Ipv4Cidr Subnet(int prefix, uint64_t index) const;

 private:
  uint32_t Mask() const { return prefix_ == 0 ? 0 : ~((uint32_t{1} << (32 - prefix_)) - 1); }
  uint32_t base_ = 0;
  int prefix_ = 32;
};

}  // namespace tug
