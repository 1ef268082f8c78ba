#include "agent/image/registry_client.h"

#include <nlohmann/json.hpp>

#include "agent/image/auth_challenge.h"
#include "agent/image/digest.h"
#include "base/base64.h"

namespace tug::agent::image {

namespace {

constexpr int kMaxRedirects = 5;
constexpr int64_t kMaxTokenBytes = 1 << 20;

bool IsRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// The registry's own words, for an error message: the distribution spec's
// {"errors":[{"code":…,"message":…}]} when it sent that, else the start of the body.
std::string Said(const GetResponse& r) {
  std::string out = "HTTP " + std::to_string(r.status);
  auto j = nlohmann::json::parse(r.error_body, nullptr, false);
  if (j.is_object() && j.contains("errors") && j["errors"].is_array() && !j["errors"].empty()) {
    const auto& e = j["errors"][0];
    if (e.is_object()) {
      if (e.contains("code") && e["code"].is_string()) out += " " + e["code"].get<std::string>();
      if (e.contains("message") && e["message"].is_string())
        out += ": " + e["message"].get<std::string>();
    }
    return out;
  }
  std::string body = r.error_body.substr(0, 200);
  for (auto& c : body)
    if (static_cast<unsigned char>(c) < ' ') c = ' ';
  return body.empty() ? out : out + ": " + body;
}

std::string Header(const GetResponse& r, const std::string& name) {
  auto it = r.headers.find(name);
  return it == r.headers.end() ? "" : it->second;
}

Status Collect(std::string* out, std::string_view bytes) {
  out->append(bytes);
  return Status::Ok();
}

}  // namespace

TlsSettings RegistryClient::TlsFor(const std::string& host_port) const {
  auto c = config_.ConfigFor(host_port);
  TlsSettings t;
  t.verify = !c.insecure_skip_verify;
  t.ca_file = c.ca_file;
  t.cert_file = c.cert_file;
  t.key_file = c.key_file;
  return t;
}

Result<std::string> RegistryClient::FetchToken(const std::string& header, const Reference& ref,
                                               const RegistryHostConfig& creds) {
  auto challenge = ParseChallenge(header);
  if (!challenge) return challenge.status();
  // The scope the challenge names, or a pull of this repository when it names none.
  std::string scope;
  if (!challenge->params.count("scope")) scope = "repository:" + ref.repository + ":pull";
  auto token_url = TokenUrl(*challenge, scope);
  if (!token_url) return token_url.status();
  auto url = ParseUrl(*token_url);
  if (!url) return Status::Invalid("the token realm: " + url.status().message());
  GetRequest req;
  req.url = *url;
  req.tls = TlsFor(url->Authority());
  req.idle_timeout = idle_timeout_;
  if (!creds.username.empty())
    req.headers["Authorization"] = "Basic " + Base64Encode(creds.username + ":" + creds.password);
  std::string body;
  GetResponse resp;
  for (int hops = 0;; ++hops) {
    body.clear();
    auto r = transport_.Get(
        req, [&](std::string_view b) { return Collect(&body, b); }, kMaxTokenBytes);
    if (!r)
      return Status::Unavailable("the token server " + req.url.Origin() + ": " +
                                 r.status().message());
    resp = *r;
    if (!IsRedirect(resp.status) || hops == kMaxRedirects) break;
    auto next = ResolveLocation(req.url, Header(resp, "location"));
    if (!next) return next.status();
    if (next->Origin() != req.url.Origin()) req.headers.erase("Authorization");
    req.url = *next;
    req.tls = TlsFor(next->Authority());
  }
  if (resp.status != 200)
    return Status::Error("the token server " + req.url.Origin() + " refused a token for " +
                         ref.repository + ": " + Said(resp));
  auto j = nlohmann::json::parse(body, nullptr, false);
  std::string token;
  if (j.is_object()) {
    // "token" is the spec's name; "access_token" the OAuth2 one some servers send instead.
    for (const char* k : {"token", "access_token"})
      if (j.contains(k) && j[k].is_string() && !j[k].get<std::string>().empty()) {
        token = j[k].get<std::string>();
        break;
      }
  }
  if (token.empty())
    return Status::Error("the token server " + req.url.Origin() + " answered without a token");
  for (char c : token)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
      return Status::Error("the token server " + req.url.Origin() +
                           " sent a token with a space or control character in it");
  return "Bearer " + token;
}

Result<GetResponse> RegistryClient::Get(const Endpoint& endpoint, const Reference& ref,
                                        const std::string& path,
                                        std::map<std::string, std::string> headers,
                                        const BodySink& sink, int64_t max_body) {
  auto base = ParseUrl(endpoint.Url() + "/v2/" + ref.repository + "/" + path);
  if (!base) return base.status();
  const std::string auth_key = endpoint.host + " " + ref.repository;
  const RegistryHostConfig creds = config_.ConfigFor(endpoint.host);
  bool tried_auth = false;
  for (;;) {
    GetRequest req;
    req.url = *base;
    req.headers = headers;
    req.tls = TlsFor(endpoint.host);
    req.idle_timeout = idle_timeout_;
    if (auto a = auth_.find(auth_key); a != auth_.end()) req.headers["Authorization"] = a->second;
    Result<GetResponse> r = Status::Error("unreachable");
    for (int hops = 0;; ++hops) {
      r = transport_.Get(req, sink, max_body);
      if (!r || !IsRedirect(r->status)) break;
      if (hops == kMaxRedirects)
        return Status::Error(base->Origin() + " redirected " + path + " more than " +
                             std::to_string(kMaxRedirects) + " times");
      auto next = ResolveLocation(req.url, Header(*r, "location"));
      if (!next) return next.status();
      // A signed storage URL carries its own authorization; ours must not leak to it.
      if (next->Origin() != req.url.Origin()) req.headers.erase("Authorization");
      req.url = *next;
      req.tls = TlsFor(next->Authority());
    }
    if (!r || r->status != 401 || tried_auth) return r;
    tried_auth = true;
    auto header = Header(*r, "www-authenticate");
    auto challenge = ParseChallenge(header);
    if (!challenge)
      return Status::Error(
          base->Origin() + " asks for authentication (" + Said(*r) +
          ") with a challenge that cannot be read: " + challenge.status().message());
    if (challenge->scheme == "basic") {
      if (creds.username.empty())
        return Status::Error(base->Origin() + " asks for a username and password (" + Said(*r) +
                             "); give them under configs.\"" + endpoint.host +
                             "\".auth in the registry configuration");
      auth_[auth_key] = "Basic " + Base64Encode(creds.username + ":" + creds.password);
    } else if (challenge->scheme == "bearer") {
      auto token = FetchToken(header, ref, creds);
      if (!token) return token.status();
      auth_[auth_key] = *token;
    } else {
      return Status::Error(base->Origin() + " asks for authentication by \"" + challenge->scheme +
                           "\", which Tug does not speak");
    }
  }
}

Result<FetchedManifest> RegistryClient::FetchManifest(const Reference& ref,
                                                      const std::string& selector) {
  std::string errors;
  for (const auto& endpoint : config_.EndpointsFor(ref)) {
    std::string body;
    auto r = Get(
        endpoint, ref, "manifests/" + selector, {{"Accept", kManifestAccept}},
        [&](std::string_view b) { return Collect(&body, b); }, kMaxManifestBytes);
    std::string why;
    if (!r) {
      why = r.status().message();
      if (r.status().code() != Status::Code::kUnavailable) return r.status();
    } else if (r->status == 200) {
      FetchedManifest m;
      m.body = std::move(body);
      m.media_type = Header(*r, "content-type");
      m.digest = DigestOf(m.body).value();  // sha256 cannot fail
      if (selector.find(':') != std::string::npos) {
        if (auto s = VerifyDigest(m.body, selector,
                                  "the manifest of " + ref.repository + " from " + endpoint.Url());
            !s.ok())
          return Status::Invalid(s.message());
        m.digest = selector;
      } else if (auto h = Header(*r, "docker-content-digest");
                 h.rfind("sha256:", 0) == 0 && h != m.digest) {
        return Status::Invalid("the manifest " + ref.repository + ":" + selector + " from " +
                               endpoint.Url() + " has digest " + m.digest +
                               " but the registry says " + h);
      }
      return m;
    } else {
      why = Said(*r);
      // An error that is the image's, not the endpoint's, ends the search at the registry
      // itself; a mirror that lacks the image hands over to the next endpoint.
      if (r->status == 401 || r->status == 403)
        return Status::Error(ref.String() + ": " + endpoint.Url() + ": " + why);
    }
    if (!errors.empty()) errors += "; ";
    errors += endpoint.Url() + ": " + why;
  }
  return Status::NotFound("cannot get the manifest of " + ref.String() + " (" + errors + ")");
}

Status RegistryClient::FetchBlob(const Reference& ref, const std::string& digest, int64_t size,
                                 const BodySink& sink) {
  std::string errors;
  for (const auto& endpoint : config_.EndpointsFor(ref)) {
    // Bytes once given to the sink cannot be taken back: a transfer that broke off after
    // some arrived fails the pull rather than mixing two endpoints' bytes.
    int64_t given = 0;
    auto counting = [&](std::string_view b) {
      given += static_cast<int64_t>(b.size());
      return sink(b);
    };
    auto r = Get(endpoint, ref, "blobs/" + digest, {}, counting, size);
    if (r && r->status == 200) return Status::Ok();
    std::string why = r ? Said(*r) : r.status().message();
    if (given > 0 || (!r && r.status().code() != Status::Code::kUnavailable) ||
        (r && (r->status == 401 || r->status == 403)))
      return Status::Error("cannot get " + digest + " of " + ref.String() + " from " +
                           endpoint.Url() + ": " + why);
    if (!errors.empty()) errors += "; ";
    errors += endpoint.Url() + ": " + why;
  }
  return Status::NotFound("cannot get " + digest + " of " + ref.String() + " (" + errors + ")");
}

}  // namespace tug::agent::image
