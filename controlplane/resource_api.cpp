#include "controlplane/resource_api.h"

#include "api/discovery.h"
#include "api/document.h"
#include "api/strategic_merge.h"
#include "api/timestamp.h"
#include "api/validation.h"
#include "controlplane/resource_watch.h"
#include "raftstore/store.h"

namespace tug::cp {

using nlohmann::json;

namespace {

std::vector<std::string> Segments(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (slash > start) out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

bool IsTrue(const std::string& v) {
  return v == "true" || v == "1";
}

// One object from a request body, in JSON or YAML as its Content-Type says.
std::variant<json, Reply> ParseBody(const HttpRequest& req) {
  bool known = false;
  api::Format f = api::FormatForContentType(req.Header("content-type"), &known);
  if (!known) {
    return ErrorReply(415, "UnsupportedMediaType",
                      "the body of the request was in an unknown format (" +
                          req.Header("content-type") +
                          "); accepted media types include: application/json, application/yaml");
  }
  if (req.body.find_first_not_of(" \t\r\n") == std::string::npos)
    return BadRequest("the request needs a body: the object, in JSON or YAML");
  auto docs = api::ParseDocuments(req.body, "request body", f);
  if (!docs.ok()) return BadRequest(docs.status().message());
  if (docs->size() != 1) {
    return BadRequest("the request body holds " + std::to_string(docs->size()) +
                      " documents; send one object per request");
  }
  if (!docs->front().is_object())
    return BadRequest("the request body must be an object, not " +
                      std::string(docs->front().type_name()));
  return std::move(docs.value().front());
}

enum class PatchType { kMerge, kJson, kStrategic };

std::variant<PatchType, Reply> PatchTypeOf(const HttpRequest& req) {
  std::string ct = req.Header("content-type");
  ct = ct.substr(0, ct.find(';'));
  while (!ct.empty() && ct.back() == ' ')
    ct.pop_back();
  if (ct == "application/merge-patch+json") return PatchType::kMerge;
  if (ct == "application/json-patch+json") return PatchType::kJson;
  if (ct == "application/strategic-merge-patch+json") return PatchType::kStrategic;
  return ErrorReply(415, "UnsupportedMediaType",
                    "the patch type \"" + ct +
                        "\" is not supported; use application/merge-patch+json (RFC 7386), "
                        "application/json-patch+json (RFC 6902) or "
                        "application/strategic-merge-patch+json");
}

// Applies a patch document to `target`; an error Reply when it does not apply.
std::variant<json, Reply> ApplyPatch(PatchType type, const json& patch, const json& target,
                                     const std::string& qualified_kind, const std::string& name) {
  if (type == PatchType::kMerge) {
    if (!patch.is_object())
      return BadRequest("a merge patch must be a JSON object, not " +
                        std::string(patch.type_name()));
    json out = target;
    out.merge_patch(patch);
    return out;
  }
  if (type == PatchType::kStrategic) {
    auto out = api::StrategicMergePatch(target, patch);
    if (!out.ok())
      return ErrorReply(422, "Invalid",
                        qualified_kind + " \"" + name +
                            "\" is invalid: the strategic merge patch "
                            "cannot be applied: " +
                            out.status().message());
    return std::move(out).value();
  }
  if (!patch.is_array())
    return BadRequest("a JSON patch must be a list of operations, not " +
                      std::string(patch.type_name()));
  try {
    return target.patch(patch);
  } catch (const json::exception& e) {
    return ErrorReply(422, "Invalid",
                      qualified_kind + " \"" + name +
                          "\" is invalid: the JSON patch cannot be "
                          "applied: " +
                          e.what());
  }
}

std::variant<json, Reply> ParsePatch(const HttpRequest& req) {
  auto patch = api::ParseJson(req.body, "request body");
  if (!patch.ok()) return BadRequest(patch.status().message());
  return std::move(patch).value();
}

template <typename T>
bool Failed(const std::variant<T, Reply>& v, const Respond& respond) {
  if (std::holds_alternative<Reply>(v)) {
    respond(ToHttp(std::get<Reply>(v)));
    return true;
  }
  return false;
}

ReplyFn Answer(const Respond& respond) {
  return [respond](Reply r) { respond(ToHttp(r)); };
}

}  // namespace

json ScaleOf(const json& d) {
  // Read defensively: a status is whatever its writer put there.
  auto int_at = [](const json& obj, const char* part, const char* field) -> int64_t {
    if (!obj.contains(part) || !obj[part].is_object() || !obj[part].contains(field) ||
        !obj[part][field].is_number_integer())
      return 0;
    return obj[part][field].get<int64_t>();
  };
  json scale_md = json::object();
  if (d.contains("metadata") && d["metadata"].is_object()) {
    for (const char* f : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"}) {
      if (d["metadata"].contains(f)) scale_md[f] = d["metadata"][f];
    }
  }
  std::string selector;
  if (d.contains("spec") && d["spec"].is_object() && d["spec"].contains("selector") &&
      d["spec"]["selector"].is_object() && d["spec"]["selector"].contains("matchLabels")) {
    selector = api::LabelSelector::FromMatchLabels(d["spec"]["selector"]["matchLabels"]).ToString();
  }
  return {{"kind", "Scale"},
          {"apiVersion", "autoscaling/v1"},
          {"metadata", scale_md},
          {"spec", {{"replicas", int_at(d, "spec", "replicas")}}},
          {"status", {{"replicas", int_at(d, "status", "replicas")}, {"selector", selector}}}};
}

RequestInfo ClassifyRequest(const HttpRequest& req) {
  RequestInfo info;
  auto segs = Segments(req.path);
  if (segs.empty() || (segs[0] != "api" && segs[0] != "apis")) return info;
  info.is_resource = true;
  std::string group, version;
  size_t i = 1;
  if (segs[0] == "apis") {
    if (segs.size() < 2) return info;
    group = segs[i++];
  }
  if (segs.size() <= i) return info;
  version = segs[i++];
  std::vector<std::string> rest(segs.begin() + static_cast<long>(i), segs.end());
  std::string resource;
  size_t n = 0;
  if (!rest.empty() && rest[0] == "namespaces" && rest.size() >= 3) {
    info.ns = rest[1];
    resource = rest[2];
    n = 3;
  } else if (!rest.empty()) {
    resource = rest[0];
    n = 1;
  } else {
    return info;  // discovery paths: not served here
  }
  if (rest.size() > n) info.name = rest[n];
  if (rest.size() > n + 1) info.subresource = rest[n + 1];
  const api::ResourceInfo* r = api::FindResource(group, resource);
  if (!r || r->version != version) {
    info.error = "the server could not find the requested resource (" + req.path + ")";
    return info;
  }
  if (rest.size() > n + 2 || (!r->namespaced && !info.ns.empty()) ||
      (r->namespaced && info.ns.empty() && !info.name.empty())) {
    info.error = "the server could not find the requested resource (" + req.path + ")";
    return info;
  }
  if (!info.subresource.empty() && !(info.subresource == "status" && r->has_status) &&
      !(info.subresource == "scale" && r->has_scale)) {
    info.error = "the server could not find the requested resource (" + req.path + ")";
    return info;
  }
  info.resource = r;
  const std::string& m = req.method;
  if (info.name.empty()) {
    if (m == "GET") info.verb = IsTrue(req.Query("watch")) ? "WATCH" : "LIST";
    if (m == "POST") info.verb = "CREATE";
    if (m == "DELETE") info.verb = "DELETECOLLECTION";
  } else {
    if (m == "GET") info.verb = IsTrue(req.Query("watch")) ? "WATCH" : "GET";
    if (m == "PUT") info.verb = "UPDATE";
    if (m == "PATCH") info.verb = "PATCH";
    if (m == "DELETE") info.verb = "DELETE";
  }
  return info;
}

bool ResourceApi::Handle(const HttpRequest& req, const RequestInfo& info, const Respond& respond) {
  if (!info.is_resource) return false;
  if (!info.resource) {
    respond(ToHttp(ErrorReply(404, "NotFound",
                              info.error.empty() ? "the server could not find the requested "
                                                   "resource (" +
                                                       req.path + ")"
                                                 : info.error)));
    return true;
  }
  if (info.verb.empty() || info.verb == "DELETECOLLECTION") {
    respond(ToHttp(
        ErrorReply(405, "MethodNotAllowed", req.method + " is not supported on " + req.path)));
    return true;
  }
  if (!req.Query("dryRun").empty()) {
    respond(ToHttp(BadRequest("dryRun is not supported by this server")));
    return true;
  }
  Respond answer = respond;
  if ((info.verb == "LIST" || (info.verb == "GET" && info.subresource.empty())) &&
      api::WantsTable(req.Header("accept"))) {
    // kubectl's `get` asks for rows and columns: the same answer, as a Table.
    answer = [respond, r = info.resource, include = req.Query("includeObject")](HttpResponse h) {
      json body = h.status == 200 ? json::parse(h.body, nullptr, false) : json();
      if (!body.is_object()) {
        respond(std::move(h));
        return;
      }
      std::vector<json> objects;
      if (body.contains("items") && body["items"].is_array()) {
        for (const auto& it : body["items"])
          objects.push_back(it);
      } else {
        objects.push_back(body);
      }
      std::string rv;
      if (body.contains("metadata") && body["metadata"].is_object() &&
          body["metadata"].contains("resourceVersion") &&
          body["metadata"]["resourceVersion"].is_string())
        rv = body["metadata"]["resourceVersion"].get<std::string>();
      h.body = api::ToTable(*r, objects, rv, include, api::NowUnixSeconds())
                   .dump(-1, ' ', false, json::error_handler_t::replace);
      respond(std::move(h));
    };
  }
  if (info.name.empty()) {
    HandleCollection(req, info, answer);
  } else if (info.subresource == "scale") {
    HandleScale(req, info, answer);
  } else {
    HandleObject(req, info, answer);
  }
  return true;
}

void ResourceApi::HandleCollection(const HttpRequest& req, const RequestInfo& info,
                                   const Respond& respond) {
  const api::ResourceInfo& r = *info.resource;
  if (info.verb == "CREATE") {
    if (r.namespaced && info.ns.empty()) {
      respond(ToHttp(ErrorReply(405, "MethodNotAllowed",
                                "create " + r.name + " in a namespace: POST to /" +
                                    (r.group.empty() ? "api/" : "apis/" + r.group + "/") +
                                    r.version + "/namespaces/{namespace}/" + r.name)));
      return;
    }
    auto body = ParseBody(req);
    if (Failed(body, respond)) return;
    registry_.Create(r, info.ns, std::get<json>(std::move(body)), Answer(respond));
    return;
  }
  auto labels = api::LabelSelector::Parse(req.Query("labelSelector"));
  if (!labels.ok()) {
    respond(ToHttp(BadRequest("labelSelector: " + labels.status().message())));
    return;
  }
  auto fields = api::FieldSelector::Parse(req.Query("fieldSelector"));
  if (!fields.ok()) {
    respond(ToHttp(BadRequest("fieldSelector: " + fields.status().message())));
    return;
  }
  if (auto bad = Registry::CheckFields(r, fields.value())) {
    respond(ToHttp(*bad));
    return;
  }
  if (info.verb == "WATCH") {
    WatchOptions o;
    o.resource_version = req.Query("resourceVersion");
    o.labels = labels.value();
    o.fields = fields.value();
    o.table = api::WantsTable(req.Header("accept"));
    o.include_object = req.Query("includeObject");
    std::string t = req.Query("timeoutSeconds");
    if (!t.empty()) {
      try {
        o.timeout_seconds = std::stoi(t);
      } catch (...) {
        respond(ToHttp(BadRequest("timeoutSeconds must be a number of seconds")));
        return;
      }
    }
    ServeWatch(io_, node_, hub_, r, info.ns, std::move(o), respond);
    return;
  }
  ListOptions o;
  o.labels = labels.value();
  o.fields = fields.value();
  o.continue_token = req.Query("continue");
  o.serializable = req.Query("resourceVersion") == "0";
  if (!req.Query("limit").empty()) {
    try {
      o.limit = std::stoll(req.Query("limit"));
    } catch (...) {
      o.limit = -1;
    }
    if (o.limit < 0) {
      respond(ToHttp(BadRequest("limit must be a non-negative number")));
      return;
    }
  }
  registry_.List(r, info.ns, o, Answer(respond));
}

void ResourceApi::HandleObject(const HttpRequest& req, const RequestInfo& info,
                               const Respond& respond) {
  const api::ResourceInfo& r = *info.resource;
  Registry::Part part =
      info.subresource == "status" ? Registry::Part::kStatus : Registry::Part::kMain;
  if (info.verb == "GET") {
    registry_.Get(r, info.ns, info.name, req.Query("resourceVersion") == "0", Answer(respond));
  } else if (info.verb == "WATCH") {
    respond(ToHttp(BadRequest("watch one object with ?watch=true&fieldSelector=metadata.name=" +
                              info.name + " on its collection")));
  } else if (info.verb == "UPDATE") {
    auto body = ParseBody(req);
    if (Failed(body, respond)) return;
    registry_.Update(
        r, info.ns, info.name, part,
        [b = std::get<json>(std::move(body))](const json&) -> std::variant<json, Reply> {
          return b;
        },
        Answer(respond));
  } else if (info.verb == "PATCH") {
    auto type = PatchTypeOf(req);
    if (Failed(type, respond)) return;
    auto patch = ParsePatch(req);
    if (Failed(patch, respond)) return;
    registry_.Update(
        r, info.ns, info.name, part,
        [t = std::get<PatchType>(type), p = std::get<json>(std::move(patch)), &r, name = info.name](
            const json& current) { return ApplyPatch(t, p, current, r.qualified_kind(), name); },
        Answer(respond));
  } else if (info.verb == "DELETE") {
    std::string precondition;
    if (req.body.find_first_not_of(" \t\r\n") != std::string::npos) {
      auto opts = api::ParseDocument(req.body, "DeleteOptions");
      if (!opts.ok()) {
        respond(ToHttp(BadRequest(opts.status().message())));
        return;
      }
      if (opts->is_object() && opts->contains("preconditions") &&
          (*opts)["preconditions"].is_object()) {
        precondition = api::StringField((*opts)["preconditions"], "resourceVersion");
      }
      if (opts->is_object() && opts->contains("dryRun")) {
        respond(ToHttp(BadRequest("dryRun is not supported by this server")));
        return;
      }
    }
    registry_.Delete(r, info.ns, info.name, precondition, Answer(respond));
  } else {
    respond(ToHttp(
        ErrorReply(405, "MethodNotAllowed", req.method + " is not supported on " + req.path)));
  }
}

void ResourceApi::HandleScale(const HttpRequest& req, const RequestInfo& info,
                              const Respond& respond) {
  const api::ResourceInfo& r = *info.resource;
  auto scaled = [respond](Reply rep) {
    if (rep.ok()) rep.body = ScaleOf(rep.body);
    respond(ToHttp(rep));
  };
  if (info.verb == "GET") {
    registry_.Get(r, info.ns, info.name, false, scaled);
    return;
  }
  if (info.verb != "UPDATE" && info.verb != "PATCH") {
    respond(ToHttp(
        ErrorReply(405, "MethodNotAllowed", req.method + " is not supported on " + req.path)));
    return;
  }
  // The new Scale from the current one: the body (PUT) or the patched Scale (PATCH).
  std::function<std::variant<json, Reply>(const json&)> new_scale;
  if (info.verb == "UPDATE") {
    auto body = ParseBody(req);
    if (Failed(body, respond)) return;
    new_scale = [b = std::get<json>(std::move(body))](const json&) -> std::variant<json, Reply> {
      return b;
    };
  } else {
    auto type = PatchTypeOf(req);
    if (Failed(type, respond)) return;
    auto patch = ParsePatch(req);
    if (Failed(patch, respond)) return;
    new_scale = [t = std::get<PatchType>(type), p = std::get<json>(std::move(patch)),
                 name = info.name](const json& current_scale) {
      return ApplyPatch(t, p, current_scale, "Scale.autoscaling", name);
    };
  }
  std::string name = info.name;
  registry_.Update(
      r, info.ns, info.name, Registry::Part::kMain,
      [new_scale, name](const json& current) -> std::variant<json, Reply> {
        auto s = new_scale(ScaleOf(current));
        if (std::holds_alternative<Reply>(s)) return std::get<Reply>(std::move(s));
        const json& scale = std::get<json>(s);
        const json* replicas = nullptr;
        if (scale.is_object() && scale.contains("spec") && scale["spec"].is_object() &&
            scale["spec"].contains("replicas"))
          replicas = &scale["spec"]["replicas"];
        std::string prefix = "Scale.autoscaling \"" + name + "\" is invalid: spec.replicas: ";
        if (!replicas || !replicas->is_number_integer()) {
          return ErrorReply(422, "Invalid",
                            prefix + "Invalid value: " +
                                (replicas ? api::ShowValue(*replicas) : std::string("null")) +
                                ": must be an integer");
        }
        if (replicas->get<int64_t>() < 0) {
          return ErrorReply(422, "Invalid",
                            prefix + "Invalid value: " + replicas->dump() +
                                ": must be greater than or equal to 0");
        }
        json next = current;
        next["spec"]["replicas"] = *replicas;
        std::string rv = scale.contains("metadata") && scale["metadata"].is_object()
                             ? api::StringField(scale["metadata"], "resourceVersion")
                             : "";
        if (rv.empty()) {
          next["metadata"].erase("resourceVersion");
        } else {
          next["metadata"]["resourceVersion"] = rv;
        }
        return next;
      },
      scaled);
}

}  // namespace tug::cp
