// "host:port" addresses, as every flag, peer list and URL of Tug spells them. An IPv6 host
// is written in brackets ("[::1]:7101").
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace tug {

struct HostPort {
  std::string host;  // without brackets; may be empty (":7101") or a name
  uint16_t port = 0;
};

// Splits at the last ':'. The port must be all digits, 0–65535 (1–65535 unless
// `allow_port_zero`: 0 asks a listener for a free port). The error quotes the address.
Result<HostPort> ParseHostPort(const std::string& addr, bool allow_port_zero = true);

// The host part of "host:port" as written (brackets kept), or the whole string when there is
// no ':'. For messages and URLs, where the address was already checked.
std::string HostOf(const std::string& addr);

// "host:port", with brackets around an IPv6 host.
std::string JoinHostPort(const std::string& host, uint16_t port);

// 0.0.0.0, ::, or empty: a listener on every address, which no client can connect to as such.
bool IsUnspecifiedHost(const std::string& host);

}  // namespace tug
