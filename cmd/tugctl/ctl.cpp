#include "cmd/tugctl/ctl.h"

#include <cctype>
#include <fstream>
#include <ostream>
#include <sstream>

#include "api/document.h"
#include "api/timestamp.h"

namespace tug::ctl {

using json = nlohmann::json;

namespace {

constexpr const char* kDefaultServer = "http://127.0.0.1:7101";

Result<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::Invalid("cannot read token file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string t = ss.str();
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back())))
    t.pop_back();
  if (t.empty()) return Status::Invalid("token file " + path + " is empty");
  return t;
}

// The config file's settings; all empty when there is no file at the default place.
struct FileConfig {
  std::string server, token, token_file, ns;
};

Result<FileConfig> ReadConfig(const std::string& path, bool must_exist) {
  FileConfig c;
  std::ifstream in(path);
  if (!in) {
    if (must_exist) return Status::Invalid("cannot read config file " + path);
    return c;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto doc = api::ParseDocument(ss.str(), path, api::Format::kYaml);
  if (!doc.ok()) return doc.status();
  const json& d = doc.value();
  if (d.is_null()) return c;
  if (!d.is_object()) return Status::Invalid(path + ": the config file must be a YAML mapping");
  for (const auto& [k, v] : d.items()) {
    if (k == "server" || k == "servers") {
      if (v.is_string()) {
        c.server = v.get<std::string>();
      } else if (v.is_array()) {
        for (const auto& s : v) {
          if (!s.is_string()) return Status::Invalid(path + ": " + k + ": expected URLs");
          c.server += (c.server.empty() ? "" : ",") + s.get<std::string>();
        }
      } else {
        return Status::Invalid(path + ": " + k + ": expected a URL or a list of URLs");
      }
    } else if (k == "token" || k == "token-file" || k == "namespace") {
      if (!v.is_string()) return Status::Invalid(path + ": " + k + ": expected a string");
      (k == "token" ? c.token : k == "token-file" ? c.token_file : c.ns) = v.get<std::string>();
    } else {
      return Status::Invalid(path + ": unknown setting \"" + k +
                             "\" (known: server, token, token-file, namespace)");
    }
  }
  return c;
}

}  // namespace

Result<Target> ResolveTarget(const GlobalFlags& flags,
                             const std::function<std::optional<std::string>(const char*)>& env) {
  std::string config_path = flags.config;
  bool must_exist = !config_path.empty();
  if (config_path.empty()) {
    if (auto e = env("TUG_CONFIG"); e && !e->empty()) {
      config_path = *e;
      must_exist = true;
    } else if (auto home = env("HOME"); home && !home->empty()) {
      config_path = *home + "/.tug/config";
    }
  }
  FileConfig file;
  if (!config_path.empty()) {
    auto c = ReadConfig(config_path, must_exist);
    if (!c.ok()) return c.status();
    file = c.value();
  }
  Target t;
  std::string servers = flags.server;
  if (servers.empty()) servers = env("TUG_SERVER").value_or("");
  if (servers.empty()) servers = file.server;
  if (servers.empty()) servers = kDefaultServer;
  t.servers = net::SplitServers(servers);
  if (t.servers.empty()) return Status::Invalid("no server in \"" + servers + "\"");
  for (const auto& sv : t.servers) {
    if (sv.find("://") != std::string::npos)
      return Status::Invalid("server \"" + sv +
                             "\": tugctl speaks plain HTTP to a member's --api-addr "
                             "(http://host:port); https:// is the --tls-addr kubectl uses");
  }

  if (!flags.token_file.empty()) {
    auto tok = ReadTokenFile(flags.token_file);
    if (!tok.ok()) return tok.status();
    t.token = tok.value();
  } else if (auto e = env("TUG_TOKEN"); e && !e->empty()) {
    t.token = *e;
  } else if (!file.token.empty()) {
    t.token = file.token;
  } else if (!file.token_file.empty()) {
    auto tok = ReadTokenFile(file.token_file);
    if (!tok.ok()) return Status::Invalid(config_path + ": " + tok.status().message());
    t.token = tok.value();
  }
  if (!flags.ns.empty()) {
    t.ns = flags.ns;
    t.ns_from_flag = true;
  } else if (!file.ns.empty()) {
    t.ns = file.ns;
  }
  if (t.ns.find_first_of("/?#% \t") != std::string::npos)
    return Status::Invalid("invalid namespace \"" + t.ns + "\"");
  return t;
}

