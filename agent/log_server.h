// The agent's small HTTP server for container logs, on --addr:
//
//   GET /containerLogs/{namespace}/{pod}[/{container}]?tailLines=N&follow=true
//
// (the kubelet's path), plain text. With follow the response streams what the container
// writes next, across rotations, until the pod is gone from this node or the client leaves.
// Requests must carry the cluster's bearer token when the agent has one: the API server's
// /api/v1/namespaces/{ns}/pods/{name}/log proxies here with it.
#pragma once

#include <functional>
#include <string>

#include "base/status.h"
#include "net/http_server.h"

namespace tug::agent {

// Where a pod's container logs to, asked on the server's io thread.
using LogLookup = std::function<Result<std::string>(const std::string& ns, const std::string& pod,
                                                    const std::string& container)>;

// A container's last `tail_lines` lines (all with -1), read by the runtime that runs its pod.
using LogTail = std::function<Result<std::string>(const std::string& ns, const std::string& pod,
                                                  const std::string& container, int tail_lines)>;

net::Handler MakeLogHandler(boost::asio::io_context& io, LogLookup lookup, LogTail tail,
                            std::string token);

}  // namespace tug::agent
