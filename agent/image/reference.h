// Image references as Docker and containerd read them (distribution's "reference" grammar):
//
//   postgres:14                   -> docker.io/library/postgres:14
//   bitnami/redis                 -> docker.io/bitnami/redis:latest
//   localhost:5000/web:1          -> localhost:5000/web:1
//   ghcr.io/org/app@sha256:<hex>  -> by digest (a tag beside it is kept for display only)
//
// The first path component is a registry host when it has a '.' or a ':' or is "localhost";
// otherwise the image is on Docker Hub, and a one-component name there is under "library/".
// Names are lowercase components of [a-z0-9] joined by '.', '_', '__' or '-'s; a tag is
// [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; a digest is sha256 (64 hex) or sha512 (128 hex).
#pragma once

#include <string>

#include "base/status.h"

namespace tug::agent::image {

struct Reference {
  std::string registry;    // "docker.io", "localhost:5000", "ghcr.io"
  std::string repository;  // "library/postgres"
  std::string tag;         // "14"; "latest" when neither a tag nor a digest was given
  std::string digest;      // "sha256:..." or ""

  // What the distribution API is asked for: the digest if there is one, else the tag.
  const std::string& Selector() const { return digest.empty() ? tag : digest; }
  // The fully qualified form: registry/repository[:tag][@digest].
  std::string String() const;
  // The host the API is served from: Docker Hub's API lives on registry-1.docker.io.
  std::string ApiHost() const;
};

// Parses a reference as `docker pull` would; the error says what is wrong with it.
Result<Reference> ParseReference(const std::string& text);

// Whether `digest` is "sha256:<64 lowercase hex>" or "sha512:<128 lowercase hex>".
bool ValidDigest(const std::string& digest);

}  // namespace tug::agent::image