Result<std::chrono::milliseconds> ParseDuration(const std::string& text) {
  using std::chrono::milliseconds;
  auto bad = [&] {
    return Status::Invalid("invalid duration \"" + text +
                           "\": expected e.g. 30s, 5m, 1h30m, 250ms (or plain seconds)");
  };
  if (text.empty()) return bad();
  // Go's form (numbers with units: "1h30m", "2m5s", "250ms"), or plain seconds.
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])))
      ++i;
    if (i == start || i - start > 9) return bad();
    int64_t n = std::stoll(text.substr(start, i - start));
    size_t u = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i])))
      ++i;
    std::string unit = text.substr(u, i - u);
    if (unit.empty()) {
      if (start != 0 || i != text.size()) return bad();
      return milliseconds(n * 1000);
    }
    if (unit == "ms") {
      total += n;
    } else if (unit == "s") {
      total += n * 1000;
    } else if (unit == "m") {
      total += n * 60 * 1000;
    } else if (unit == "h") {
      total += n * 3600 * 1000;
    } else {
      return bad();
    }
  }
  return milliseconds(total);
}

std::string ServerMessage(const net::HttpResult& r) {
  std::string m = ServerMessage(r.body);
  return m.empty() ? "the server answered HTTP " + std::to_string(r.status) + " with no message"
                   : m;
}

std::string ServerMessage(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("message") && j["message"].is_string())
    return j["message"].get<std::string>();
  std::string t = body;
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back())))
    t.pop_back();
  return t.size() > 300 ? t.substr(0, 300) + "..." : t;
}

std::string ResourcePath(const api::ResourceInfo& r, const std::string& ns, const std::string& name,
                         const std::string& sub) {
  std::string p = r.group.empty() ? "/api/" + r.version : "/apis/" + r.group + "/" + r.version;
  if (r.namespaced && !ns.empty()) p += "/namespaces/" + ns;
  p += "/" + r.name;
  if (!name.empty()) p += "/" + name;
  if (!sub.empty()) p += "/" + sub;
  return p;
}

Status Ctl::Connect() {
  if (connected_) return Status::Ok();
  auto t = ResolveTarget(flags, [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    if (!v) return std::nullopt;
    return std::string(v);
  });
  if (!t.ok()) return t.status();
  auto d = ParseDuration(flags.request_timeout);
  if (!d.ok()) return Status::Invalid("--request-timeout: " + d.status().message());
  if (d.value().count() > 0) {
    timeout_ = d.value();
    timeout_given_ = true;
  }
  target_ = t.value();
  client_ = std::make_unique<net::HttpClient>(target_.servers, target_.token);
  connected_ = true;
  return Status::Ok();
}

Result<net::HttpResult> Ctl::Request(const std::string& method, const std::string& target,
                                     const std::string& body, const std::string& content_type) {
  net::RequestOptions o;
  o.timeout = timeout_;
  // A merge patch, a PUT with a resourceVersion or a DELETE means the same thing twice; a
  // POST from tugctl creates an object of a given name, so a second one is an AlreadyExists,
  // which apply turns into an update. So every request may ride out a leader change.
  o.idempotent = true;
  o.content_type = content_type;
  o.max_unreachable_rounds = 3;
  auto r = client_->Do(method, target, body, o);
  if (!r.ok()) return Status::Unavailable("the cluster did not answer: " + r.status().message());
  if (r.value().status == 401)
    return Status::Invalid(ServerMessage(r.value()) +
                           " (give --token-file, set TUG_TOKEN, or put token-file in "
                           "~/.tug/config)");
  return r;
}

Result<json> Ctl::GetJson(const std::string& target) {
  auto r = Request("GET", target);
  if (!r.ok()) return r.status();
  if (r.value().status != 200) {
    std::string m = ServerMessage(r.value());
    return r.value().status == 404 ? Status::NotFound(m) : Status::Error(m);
  }
  json j = json::parse(r.value().body, nullptr, false);
  if (!j.is_object())
    return Status::Error("the server's answer to GET " + target + " is not a JSON object");
  return j;
}

Result<std::vector<json>> Ctl::GetNamed(const api::ResourceInfo& r,
                                        const std::vector<std::string>& names,
                                        std::vector<std::string>* not_found) {
  std::vector<json> found;
  for (const auto& name : names) {
    auto obj = GetJson(ResourcePath(r, ns(), name));
    if (!obj.ok()) {
      if (obj.status().code() != Status::Code::kNotFound) return obj.status();
      not_found->push_back(obj.status().message());
      continue;
    }
    found.push_back(std::move(obj).value());
  }
  return found;
}

int Ctl::Fail(const std::string& message) {
  std::string m = message;
  // One line: a multi-line server message is joined.
  for (auto& ch : m)
    if (ch == '\n' || ch == '\r') ch = ' ';
  err << "error: " << m << "\n";
  exit_code = 1;
  return 1;
}

int64_t Ctl::Now() const {
  return api::NowUnixSeconds();
}

}  // namespace tug::ctl
