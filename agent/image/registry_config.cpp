#include "agent/image/registry_config.h"

#include <yaml-cpp/yaml.h>

#include "base/base64.h"
#include "base/file.h"

namespace tug::agent::image {

namespace {

bool Loopback(const std::string& host_port) {
  std::string host = host_port;
  if (!host.empty() && host[0] == '[') {
    host = host.substr(1, host.find(']') - 1);
  } else if (auto colon = host.find(':'); colon != std::string::npos) {
    host = host.substr(0, colon);
  }
  return host == "localhost" || host == "127.0.0.1" || host == "::1";
}

Result<std::string> Text(const YAML::Node& n, const std::string& where) {
  if (!n.IsScalar()) return Status::Invalid(where + ": must be a string");
  return n.as<std::string>();
}

}  // namespace

Result<Endpoint> ParseEndpoint(const std::string& text) {
  Endpoint e;
  std::string rest = text;
  if (rest.rfind("http://", 0) == 0) {
    e.https = false;
    rest = rest.substr(7);
  } else if (rest.rfind("https://", 0) == 0) {
    rest = rest.substr(8);
  } else if (rest.find("://") != std::string::npos) {
    return Status::Invalid("\"" + text + "\": only http:// and https:// endpoints are supported");
  }
  auto slash = rest.find('/');
  e.host = rest.substr(0, slash);
  if (slash != std::string::npos) e.prefix = rest.substr(slash);
  while (!e.prefix.empty() && e.prefix.back() == '/')
    e.prefix.pop_back();
  // containerd accepts an endpoint written with its /v2 suffix; the client adds it.
  if (e.prefix.size() >= 3 && e.prefix.compare(e.prefix.size() - 3, 3, "/v2") == 0)
    e.prefix.resize(e.prefix.size() - 3);
  if (e.host.empty()) return Status::Invalid("\"" + text + "\" names no host");
  return e;
}

std::vector<Endpoint> RegistryConfig::EndpointsFor(const Reference& ref) const {
  std::vector<Endpoint> out;
  auto m = mirrors.find(ref.registry);
  if (m == mirrors.end()) m = mirrors.find("*");
  if (m != mirrors.end()) out = m->second;
  Endpoint self;
  self.host = ref.ApiHost();
  self.https = !Loopback(self.host);
  bool listed = false;
  for (const auto& e : out)
    listed = listed || (e.host == self.host && e.https == self.https && e.prefix.empty());
  if (!listed) out.push_back(self);
  return out;
}

RegistryHostConfig RegistryConfig::ConfigFor(const std::string& host) const {
  auto it = configs.find(host);
  return it == configs.end() ? RegistryHostConfig{} : it->second;
}

Result<RegistryConfig> ParseRegistryConfig(const std::string& text) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Status::Invalid("not YAML: " + std::string(e.what()));
  }
  RegistryConfig c;
  if (root.IsNull()) return c;
  if (!root.IsMap()) return Status::Invalid("the registry configuration must be a mapping");
  for (const auto& top : root) {
    std::string key = top.first.as<std::string>();
    if (key != "mirrors" && key != "configs")
      return Status::Invalid("unknown field \"" + key + "\" (expected mirrors, configs)");
  }
  if (const auto& mirrors = root["mirrors"]; mirrors) {
    if (!mirrors.IsMap()) return Status::Invalid("mirrors: must be a mapping of registries");
    for (const auto& m : mirrors) {
      std::string reg = m.first.as<std::string>();
      std::string where = "mirrors.\"" + reg + "\"";
      const auto& eps = m.second["endpoint"];
      if (!eps || !eps.IsSequence()) return Status::Invalid(where + ".endpoint: must be a list");
      for (size_t i = 0; i < eps.size(); ++i) {
        std::string at = where + ".endpoint[" + std::to_string(i) + "]";
        auto s = Text(eps[i], at);
        if (!s.ok()) return s.status();
        auto e = ParseEndpoint(s.value());
        if (!e.ok()) return Status::Invalid(at + ": " + e.status().message());
        c.mirrors[reg].push_back(e.value());
      }
    }
  }
  if (const auto& configs = root["configs"]; configs) {
    if (!configs.IsMap()) return Status::Invalid("configs: must be a mapping of registry hosts");
    for (const auto& h : configs) {
      std::string host = h.first.as<std::string>();
      std::string where = "configs.\"" + host + "\"";
      RegistryHostConfig rc;
      if (const auto& auth = h.second["auth"]; auth) {
        if (!auth.IsMap()) return Status::Invalid(where + ".auth: must be a mapping");
        for (const char* f : {"username", "password", "auth"}) {
          if (!auth[f]) continue;
          auto s = Text(auth[f], where + ".auth." + f);
          if (!s.ok()) return s.status();
          if (std::string(f) == "username") rc.username = s.value();
          if (std::string(f) == "password") rc.password = s.value();
          if (std::string(f) == "auth") {
            // Docker's config.json form: base64 of "user:password".
            auto decoded = Base64Decode(s.value());
            auto colon = decoded ? decoded->find(':') : std::string::npos;
            if (colon == std::string::npos)
              return Status::Invalid(where + ".auth.auth: must be base64 of user:password");
            rc.username = decoded->substr(0, colon);
            rc.password = decoded->substr(colon + 1);
          }
        }
      }
      if (const auto& tls = h.second["tls"]; tls) {
        if (!tls.IsMap()) return Status::Invalid(where + ".tls: must be a mapping");
        for (const auto& [field, out] :
             {std::pair{"ca_file", &rc.ca_file}, std::pair{"cert_file", &rc.cert_file},
              std::pair{"key_file", &rc.key_file}}) {
          if (!tls[field]) continue;
          auto s = Text(tls[field], where + ".tls." + field);
          if (!s.ok()) return s.status();
          *out = s.value();
        }
        if (tls["insecure_skip_verify"]) {
          try {
            rc.insecure_skip_verify = tls["insecure_skip_verify"].as<bool>();
          } catch (const YAML::Exception&) {
            return Status::Invalid(where + ".tls.insecure_skip_verify: must be true or false");
          }
        }
      }
      c.configs[host] = rc;
    }
  }
  return c;
}

Result<RegistryConfig> LoadRegistryConfig(const std::string& path) {
  std::string text;
  if (Status s = ReadWholeFile(path, &text); !s) return s;
  auto c = ParseRegistryConfig(text);
  if (!c.ok()) return Status::Invalid(path + ": " + c.status().message());
  return c;
}

}  // namespace tug::agent::image
