// GET /api/v1/namespaces/{ns}/pods/{name}/log[?container=&tailLines=&follow=true]: a pod's
// container log, read from the agent that runs it (its log server, at the Node's
// status.daemonEndpoints.agentAddr) and passed through, streamed with follow.
//
// The agent is reached with a blocking HTTP client on a thread per request (logs are rare
// and a followed log may stream for hours); what it sends is handed to the io thread. The
// threads end when the client leaves (noticed when the agent next sends something), when the
// agent ends the log, or at the latest after a day; on destruction the followers still
// waiting are detached.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "controlplane/http.h"
#include "controlplane/registry.h"

namespace tug::cp {

class PodLogProxy {
 public:
  PodLogProxy(boost::asio::io_context& io, Registry& registry);
  ~PodLogProxy();
  PodLogProxy(const PodLogProxy&) = delete;
  PodLogProxy& operator=(const PodLogProxy&) = delete;

  // Whether the path is a pod's /log; then it is answered. `token` authenticates us to agents.
  bool Handle(const HttpRequest& req, const std::string& token, const Respond& respond);

 private:
  void Fetch(const HttpRequest& req, const std::string& ns, const std::string& pod,
             const std::string& agent, const std::string& token, const Respond& respond);

  boost::asio::io_context& io_;
  Registry& registry_;
  std::shared_ptr<std::atomic<bool>> stopping_ = std::make_shared<std::atomic<bool>>(false);
  std::mutex mu_;
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
    bool follow = false;
  };
  std::vector<Worker> threads_;
};

}  // namespace tug::cp
