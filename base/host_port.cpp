#include "base/host_port.h"

namespace tug {

Result<HostPort> ParseHostPort(const std::string& addr, bool allow_port_zero) {
  auto bad = [&] {
    return Status::Invalid("address \"" + addr + "\" is not host:port" +
                           (allow_port_zero ? "" : " with a port from 1 to 65535"));
  };
  auto colon = addr.rfind(':');
  if (colon == std::string::npos || colon + 1 >= addr.size() || addr.size() - colon > 6)
    return bad();
  uint32_t port = 0;
  for (size_t i = colon + 1; i < addr.size(); ++i) {
    if (addr[i] < '0' || addr[i] > '9') return bad();
    port = port * 10 + static_cast<uint32_t>(addr[i] - '0');
  }
  if (port > 65535 || (port == 0 && !allow_port_zero)) return bad();
  HostPort hp;
  hp.host = addr.substr(0, colon);
  if (hp.host.size() >= 2 && hp.host.front() == '[' && hp.host.back() == ']')
    hp.host = hp.host.substr(1, hp.host.size() - 2);
  else if (hp.host.find(':') != std::string::npos)
    // Which colon starts the port would be a guess: as Go and etcd do, ask for brackets.
    return Status::Invalid("address \"" + addr + "\": write an IPv6 host in brackets, as in [" +
                           hp.host + "]:" + std::to_string(port));
  hp.port = static_cast<uint16_t>(port);
  return hp;
}

std::string HostOf(const std::string& addr) {
  return addr.substr(0, addr.rfind(':'));
}

std::string JoinHostPort(const std::string& host, uint16_t port) {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

bool IsUnspecifiedHost(const std::string& host) {
  return host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]";
}

}  // namespace tug
