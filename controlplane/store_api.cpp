#include "controlplane/store_api.h"

#include <google/protobuf/util/json_util.h>

#include <nlohmann/json.hpp>

#include "api/document.h"
#include "base/base64.h"
#include "raftstore/node.h"
#include "raftstore/watch_hub.h"

namespace tug::cp {

namespace pbutil = google::protobuf::util;
using nlohmann::json;

namespace {

// etcd's gateway answers errors as {"error": ..., "code": <grpc code>, "message": ...}.
HttpResponse EtcdError(int http_status, int grpc_code, const std::string& message) {
  HttpResponse r;
  r.status = http_status;
  r.body = json{{"error", message}, {"code", grpc_code}, {"message", message}}.dump();
  return r;
}

template <typename M>
bool ParseBody(const HttpRequest& req, M* msg, const Respond& respond) {
  if (req.method != "POST") {
    respond(EtcdError(405, 12, "use POST with a JSON body for " + req.path));
    return false;
  }
  pbutil::JsonParseOptions o;
  o.ignore_unknown_fields = true;
  std::string body = req.body.empty() ? "{}" : req.body;
  auto st = pbutil::JsonStringToMessage(body, msg, o);
  if (!st.ok()) {
    respond(EtcdError(400, 3, "malformed request body: " + std::string(st.message())));
    return false;
  }
  return true;
}

template <typename M>
HttpResponse Json(const M& msg) {
  pbutil::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  HttpResponse r;
  auto st = pbutil::MessageToJsonString(msg, &r.body, o);
  if (!st.ok()) return EtcdError(500, 13, "cannot encode response: " + std::string(st.message()));
  return r;
}

json ClusterStatus(const store::RaftNode& node) {
  auto s = node.status();
  json members = json::array();
  for (const auto& m : s.members) {
    members.push_back({{"id", m.id},
                       {"name", m.name},
                       {"peerAddr", m.peer_addr},
                       {"apiAddr", m.api_addr},
                       {"isLeader", m.id == s.leader}});
  }
  return {{"self", s.name},
          {"id", s.id},
          {"clusterId", s.cluster_id},
          {"leader", s.leader_name},
          {"leaderId", s.leader},
          {"role", s.role},
          {"term", s.term},
          {"commitIndex", s.commit},
          {"appliedIndex", s.applied},
          {"snapshotIndex", s.snapshot_index},
          {"revision", s.revision},
          {"members", members}};
}

}  // namespace

HttpResponse StoreError(const Status& s) {
  switch (s.code()) {
    case Status::Code::kUnavailable:
      return EtcdError(503, 14, s.message());
    case Status::Code::kCompacted:
      return EtcdError(400, 11, s.message());
    case Status::Code::kInvalid:
      return EtcdError(400, 3, s.message());
    case Status::Code::kNotFound:
      return EtcdError(404, 5, s.message());
    case Status::Code::kConflict:
      return EtcdError(409, 9, s.message());
    default:
      return EtcdError(500, 13, s.message());
  }
}

namespace {

std::string WatchLine(const storepb::WatchResponse& w) {
  pbutil::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  std::string body;
  (void)pbutil::MessageToJsonString(w, &body, o);
  return "{\"result\":" + body + "}\n";
}

void HandleWatch(store::RaftNode& node, store::WatchHub& hub, const HttpRequest& req,
                 const Respond& respond) {
  if (req.method != "POST") {
    respond(EtcdError(405, 12, "use POST with a JSON body for /v3/watch"));
    return;
  }
  auto parsed = api::ParseJson(req.body.empty() ? "{}" : req.body, "request body");
  json j = parsed.ok() ? std::move(parsed).value() : json();
  if (!parsed.ok() || !j.is_object() || !j.contains("create_request") ||
      !j["create_request"].is_object()) {
    respond(
        EtcdError(400, 3, "malformed request body: expected {\"create_request\": {\"key\": ...}}"));
    return;
  }
  const json& c = j["create_request"];
  auto field = [&](const char* name) -> std::optional<std::string> {
    if (!c.contains(name)) return std::string();
    if (!c[name].is_string()) return std::nullopt;
    return Base64Decode(c[name].get<std::string>());
  };
  auto key = field("key"), range_end = field("range_end");
  int64_t start = 0;
  try {
    if (c.contains("start_revision")) {
      start = c["start_revision"].is_string() ? std::stoll(c["start_revision"].get<std::string>())
                                              : c["start_revision"].get<int64_t>();
    }
  } catch (...) {
    key.reset();
  }
  if (!key || !range_end) {
    respond(EtcdError(
        400, 3, "malformed create_request: key and range_end are base64, start_revision a number"));
    return;
  }
  HttpResponse r;
  r.stream = [&node, &hub, k = *key, e = *range_end, start](std::shared_ptr<ResponseStream> out) {
    storepb::WatchResponse created;
    *created.mutable_header() = node.Header();
    created.set_created(true);
    out->Write(WatchLine(created));
    auto id = hub.Watch(k, e, start, [&node, out](const store::WatchUpdate& u) {
      storepb::WatchResponse w;
      *w.mutable_header() = node.Header();
      w.mutable_header()->set_revision(u.revision);
      if (u.canceled) {
        w.set_canceled(true);
        w.set_cancel_reason(u.reason);
        out->Write(WatchLine(w));
        out->End();
        return false;
      }
      for (const auto& ev : u.events)
        *w.add_events() = ev;
      return out->Write(WatchLine(w));
    });
    if (!id.ok()) {
      storepb::WatchResponse w;
      *w.mutable_header() = node.Header();
      w.set_canceled(true);
      w.set_compact_revision(node.kv().compacted_revision());
      w.set_cancel_reason(id.status().message());
      out->Write(WatchLine(w));
      out->End();
      return;
    }
    out->OnClose([&hub, wid = id.value()] { hub.Cancel(wid); });
  };
  respond(std::move(r));
}

}  // namespace

bool HandleStoreRequest(store::RaftNode& node, store::WatchHub& watches, const HttpRequest& req,
                        const Respond& respond) {
  const std::string& p = req.path;
  if (p == "/v3/watch") {
    HandleWatch(node, watches, req, respond);
    return true;
  }
  if (p == "/healthz" || p == "/health") {
    HttpResponse r;
    r.body = json{{"health", "true"}}.dump();
    respond(r);
    return true;
  }
  if (p == "/readyz") {
    auto s = node.status();
    HttpResponse r;
    if (s.leader == 0) {
      r.status = 503;
      r.body = json{{"ready", false},
                    {"reason", "no leader: the cluster has no quorum or is electing one"}}
                   .dump();
    } else {
      r.body = json{{"ready", true}, {"leader", s.leader_name}}.dump();
    }
    respond(r);
    return true;
  }
  if (p == "/version") {
    // Kubernetes' version.Info shape, which kubectl and tugctl read.
    std::string v = TUG_VERSION;
    auto dot = v.find('.');
    auto dot2 = v.find('.', dot + 1);
    HttpResponse r;
    r.body = json{
        {"major", v.substr(0, dot)},
        {"minor", v.substr(dot + 1, dot2 - dot - 1)},
        {"gitVersion", "v" + v},
        {"platform",
#if defined(__x86_64__)
         "linux/amd64"
#elif defined(__aarch64__)
         "linux/arm64"
#else
         "linux/unknown"
#endif
        },
        {"compiler",
         "gcc"}}.dump();
    respond(r);
    return true;
  }
  if (p == "/cluster/status") {
    HttpResponse r;
    r.body = ClusterStatus(node).dump();
    respond(r);
    return true;
  }
  if (p == "/v3/maintenance/status") {
    auto s = node.status();
    pbutil::JsonPrintOptions o;
    o.preserve_proto_field_names = true;
    std::string header;
    (void)pbutil::MessageToJsonString(node.Header(), &header, o);
    json j = {{"header", json::parse(header)},
              {"version", std::string("tug-") + TUG_VERSION},
              {"leader", std::to_string(s.leader)},
              {"raftTerm", std::to_string(s.term)},
              {"raftIndex", std::to_string(s.commit)},
              {"raftAppliedIndex", std::to_string(s.applied)},
              {"dbSize", std::to_string(node.kv().size())}};
    HttpResponse r;
    r.body = j.dump();
    respond(r);
    return true;
  }
  if (p == "/v3/kv/range") {
    storepb::RangeRequest rr;
    if (!ParseBody(req, &rr, respond)) return true;
    node.Range(rr, [respond](Result<storepb::RangeResponse> r) {
      respond(r.ok() ? Json(r.value()) : StoreError(r.status()));
    });
    return true;
  }
  storepb::Request w;
  if (p == "/v3/kv/put") {
    if (!ParseBody(req, w.mutable_put(), respond)) return true;
  } else if (p == "/v3/kv/deleterange") {
    if (!ParseBody(req, w.mutable_delete_range(), respond)) return true;
  } else if (p == "/v3/kv/txn") {
    if (!ParseBody(req, w.mutable_txn(), respond)) return true;
  } else {
    return false;
  }
  auto* n = &node;
  node.Propose(std::move(w), [respond, n](Result<storepb::Response> r) {
    if (!r.ok()) {
      respond(StoreError(r.status()));
      return;
    }
    storepb::Response& resp = r.value();
    storepb::ResponseHeader h = n->Header();
    h.set_revision(resp.revision());
    switch (resp.op_case()) {
      case storepb::Response::kPut:
        *resp.mutable_put()->mutable_header() = h;
        respond(Json(resp.put()));
        break;
      case storepb::Response::kDeleteRange:
        *resp.mutable_delete_range()->mutable_header() = h;
        respond(Json(resp.delete_range()));
        break;
      case storepb::Response::kTxn:
        *resp.mutable_txn()->mutable_header() = h;
        respond(Json(resp.txn()));
        break;
      default:
        respond(EtcdError(500, 13, "empty response"));
    }
  });
  return true;
}

}  // namespace tug::cp
