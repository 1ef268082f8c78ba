// The host ports the supervisor hands to containers' ports (the process runtime's containers
// share the host's network, so each needs a port of its own). Behind an interface so tests
// can hand out ports without binding sockets.
#pragma once

#include <set>
#include <string>

#include "base/status.h"

namespace tug::agent {

class HostPorts {
 public:
  virtual ~HostPorts() = default;
  // A free port, taken until Release; 0 if none could be found.
  virtual int Allocate() = 0;
  // Marks a port taken (a restarted agent keeps the ones its containers already have).
  virtual void Reserve(int port) = 0;
  virtual void Release(int port) = 0;
};

// The kernel picks a free port (bind to port 0); what was handed out is remembered, as a port
// may be free now only because its container is restarting.
class KernelHostPorts : public HostPorts {
 public:
  int Allocate() override;
  void Reserve(int port) override { taken_.insert(port); }
  void Release(int port) override { taken_.erase(port); }

 private:
  std::set<int> taken_;
};

// A pod with a network of its own has its hostPorts forwarded from the node to the pod (as the
// kubelet's portmap plugin does). Behind an interface: the agent relays bytes (tcp_forwarder.h)
// on its io thread, tests record what was asked.
class HostPortForwards {
 public:
  virtual ~HostPortForwards() = default;
  // Forwards TCP connections to `listen` ("ip:port") to `target` ("ip:port") until Close.
  virtual Status Open(const std::string& pod_uid, const std::string& listen,
                      const std::string& target) = 0;
  // Ends every forward of the pod.
  virtual void Close(const std::string& pod_uid) = 0;
};

}  // namespace tug::agent
