#include "controlplane/api_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <set>

#include "api/discovery.h"
#include "api/openapi.h"
#include "api/validation.h"
#include "controlplane/resource_watch.h"
#include "controlplane/store_api.h"
#include "raftstore/node.h"

namespace tug::cp {

using nlohmann::json;

namespace {

// How often a member looks at the store's cluster token (and a leader makes one).
constexpr auto kTokenCheck = std::chrono::milliseconds(200);

// Worker heartbeats: soft state for the leader, not an object (Tug's own endpoint).
const std::string kHeartbeatPrefix = "/api/v1/nodes/";
const std::string kHeartbeatSuffix = "/heartbeat";

bool Public(const std::string& path) {
  return path == "/healthz" || path == "/readyz" || path == "/livez" || path == "/health" ||
         path == "/version";
}

}  // namespace

struct ApiServer::Timer {
  explicit Timer(boost::asio::io_context& io) : t(io) {}
  boost::asio::steady_timer t;
};

Result<std::unique_ptr<ApiServer>> ApiServer::Create(boost::asio::io_context& io,
                                                     store::RaftNode& node,
                                                     const std::string& data_dir,
                                                     const std::string& token_file,
                                                     ControllerOptions controllers) {
  auto services = Ipv4Cidr::Parse(controllers.service_cidr, 8, 30);
  if (!services.ok()) return Status::Invalid("--service-cidr: " + services.status().message());
  auto pods = Ipv4Cidr::Parse(controllers.cluster_cidr, 8, 30);
  if (!pods.ok()) return Status::Invalid("--cluster-cidr: " + pods.status().message());
  if (controllers.node_cidr_prefix < pods->prefix() || controllers.node_cidr_prefix > 30)
    return Status::Invalid("--cluster-cidr " + controllers.cluster_cidr +
                           " cannot be split into /" +
                           std::to_string(controllers.node_cidr_prefix) + " node ranges");
  auto auth = TokenAuth::Open(data_dir, token_file);
  if (!auth.ok()) return auth.status();
  return std::unique_ptr<ApiServer>(
      new ApiServer(io, node, std::move(auth).value(), std::move(controllers)));
}

ApiServer::ApiServer(boost::asio::io_context& io, store::RaftNode& node,
                     std::unique_ptr<TokenAuth> auth, ControllerOptions controllers)
    : io_(io),
      node_(node),
      auth_(std::move(auth)),
      hub_(node.kv()),
      registry_(node),
      // Create checked the range.
      services_(std::make_unique<ServiceAllocator>(
          ServiceRanges{Ipv4Cidr::Parse(controllers.service_cidr, 8, 30).value()})),
      resources_(io, node, hub_, registry_),
      metrics_(std::make_shared<Metrics>()),
      controllers_(io, node, hub_, registry_, std::move(controllers)),
      timer_(std::make_unique<Timer>(io)),
      logs_(std::make_unique<PodLogProxy>(io, registry_)) {
  registry_.SetHoldings("services", services_.get());
  // Worker heartbeats reach the leader's controllers from whichever member received them.
  node.set_soft_handler([this](std::string data) {
    static const std::string kPrefix = "heartbeat:";
    if (data.rfind(kPrefix, 0) == 0) controllers_.Heartbeat(data.substr(kPrefix.size()));
  });
  // The disk thread may time an fsync while we are being destroyed: hold the metrics.
  node.set_fsync_observer([m = metrics_](double s) { m->ObserveFsync(s); });
}

ApiServer::~ApiServer() {
  // The node may outlive us (tests): leave no handler pointing here.
  node_.set_soft_handler(nullptr);
}

void ApiServer::Start() {
  KeepToken();
  controllers_.Start();
}

void ApiServer::Stop() {
  timer_->t.cancel();
  controllers_.Stop();
  if (token_watch_) hub_.Cancel(token_watch_);
  token_watch_ = 0;
}

void ApiServer::AdoptToken(const std::string& stored) {
  if (auth_->fixed() || stored.empty() || stored == auth_->token()) return;
  if (Status s = auth_->Adopt(stored); !s) {
    spdlog::error("cannot save the cluster token: {}", s.message());
  } else {
    spdlog::info("cluster token saved in {}", auth_->path());
  }
}

void ApiServer::KeepToken() {
  // Adopt the token the moment it is applied (a watch), and look again on every tick in case
  // the watch was reset by a snapshot install.
  if (token_watch_ == 0) {
    auto id = hub_.Watch(TokenAuth::kStoreKey, "", 0, [this](const store::WatchUpdate& u) {
      if (u.canceled) {
        token_watch_ = 0;
        return false;
      }
      for (const auto& e : u.events) {
        if (e.type() == storepb::Event::PUT) AdoptToken(e.kv().value());
      }
      return true;
    });
    if (id.ok()) token_watch_ = id.value();
  }
  storepb::RangeRequest rr;
  rr.set_key(TokenAuth::kStoreKey);
  auto now = node_.kv().Range(rr);
  if (!now.response.kvs().empty()) {
    AdoptToken(now.response.kvs(0).value());
  } else if (node_.is_leader() && !proposing_token_ && !auth_->fixed()) {
    // The cluster has no token yet: make one. (Members given --token-file use theirs and
    // write nothing: give every member the same file, or none.) A member that saved one in
    // an earlier life shares it, so clients keep working.
    auto token = auth_->has_token() ? Result<std::string>(auth_->token()) : TokenAuth::Generate();
    if (!token.ok()) {
      spdlog::error("{}", token.status().message());
    } else {
      proposing_token_ = true;
      storepb::Request req;
      auto* txn = req.mutable_txn();
      auto* c = txn->add_compare();
      c->set_key(TokenAuth::kStoreKey);
      c->set_target(storepb::Compare::CREATE);
      c->set_result(storepb::Compare::EQUAL);
      c->set_create_revision(0);
      auto* put = txn->add_success()->mutable_request_put();
      put->set_key(TokenAuth::kStoreKey);
      put->set_value(token.value());
      node_.Propose(std::move(req),
                    [this](Result<storepb::Response>) { proposing_token_ = false; });
    }
  }
  timer_->t.expires_after(kTokenCheck);
  timer_->t.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) KeepToken();
  });
}

