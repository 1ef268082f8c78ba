// A TCP byte relay: listens on one address and joins every connection it accepts to a new
// connection to a target address, bytes both ways, until either side ends. The agent forwards
// a pod's hostPort to podIP:containerPort with it, as the portmap plugin does for the kubelet.
//
// Bounded: at most `max_connections` relayed at once (further clients are closed at once, not
// queued); a target that does not accept within 5 s ends the client's connection; 16 KiB of
// buffer per direction. Everything runs on a strand of the io_context given, so Listen, Stop
// and the destructor may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"

namespace boost::asio {
class io_context;
}

namespace tug::net {

class TcpForwarder {
 public:
  explicit TcpForwarder(boost::asio::io_context& io, int max_connections = 1024);
  ~TcpForwarder();
  TcpForwarder(const TcpForwarder&) = delete;
  TcpForwarder& operator=(const TcpForwarder&) = delete;

  // Listens on `listen` ("ip:port"; port 0: a free one, see port()) and relays to `target`
  // ("ip:port"). The error names the address that cannot be used.
  Status Listen(const std::string& listen, const std::string& target);
  uint16_t port() const;
  // Closes the listener and every relayed connection.
  void Stop();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace tug::net
