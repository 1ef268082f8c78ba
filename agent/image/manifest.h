// OCI and Docker v2 manifests, indexes and image configs: what a pull reads, parsed without
// trusting it (every field is checked before use; a registry is outside input).
//
// Media types understood (the Accept header a pull sends lists exactly these):
//   index:    application/vnd.oci.image.index.v1+json,
//             application/vnd.docker.distribution.manifest.list.v2+json
//   manifest: application/vnd.oci.image.manifest.v1+json,
//             application/vnd.docker.distribution.manifest.v2+json
//   layers:   tar (OCI), tar+gzip (OCI and Docker); anything else is refused by name.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace tug::agent::image {

extern const char* const kManifestAccept;  // the Accept header value for a manifest request

struct Descriptor {
  std::string media_type;
  std::string digest;
  int64_t size = 0;
  std::string os, architecture, variant;  // from an index's platform, if any
};

struct Manifest {
  bool is_index = false;
  std::vector<Descriptor> manifests;  // an index: one per platform
  Descriptor config;                  // a manifest: the image config blob
  std::vector<Descriptor> layers;     // a manifest: bottom first
};

// `content_type` is the response's Content-Type; when it is missing or generic the body's
// own mediaType decides.
Result<Manifest> ParseManifest(const std::string& body, const std::string& content_type);

// The manifest of an index for `os`/`architecture` (variant ignored for amd64), or an error
// listing the platforms the image has.
Result<Descriptor> SelectPlatform(const Manifest& index, const std::string& os = "linux",
                                  const std::string& architecture = "amd64");

// Whether a layer's media type is gzip-compressed (else a plain tar).
bool LayerIsGzip(const std::string& media_type);

struct ImageConfig {
  std::vector<std::string> entrypoint, cmd, env;
  std::string working_dir, user;
  std::vector<std::string> diff_ids;  // the uncompressed layers' digests, bottom first
};

Result<ImageConfig> ParseImageConfig(const std::string& body);

}  // namespace tug::agent::image
