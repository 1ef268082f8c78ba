// One HTTP GET to a registry (or its token server, or the storage a blob redirects to), over
// plain HTTP or HTTPS, with the body streamed to the caller: the I/O under RegistryClient,
// kept behind an interface so that the protocol above it (auth, redirects, failover) can be
// driven without a network.
//
// HTTPS verifies the server's certificate and name against the system's CAs, or against
// `ca_file` when set; `insecure_skip_verify` turns verification off (k3s' setting of that
// name). A client certificate is sent when `cert_file` and `key_file` are set.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace tug::agent::image {

struct Url {
  bool https = false;
  std::string host;  // without brackets
  uint16_t port = 0;
  std::string target;  // path and query, "/" at least
  // "host:port" as the Host header and messages write it (the port left out when default).
  std::string Authority() const;
  std::string Origin() const;  // scheme://authority
};

// An absolute http(s) URL, or why not.
Result<Url> ParseUrl(const std::string& text);
// `location` (absolute, or a path relative to `base`'s origin) as an absolute URL.
Result<Url> ResolveLocation(const Url& base, const std::string& location);

struct TlsSettings {
  bool verify = true;
  std::string ca_file, cert_file, key_file;
};

struct GetRequest {
  Url url;
  std::map<std::string, std::string> headers;
  TlsSettings tls;
  // The longest the server may stay silent: connecting, between the request and the head,
  // and between two pieces of the body. A transfer that keeps moving is never cut off.
  std::chrono::milliseconds idle_timeout{30000};
};

struct GetResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower case
  // For an answer that is not 2xx, the start of its body (for the error message); a 2xx
  // body goes to the sink instead.
  std::string error_body;
};

// Receives a 2xx body piece by piece; an error stops the transfer and is returned as is.
using BodySink = std::function<Status(std::string_view)>;

class RegistryTransport {
 public:
  virtual ~RegistryTransport() = default;
  // Sends the request and streams a 2xx body to `sink`; a body longer than `max_body`
  // bytes is refused (before it is buffered anywhere) with an error naming the limit.
  // Any HTTP status is a response; errors are for failing to get one.
  virtual Result<GetResponse> Get(const GetRequest& req, const BodySink& sink,
                                  int64_t max_body) = 0;
};

// The real one: Boost.Beast over TCP, with OpenSSL for https. A connection per request
// (a pull asks for a handful of large things, so keep-alive would save little).
std::unique_ptr<RegistryTransport> NewNetworkTransport();

}  // namespace tug::agent::image
