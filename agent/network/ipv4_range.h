// An IPv4 range in CIDR notation ("10.244.1.0/24") and the addresses a pod network takes from
// it: the first host address is the node's gateway (on its bridge), the rest go to pods; the
// network and broadcast addresses are never handed out. Pure.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace tug::agent {

class Ipv4Range {
 public:
  // "a.b.c.d/n" with n from 8 to 30 and no host bits set, or an error saying what is wrong.
  static Result<Ipv4Range> Parse(const std::string& cidr);

  int prefix() const { return prefix_; }
  std::string Network() const { return Format(base_); }
  std::string ToString() const { return Network() + "/" + std::to_string(prefix_); }
  std::string Gateway() const { return Format(base_ + 1); }
  // Pod addresses: index 0 .. PodCount()-1 (the second host address onwards).
  uint32_t PodCount() const;
  std::string Pod(uint32_t index) const { return Format(base_ + 2 + index); }
  // The index of a pod address, or -1 if `ip` is not one of this range's pod addresses.
  int64_t PodIndex(const std::string& ip) const;

  static std::string Format(uint32_t addr);
  static bool ParseAddress(const std::string& s, uint32_t* out);

 private:
  uint32_t base_ = 0;
  int prefix_ = 0;
};

}  // namespace tug::agent
