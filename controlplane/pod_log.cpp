#include "controlplane/pod_log.h"

#include <boost/asio.hpp>
#include <utility>

#include "api/node.h"
#include "api/resource.h"
#include "api/validation.h"
#include "controlplane/resource_watch.h"
#include "net/http_client.h"

namespace tug::cp {

namespace {

using nlohmann::json;

const std::string kPrefix = "/api/v1/namespaces/";

}  // namespace

PodLogProxy::PodLogProxy(boost::asio::io_context& io, Registry& registry)
    : io_(io), registry_(registry) {}

PodLogProxy::~PodLogProxy() {
  stopping_->store(true);
  std::lock_guard<std::mutex> l(mu_);
  for (auto& w : threads_) {
    // A followed log of a quiet container can block for hours in the agent's stream: such a
    // thread is left to end on its own (it posts nothing once stopping is set). The others
    // end within their request timeout.
    if (w.follow && !w.done->load()) {
      w.thread.detach();
    } else {
      w.thread.join();
    }
  }
}

bool PodLogProxy::Handle(const HttpRequest& req, const std::string& token, const Respond& respond) {
  // namespaces/{ns}/pods/{name}/log
  if (req.path.rfind(kPrefix, 0) != 0) return false;
  std::string rest = req.path.substr(kPrefix.size());
  size_t a = rest.find('/');
  if (a == std::string::npos || rest.compare(a, 6, "/pods/") != 0) return false;
  size_t b = rest.find('/', a + 6);
  if (b == std::string::npos || rest.substr(b) != "/log") return false;
  std::string ns = rest.substr(0, a), pod = rest.substr(a + 6, b - a - 6);
  if (req.method != "GET") {
    respond(ToHttp(ErrorReply(405, "MethodNotAllowed", "the log of a pod is only read (GET)")));
    return true;
  }
  if (!api::IsDns1123Subdomain(pod) || !api::IsDns1123Subdomain(ns)) {
    respond(ToHttp(BadRequest("not a pod name: " + pod)));
    return true;
  }
  const api::ResourceInfo* pods = api::FindResource("", "pods");
  const api::ResourceInfo* nodes = api::FindResource("", "nodes");
  registry_.Get(*pods, ns, pod, true, [this, req, ns, pod, token, respond, nodes](Reply r) {
    if (!r.ok()) {
      respond(ToHttp(r));
      return;
    }
    std::string node = r.body.contains("spec") && r.body["spec"].is_object()
                           ? r.body["spec"].value("nodeName", "")
                           : "";
    if (node.empty()) {
      respond(ToHttp(BadRequest("pod " + pod + " is not scheduled to a node yet: no log")));
      return;
    }
    registry_.Get(*nodes, "", node, true, [this, req, ns, pod, token, respond, node](Reply n) {
      if (!n.ok()) {
        respond(ToHttp(ErrorReply(503, "ServiceUnavailable",
                                  "node " + node + " of pod " + pod + " is gone: " + n.message())));
        return;
      }
      std::string agent = api::ReadNode(n.body).agent_addr;
      if (agent.empty()) {
        respond(ToHttp(
            ErrorReply(503, "ServiceUnavailable",
                       "node " + node +
                           " does not say where its agent serves logs (status.daemonEndpoints)")));
        return;
      }
      Fetch(req, ns, pod, agent, token, respond);
    });
  });
  return true;
}

void PodLogProxy::Fetch(const HttpRequest& req, const std::string& ns, const std::string& pod,
                        const std::string& agent, const std::string& token,
                        const Respond& respond) {
  std::string target = "/containerLogs/" + ns + "/" + pod;
  std::string query;
  for (const char* key : {"container", "tailLines"}) {
    if (!req.Query(key).empty())
      query +=
          std::string(query.empty() ? "?" : "&") + key + "=" + net::QueryEscape(req.Query(key));
  }
  bool follow = req.Query("follow") == "true";
  if (follow) query += std::string(query.empty() ? "?" : "&") + "follow=true";
  target += query;
  auto stopping = stopping_;
  boost::asio::io_context& io = io_;
  std::lock_guard<std::mutex> l(mu_);
  // Finished threads are joined as new ones come, so they do not pile up.
  for (auto it = threads_.begin(); it != threads_.end();) {
    if (it->done->load()) {
      it->thread.join();
      it = threads_.erase(it);
    } else {
      ++it;
    }
  }
  auto done = std::make_shared<std::atomic<bool>>(false);
  if (!follow) {
    threads_.push_back({std::thread([&io, agent, token, target, respond, done,
                                     node_msg = "the agent at " + agent] {
                          net::HttpClient c({agent}, token);
                          net::RequestOptions o;
                          o.timeout = std::chrono::seconds(10);
                          auto r = c.Get(target, o);
                          HttpResponse out;
                          if (!r.ok()) {
                            out = StatusResponse(502, "BadGateway",
                                                 "cannot read the log from " + node_msg + ": " +
                                                     r.status().message());
                          } else {
                            out.status = r->status;
                            out.body = r->body;
                            out.content_type =
                                r->status == 200 ? "text/plain; charset=utf-8" : "application/json";
                          }
                          boost::asio::post(io, [respond, out] { respond(out); });
                          done->store(true);
                        }),
                        done});
    return;
  }
  // Follow: answer at once with a stream, then pass on what the agent sends. What arrives
  // before the stream is ready (the headers go out first) is kept for it; so is the end.
  struct Relay {
    std::shared_ptr<ResponseStream> out;  // io thread only, like the two below
    std::string buffered;
    bool ended = false;
    std::atomic<bool> closed{false};
  };
  auto relay = std::make_shared<Relay>();
  HttpResponse r;
  r.content_type = "text/plain; charset=utf-8";
  r.stream = [relay](std::shared_ptr<ResponseStream> s) {
    relay->out = s;
    s->OnClose([relay] { relay->closed.store(true); });
    if (!relay->buffered.empty()) s->Write(std::exchange(relay->buffered, std::string()));
    if (relay->ended) s->End();
  };
  respond(std::move(r));
  threads_.push_back({std::thread([&io, agent, token, target, relay, stopping, done] {
                        net::HttpClient c({agent}, token);
                        Status s = c.Stream(
                            "GET", target, "",
                            [&](const std::string& chunk) {
                              if (stopping->load()) return false;
                              boost::asio::post(io, [relay, chunk] {
                                if (!relay->out) {
                                  relay->buffered += chunk;
                                } else if (!relay->out->closed()) {
                                  relay->out->Write(chunk);
                                }
                              });
                              return !relay->closed.load();
                            },
                            std::chrono::hours(24));
                        if (!stopping->load()) {
                          std::string tail = s.ok() ? std::string()
                                                    : "\n[tug: the log stream from the agent at " +
                                                          agent + " ended: " + s.message() + "]\n";
                          boost::asio::post(io, [relay, tail] {
                            if (!relay->out) {
                              relay->buffered += tail;
                              relay->ended = true;
                            } else if (!relay->out->closed()) {
                              if (!tail.empty()) relay->out->Write(tail);
                              relay->out->End();
                            }
                          });
                        }
                        done->store(true);
                      }),
                      done, true});
}

}  // namespace tug::cp
