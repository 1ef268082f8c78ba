// Where and how the agent pulls images: `tug-agent --registry-config FILE`, a YAML file in
// the shape k3s users know (/etc/rancher/k3s/registries.yaml):
//
//   mirrors:
//     docker.io:                       # or "*" for every registry
//       endpoint: ["http://127.0.0.1:5000"]
//   configs:
//     "127.0.0.1:5000":
//       auth: {username: u, password: p}    # or auth: <base64 of u:p>
//       tls: {ca_file: /etc/ssl/ca.pem, cert_file: ..., key_file: ..., insecure_skip_verify: false}
//
// For a registry, its mirrors' endpoints are tried in order and then the registry itself (as
// containerd and k3s do). An `http://` endpoint is plain HTTP; the registry itself is HTTPS,
// except on a loopback host (localhost, 127.0.0.1, ::1), which containerd also reaches over
// HTTP. Credentials and TLS settings are looked up by the endpoint's host.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/image/reference.h"
#include "base/status.h"

namespace tug::agent::image {

struct Endpoint {
  bool https = true;
  std::string host;    // host[:port]
  std::string prefix;  // a path before /v2/, "" for none
  std::string Url() const { return (https ? "https://" : "http://") + host + prefix; }
};

struct RegistryHostConfig {
  std::string username, password;  // both empty: anonymous (or a token the registry hands out)
  std::string ca_file, cert_file, key_file;
  bool insecure_skip_verify = false;
};

struct RegistryConfig {
  std::map<std::string, std::vector<Endpoint>> mirrors;  // registry (or "*") -> endpoints
  std::map<std::string, RegistryHostConfig> configs;     // endpoint host -> settings

  // The endpoints to try for `ref`, in order: its registry's mirrors (or "*"'s), then the
  // registry itself.
  std::vector<Endpoint> EndpointsFor(const Reference& ref) const;
  // The settings for an endpoint host; defaults when none are configured.
  RegistryHostConfig ConfigFor(const std::string& host) const;
};

// Parses the YAML text; errors name the field (`mirrors."docker.io".endpoint[0]: ...`).
Result<RegistryConfig> ParseRegistryConfig(const std::string& yaml);
Result<RegistryConfig> LoadRegistryConfig(const std::string& path);

// "http://h:p/prefix" or "h:p" (HTTPS) as an endpoint, or why not.
Result<Endpoint> ParseEndpoint(const std::string& text);

}  // namespace tug::agent::image
