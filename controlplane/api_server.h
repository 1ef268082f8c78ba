// Everything a tugd member serves over HTTP, behind one handler: authentication, metrics,
// the Kubernetes-shaped resources, the raw store, and the member's own endpoints. It also
// keeps the cluster token: a leader makes one if the cluster has none, and every member
// adopts the one in the store.
#pragma once

#include <memory>
#include <string>

#include "controlplane/auth.h"
#include "controlplane/controllers/manager.h"
#include "controlplane/http.h"
#include "controlplane/metrics.h"
#include "controlplane/pod_log.h"
#include "controlplane/registry.h"
#include "controlplane/resource_api.h"
#include "controlplane/service_allocator.h"
#include "raftstore/watch_hub.h"

namespace boost::asio {
class io_context;
}
namespace tug::store {
class RaftNode;
}

namespace tug::cp {

class ApiServer {
 public:
  // Reads the token (see TokenAuth::Open). Call before the node starts: it registers the
  // store's watch and fsync observers.
  static Result<std::unique_ptr<ApiServer>> Create(boost::asio::io_context& io,
                                                   store::RaftNode& node,
                                                   const std::string& data_dir,
                                                   const std::string& token_file,
                                                   ControllerOptions controllers = {});
  ~ApiServer();

  // The HttpServer's handler.
  void Handle(HttpRequest req, Respond respond);
  // Tells clients (in /cluster/status, as "https": {"url", "certificateAuthority"}) where
  // this member serves the API over TLS and which certificate to trust for it.
  void SetHttpsEndpoint(std::string url, std::string ca_pem);
  // Starts the cluster-token upkeep and the controllers' leadership check (timers).
  void Start();
  void Stop();

  Registry& registry() { return registry_; }
  ControllerManager& controllers() { return controllers_; }
  store::WatchHub& watches() { return hub_; }
  const TokenAuth& auth() const { return *auth_; }

 private:
  ApiServer(boost::asio::io_context& io, store::RaftNode& node, std::unique_ptr<TokenAuth> auth,
            ControllerOptions controllers);
  void Route(const HttpRequest& req, const RequestInfo& info, const Respond& respond);
  void KeepToken();
  void AdoptToken(const std::string& stored);

  boost::asio::io_context& io_;
  store::RaftNode& node_;
  std::unique_ptr<TokenAuth> auth_;
  store::WatchHub hub_;
  Registry registry_;
  std::unique_ptr<ServiceAllocator> services_;  // Services' cluster IPs and node ports
  ResourceApi resources_;
  std::shared_ptr<Metrics> metrics_;
  ControllerManager controllers_;
  struct Timer;
  std::unique_ptr<Timer> timer_;
  std::unique_ptr<PodLogProxy> logs_;
  std::string https_url_, https_ca_;
  bool proposing_token_ = false;
  uint64_t token_watch_ = 0;
};

}  // namespace tug::cp