void ApiServer::SetHttpsEndpoint(std::string url, std::string ca_pem) {
  https_url_ = std::move(url);
  https_ca_ = std::move(ca_pem);
}

void ApiServer::Handle(HttpRequest req, Respond respond) {
  auto start = std::chrono::steady_clock::now();
  RequestInfo info = ClassifyRequest(req);
  // Labels come from fixed sets whatever clients send (even without a token): a label per
  // made-up path or method would grow the metrics without bound.
  static const std::set<std::string> kMethods = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"};
  static const std::set<std::string> kPaths = {"/healthz",
                                               "/readyz",
                                               "/livez",
                                               "/health",
                                               "/metrics",
                                               "/cluster/status",
                                               "/version",
                                               "/v3/kv/put",
                                               "/v3/kv/range",
                                               "/v3/kv/deleterange",
                                               "/v3/kv/txn",
                                               "/v3/watch",
                                               "/v3/maintenance/status"};
  std::string verb = !info.verb.empty()           ? info.verb
                     : kMethods.count(req.method) ? req.method
                                                  : "OTHER";
  std::string resource;
  if (info.resource) {
    resource = info.resource->name + (info.subresource.empty() ? "" : "/" + info.subresource);
  } else if (kPaths.count(req.path)) {
    resource = req.path;
  } else if (req.path.rfind("/api/v1/nodes/", 0) == 0 && req.path.size() > 10 &&
             req.path.compare(req.path.size() - 10, 10, "/heartbeat") == 0) {
    resource = "nodes/heartbeat";
  } else {
    resource = "unknown";
  }
  Respond measured = [respond, m = metrics_, verb, resource, start](HttpResponse r) {
    m->ObserveRequest(
        verb, resource, r.status,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    respond(std::move(r));
  };
  try {
    Route(req, info, measured);
  } catch (const std::exception& e) {
    // A bug, not the client's fault; the member keeps serving.
    spdlog::error("{} {}: {}", req.method, req.path, e.what());
    measured(ToHttp(ErrorReply(500, "InternalError", std::string("internal error: ") + e.what())));
  }
}

void ApiServer::Route(const HttpRequest& req, const RequestInfo& info, const Respond& respond) {
  if (!Public(req.path) && !auth_->Check(req.Header("authorization"))) {
    if (!auth_->has_token()) {
      respond(ToHttp(ErrorReply(503, "ServiceUnavailable",
                                "this member does not know the cluster token yet: it learns it "
                                "once the cluster has a leader; retry shortly")));
    } else {
      respond(ToHttp(ErrorReply(
          401, "Unauthorized",
          req.Header("authorization").empty()
              ? "Unauthorized: send the cluster token as \"Authorization: Bearer <token>\" (it "
                "is in each member's data dir, file token, or the --token-file given to tugd)"
              : "Unauthorized: the bearer token is not this cluster's token")));
    }
    return;
  }
  if (req.path == "/metrics") {
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4";
    // Clients' watches only: not the token's or the controllers' own.
    r.body = metrics_->Render(
        node_.status(), hub_.size() - (token_watch_ ? 1 : 0) - (controllers_.watching() ? 1 : 0));
    respond(std::move(r));
    return;
  }
  if (req.method == "POST" && req.path.rfind(kHeartbeatPrefix, 0) == 0 &&
      req.path.size() > kHeartbeatPrefix.size() + kHeartbeatSuffix.size() &&
      req.path.compare(req.path.size() - kHeartbeatSuffix.size(), kHeartbeatSuffix.size(),
                       kHeartbeatSuffix) == 0) {
    std::string name =
        req.path.substr(kHeartbeatPrefix.size(),
                        req.path.size() - kHeartbeatPrefix.size() - kHeartbeatSuffix.size());
    if (name.find('/') != std::string::npos || !api::IsDns1123Subdomain(name)) {
      respond(
          ToHttp(BadRequest("a heartbeat names one node: POST /api/v1/nodes/{name}/heartbeat")));
    } else if (!node_.SendToLeader("heartbeat:" + name)) {
      respond(ToHttp(ErrorReply(503, "ServiceUnavailable",
                                "no leader to take the heartbeat; retry on another member")));
    } else {
      HttpResponse r;
      r.body =
          json{{"kind", "Heartbeat"}, {"node", name}, {"leader", node_.status().leader_name}}.dump(
              -1, ' ', false, json::error_handler_t::replace);
      respond(std::move(r));
    }
    return;
  }
  if (req.method == "GET" && (req.path == "/api" || req.path == "/apis" || req.path == "/api/v1" ||
                              req.path == "/apis/apps/v1")) {
    // Discovery, as kubectl reads it before anything else.
    json doc;
    if (req.path == "/api") {
      doc = api::ApiVersions();
    } else if (req.path == "/apis") {
      doc = api::ApiGroupList();
    } else if (req.path == "/api/v1") {
      doc = api::ApiResourceList("", "v1");
    } else {
      doc = api::ApiResourceList("apps", "v1");
    }
    HttpResponse r;
    r.body = doc.dump();
    respond(std::move(r));
    return;
  }
  if (req.method == "GET" &&
      (req.path == "/openapi/v3" || req.path.rfind("/openapi/v3/", 0) == 0)) {
    // What kubectl reads to learn that the server validates what it is sent.
    json doc =
        req.path == "/openapi/v3" ? api::OpenApiIndex() : api::OpenApiDocument(req.path.substr(12));
    if (doc.is_null()) {
      respond(ToHttp(ErrorReply(404, "NotFound", "no OpenAPI document at " + req.path)));
    } else {
      HttpResponse r;
      r.body = doc.dump();
      respond(std::move(r));
    }
    return;
  }
  if (req.path == "/cluster/status" && !https_url_.empty()) {
    // The store's answer, plus where this member serves HTTPS (for kubeconfigs).
    Respond add_https = [this, respond](HttpResponse r) {
      auto j = json::parse(r.body, nullptr, false);
      if (r.status == 200 && j.is_object()) {
        j["https"] = {{"url", https_url_}, {"certificateAuthority", https_ca_}};
        r.body = SafeDump(j);
      }
      respond(std::move(r));
    };
    if (HandleStoreRequest(node_, hub_, req, add_https)) return;
  }
  if (HandleStoreRequest(node_, hub_, req, respond)) return;
  if (logs_->Handle(req, auth_->token(), respond)) return;
  if (resources_.Handle(req, info, respond)) return;
  respond(ToHttp(ErrorReply(404, "NotFound", "no such path: " + req.path)));
}

}  // namespace tug::cp
