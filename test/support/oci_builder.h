// Builds OCI and Docker v2 images in memory for tests (layers as tar, gzip or not; configs;
// manifests; indexes) and pushes them to a registry over the distribution API, so that tests
// can serve exactly the image they need, hostile ones included.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace tug::testing {

struct TarEntry {
  enum class Type { kFile, kDir, kSymlink, kHardlink, kCharDevice, kFifo };
  std::string name;
  Type type = Type::kFile;
  std::string data;  // kFile
  std::string link;  // kSymlink, kHardlink: the target
  int mode = 0644;
  int uid = 0, gid = 0;
};

inline TarEntry File(std::string name, std::string data = "", int mode = 0644, int uid = 0,
                     int gid = 0) {
  TarEntry e;
  e.name = std::move(name);
  e.data = std::move(data);
  e.mode = mode;
  e.uid = uid;
  e.gid = gid;
  return e;
}
inline TarEntry Dir(std::string name, int mode = 0755) {
  TarEntry e;
  e.name = std::move(name);
  e.type = TarEntry::Type::kDir;
  e.mode = mode;
  return e;
}
inline TarEntry Link(TarEntry::Type type, std::string name, std::string target) {
  TarEntry e;
  e.name = std::move(name);
  e.type = type;
  e.link = std::move(target);
  e.mode = 0777;
  return e;
}
inline TarEntry Symlink(std::string name, std::string target) {
  return Link(TarEntry::Type::kSymlink, std::move(name), std::move(target));
}
inline TarEntry Hardlink(std::string name, std::string target) {
  return Link(TarEntry::Type::kHardlink, std::move(name), std::move(target));
}
inline TarEntry Special(TarEntry::Type type, std::string name) {
  TarEntry e;
  e.name = std::move(name);
  e.type = type;
  return e;
}

// An uncompressed tar (pax) of the entries, in order.
std::string MakeTar(const std::vector<TarEntry>& entries);
std::string Gzip(const std::string& bytes);
std::string Sha256(const std::string& bytes);  // "sha256:<hex>"

struct BuiltImage {
  std::map<std::string, std::string> blobs;  // digest -> bytes: config and layers
  std::string config_digest;
  std::vector<std::string> layer_digests;  // compressed (as stored)
  std::vector<std::string> diff_ids;
  std::string manifest, manifest_type, manifest_digest;
};

struct ImageOptions {
  bool gzip = true;
  bool docker_media_types = false;  // Docker v2 schema 2 instead of OCI
  nlohmann::json config;            // the "config" object (Entrypoint, Cmd, Env, ...)
  // Replaces the diff_ids written in the config (to build an image that lies about them).
  std::vector<std::string> diff_ids_override;
};

// `layers` are uncompressed tars, bottom first.
BuiltImage BuildImage(const std::vector<std::string>& layers, const ImageOptions& o = {});

// An index (or Docker manifest list) of the given images for the given platforms
// ("linux/amd64", "linux/arm64", ...).
std::string BuildIndex(const std::vector<std::pair<const BuiltImage*, std::string>>& entries,
                       bool docker_media_types = false);

// Pushes blobs and the manifest under `reference` (a tag or the manifest's digest) to the
// registry at `host_port` over plain HTTP.
Status PushBlob(const std::string& host_port, const std::string& repository,
                const std::string& digest, const std::string& bytes);
Status PushManifest(const std::string& host_port, const std::string& repository,
                    const std::string& reference, const std::string& media_type,
                    const std::string& body);
Status PushImage(const std::string& host_port, const std::string& repository,
                 const std::string& tag, const BuiltImage& image);

}  // namespace tug::testing
