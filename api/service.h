// Services and Endpoints (v1), as Kubernetes shapes them: the stable address in front of a
// set of pods, and the list of pod addresses behind it that the endpoints controller keeps.
//
// PrepareService fills Kubernetes' defaults (type ClusterIP, protocol TCP, targetPort = port,
// sessionAffinity None and its 3-hour ClientIP timeout, the IPv4 single-stack fields) and
// validates in Kubernetes' words. It does not allocate: the cluster IP and node ports are
// given out by the API server when the object is written (controlplane/service_allocator.h),
// which needs the store. Typed views (ReadService, ReadEndpoints) are what the endpoints
// controller and the agent's proxy and resolver act on. Pure.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace tug::api {

struct ServicePort {
  std::string name;
  int port = 0;
  std::string protocol = "TCP";
  int target_port = 0;           // a number, or 0 when the target is named
  std::string target_port_name;  // a container port's name
  int node_port = 0;             // 0: none (ClusterIP) or not allocated yet
};

struct ServiceInfo {
  std::string ns, name, uid;
  std::string type = "ClusterIP";  // or "NodePort"
  std::string cluster_ip;          // "" until allocated
  bool has_selector = false;       // without one, Endpoints are the user's to write
  std::map<std::string, std::string> selector;
  std::vector<ServicePort> ports;
  bool client_ip_affinity = false;
  int64_t affinity_timeout_s = 10800;
};

struct EndpointAddress {
  std::string ip, node_name;
  std::string pod_namespace, pod_name, pod_uid;  // the targetRef, when a pod
};

struct EndpointPort {
  std::string name;
  int port = 0;
  std::string protocol = "TCP";
};

struct EndpointSubset {
  std::vector<EndpointAddress> addresses;  // ready: traffic goes here
  std::vector<EndpointAddress> not_ready;  // notReadyAddresses
  std::vector<EndpointPort> ports;
};

Result<nlohmann::json> PrepareService(nlohmann::json obj);
Result<nlohmann::json> PrepareEndpoints(nlohmann::json obj);

ServiceInfo ReadService(const nlohmann::json& svc);
std::vector<EndpointSubset> ReadEndpoints(const nlohmann::json& ep);

// The JSON of subsets, as the endpoints controller writes them.
nlohmann::json EndpointSubsetsJson(const std::vector<EndpointSubset>& subsets);

// Kubernetes' service links: the environment a pod gets for every Service of its namespace
// that exists when it starts (WEB_SERVER_SERVICE_HOST, WEB_SERVER_SERVICE_PORT,
// WEB_SERVER_PORT=tcp://10.96.0.5:80, WEB_SERVER_PORT_80_TCP_ADDR, ...). Services without a
// cluster IP are left out.
std::map<std::string, std::string> ServiceLinkEnv(const std::vector<ServiceInfo>& services);

// Whether `s` is a DNS-1035 label (a Service's name: it becomes a DNS name and an
// environment variable prefix, so it must start with a letter).
bool IsDns1035Label(const std::string& s);

}  // namespace tug::api
