// Which pods are behind a Service, as the endpoints controller writes them (pure).
//
// A pod counts when it is in the Service's namespace, its labels match the selector, it has
// an address, and it is neither finished (Succeeded, Failed) nor being deleted. It is ready
// (`addresses`) when its Ready condition is True and its node is Ready; otherwise it is in
// `notReadyAddresses`. The node's readiness matters: a node judged lost takes its pods out of
// `addresses` with the one write that marks it NotReady, before any pod of it is failed or
// replaced (Kubernetes waits for the pods' own status to change).
//
// Ports: a numeric targetPort is the container port; a named one is looked up in each pod's
// containers (a pod without that name is left out, as Kubernetes does). A pod on the host's
// network (the process runtime) serves a container port on the host port its agent gave it
// (containerStatuses[].ports), so that port is the endpoint. Pods whose resolved ports are the
// same share a subset; subsets and addresses are sorted, so equal inputs give equal outputs
// and an unchanged Service is never rewritten.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/service.h"

namespace tug::cp {

std::vector<api::EndpointSubset> ComputeEndpoints(
    const api::ServiceInfo& svc, const std::vector<const nlohmann::json*>& pods,
    const std::function<bool(const std::string& node)>& node_ready);

}  // namespace tug::cp
