// The OCI distribution API as a pull uses it: a manifest by tag or digest, a blob by digest,
// from the endpoints the registry configuration gives for the image (mirrors first, then the
// registry itself), with the authentication the registry asks for.
//
// Per request:
//   - Authentication as the answer asks: a 401 with `WWW-Authenticate: Basic` is retried
//     with the configured username and password; one with `Bearer realm=…,service=…,scope=…`
//     fetches a token from the realm (sending the credentials, if any, as basic auth; none is
//     an anonymous token, as Docker Hub hands out), caches it per host and scope, and
//     retries with it. A second 401 is an error that quotes the registry.
//   - Redirects (301, 302, 303, 307, 308) are followed, up to 5; the Authorization header is
//     not sent to another origin (blob storage behind a redirect takes a signed URL instead).
//   - Endpoints are tried in order; one that cannot be reached, answers 5xx, or (for a
//     mirror) does not have the image, passes the request on to the next, and the error,
//     when all fail, names what each said.
//
// Nothing here trusts the registry: sizes are bounded (a manifest at 4 MiB, as containerd
// bounds it; a blob at its descriptor's size) before anything is buffered, and a manifest
// asked for by digest is checked against it. Not thread-safe: a client per pull.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "agent/image/manifest.h"
#include "agent/image/reference.h"
#include "agent/image/registry_config.h"
#include "agent/image/registry_transport.h"
#include "base/status.h"

namespace tug::agent::image {

// A manifest's bytes as served, and the digest they have (sha256 of the bytes).
struct FetchedManifest {
  std::string body;
  std::string media_type;  // the Content-Type the registry sent
  std::string digest;
};

constexpr int64_t kMaxManifestBytes = 4 << 20;

class RegistryClient {
 public:
  RegistryClient(const RegistryConfig& config, RegistryTransport& transport)
      : config_(config), transport_(transport) {}

  // `selector` is a tag or a digest. For a digest, bytes that do not hash to it are refused;
  // for a tag, a Docker-Content-Digest header that disagrees with the bytes is refused.
  Result<FetchedManifest> FetchManifest(const Reference& ref, const std::string& selector);

  // Streams the blob to `sink` (which checks its digest: ContentStore::Writer does); at most
  // `size` bytes are accepted (negative: no bound).
  Status FetchBlob(const Reference& ref, const std::string& digest, int64_t size,
                   const BodySink& sink);

  // How long the server may stay silent before a request is given up (tests shorten it).
  void set_idle_timeout(std::chrono::milliseconds t) { idle_timeout_ = t; }

 private:
  // One GET of `path` (after /v2/) on `endpoint`, with authentication and redirects.
  Result<GetResponse> Get(const Endpoint& endpoint, const Reference& ref, const std::string& path,
                          std::map<std::string, std::string> headers, const BodySink& sink,
                          int64_t max_body);
  Result<std::string> FetchToken(const std::string& challenge_header, const Reference& ref,
                                 const RegistryHostConfig& creds);
  TlsSettings TlsFor(const std::string& host_port) const;

  const RegistryConfig& config_;
  RegistryTransport& transport_;
  std::chrono::milliseconds idle_timeout_{30000};
  std::map<std::string, std::string> auth_;  // endpoint host + repository -> Authorization
};

}  // namespace tug::agent::image
