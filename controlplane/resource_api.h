// The Kubernetes-shaped API over the registry:
//
//   /api/v1/nodes[/{name}[/status]]
//   /api/v1/namespaces/{ns}/pods[/{name}[/status]]        /api/v1/pods (all namespaces)
//   /api/v1/namespaces/{ns}/events[/{name}]               /api/v1/events
//   /apis/apps/v1/namespaces/{ns}/deployments[/{name}[/status|/scale]]
//                                                         /apis/apps/v1/deployments
//
// GET (one, list, or ?watch=true), POST (create), PUT (replace), PATCH (merge patch, JSON
// patch), DELETE. Bodies in JSON or YAML. Errors are Status objects with Kubernetes' codes
// and reasons; a request that fails changes nothing.
#pragma once

#include <string>

#include "controlplane/http.h"
#include "controlplane/registry.h"

namespace boost::asio {
class io_context;
}
namespace tug::store {
class Store;
class WatchHub;
}  // namespace tug::store

namespace tug::cp {

// What a request asks for, for routing and for metrics' labels.
struct RequestInfo {
  bool is_resource = false;                     // under /api or /apis
  std::string verb;                             // LIST, WATCH, GET, CREATE, UPDATE, PATCH, DELETE
  const api::ResourceInfo* resource = nullptr;  // null: unknown resource
  std::string ns, name, subresource;
  std::string error;  // why the path is not a resource path Tug serves
};

RequestInfo ClassifyRequest(const HttpRequest& req);

class ResourceApi {
 public:
  ResourceApi(boost::asio::io_context& io, store::Store& node, store::WatchHub& hub,
              Registry& registry)
      : io_(io), node_(node), hub_(hub), registry_(registry) {}

  // Serves a request under /api or /apis; false if the path is elsewhere.
  bool Handle(const HttpRequest& req, const RequestInfo& info, const Respond& respond);

 private:
  void HandleCollection(const HttpRequest& req, const RequestInfo& info, const Respond& respond);
  void HandleObject(const HttpRequest& req, const RequestInfo& info, const Respond& respond);
  void HandleScale(const HttpRequest& req, const RequestInfo& info, const Respond& respond);

  boost::asio::io_context& io_;
  store::Store& node_;
  store::WatchHub& hub_;
  Registry& registry_;
};

// The autoscaling/v1 Scale of a Deployment.
nlohmann::json ScaleOf(const nlohmann::json& deployment);

}  // namespace tug::cp
