// What the TCP relays (tls_terminator, tcp_forwarder) share: "ip:port" as an endpoint, and a
// listener opened on it. Header-only: each relay is a translation unit of its own.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/socket_base.hpp>
#include <cstdint>
#include <string>

#include "base/host_port.h"
#include "base/status.h"

namespace tug::net {

// "ip:port" (IPv6 in brackets) as an endpoint; the error names the address.
inline Result<boost::asio::ip::tcp::endpoint> TcpEndpoint(const std::string& addr) {
  auto hp = ParseHostPort(addr);
  if (!hp) return hp.status();
  boost::system::error_code ec;
  auto ip = boost::asio::ip::make_address(hp->host, ec);
  if (ec) return Status::Invalid("address \"" + addr + "\" is not ip:port");
  return boost::asio::ip::tcp::endpoint(ip, hp->port);
}

// Opens `a` listening on `addr` (reusing the address, as servers do); the error names it.
inline Status ListenTcp(boost::asio::ip::tcp::acceptor& a, const std::string& addr) {
  auto ep = TcpEndpoint(addr);
  if (!ep.ok()) return ep.status();
  boost::system::error_code ec;
  a.open(ep.value().protocol(), ec);
  if (!ec) a.set_option(boost::asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(ep.value(), ec);
  if (!ec) a.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    a.close(ignored);
    return Status::Error("cannot listen on " + addr + ": " + ec.message());
  }
  return Status::Ok();
}

// The port `a` listens on; 0 when it does not.
inline uint16_t BoundPort(const boost::asio::ip::tcp::acceptor& a) {
  boost::system::error_code ec;
  auto ep = a.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

}  // namespace tug::net
