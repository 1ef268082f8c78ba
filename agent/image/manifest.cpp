#include "agent/image/manifest.h"

#include <nlohmann/json.hpp>

#include "agent/image/reference.h"

namespace tug::agent::image {

using nlohmann::json;

namespace {

const std::string kOciIndex = "application/vnd.oci.image.index.v1+json";
const std::string kOciManifest = "application/vnd.oci.image.manifest.v1+json";
const std::string kDockerList = "application/vnd.docker.distribution.manifest.list.v2+json";
const std::string kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";

std::string Str(const json& o, const char* k) {
  return o.is_object() && o.contains(k) && o[k].is_string() ? o[k].get<std::string>() : "";
}

Result<Descriptor> ReadDescriptor(const json& d, const std::string& where) {
  if (!d.is_object()) return Status::Invalid(where + ": not an object");
  Descriptor out;
  out.media_type = Str(d, "mediaType");
  out.digest = Str(d, "digest");
  if (!ValidDigest(out.digest))
    return Status::Invalid(where + ": \"" + out.digest + "\" is not a digest");
  if (!d.contains("size") || !d["size"].is_number_integer() || d["size"].get<int64_t>() < 0)
    return Status::Invalid(where + ": size must be a non-negative integer");
  out.size = d["size"].get<int64_t>();
  if (d.contains("platform") && d["platform"].is_object()) {
    out.os = Str(d["platform"], "os");
    out.architecture = Str(d["platform"], "architecture");
    out.variant = Str(d["platform"], "variant");
  }
  return out;
}

std::vector<std::string> Strings(const json& o, const char* k) {
  std::vector<std::string> out;
  if (!o.is_object() || !o.contains(k) || !o[k].is_array()) return out;
  for (const auto& s : o[k])
    if (s.is_string()) out.push_back(s.get<std::string>());
  return out;
}

}  // namespace

const char* const kManifestAccept =
    "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v2+json";

bool LayerIsGzip(const std::string& t) {
  auto ends = [&](const std::string& suffix) {
    return t.size() >= suffix.size() &&
           t.compare(t.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends("+gzip") || ends(".gzip");
}

Result<Manifest> ParseManifest(const std::string& body, const std::string& content_type) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object()) return Status::Invalid("the manifest is not a JSON object");
  std::string type = content_type.substr(0, content_type.find(';'));
  if (type != kOciIndex && type != kOciManifest && type != kDockerList && type != kDockerManifest)
    type = Str(j, "mediaType");
  if (type.empty()) type = j.contains("manifests") ? kOciIndex : kOciManifest;
  Manifest m;
  if (type == kOciIndex || type == kDockerList) {
    m.is_index = true;
    if (!j.contains("manifests") || !j["manifests"].is_array())
      return Status::Invalid("the image index has no manifests list");
    for (size_t i = 0; i < j["manifests"].size(); ++i) {
      auto d = ReadDescriptor(j["manifests"][i], "manifests[" + std::to_string(i) + "]");
      if (!d.ok()) return d.status();
      m.manifests.push_back(d.value());
    }
    return m;
  }
  if (type != kOciManifest && type != kDockerManifest)
    return Status::Invalid("unsupported manifest media type \"" + type +
                           "\" (Docker schema 1 and others are not supported)");
  auto config = ReadDescriptor(j.contains("config") ? j["config"] : json(), "config");
  if (!config.ok()) return config.status();
  m.config = config.value();
  if (!j.contains("layers") || !j["layers"].is_array())
    return Status::Invalid("the manifest has no layers list");
  for (size_t i = 0; i < j["layers"].size(); ++i) {
    std::string where = "layers[" + std::to_string(i) + "]";
    auto d = ReadDescriptor(j["layers"][i], where);
    if (!d.ok()) return d.status();
    const std::string& t = d->media_type;
    bool tar = t == "application/vnd.oci.image.layer.v1.tar" ||
               t == "application/vnd.oci.image.layer.v1.tar+gzip" ||
               t == "application/vnd.docker.image.rootfs.diff.tar.gzip";
    if (!tar)
      return Status::Invalid(where + ": unsupported layer media type \"" + t +
                             "\" (tar and tar+gzip are supported)");
    m.layers.push_back(d.value());
  }
  return m;
}

Result<Descriptor> SelectPlatform(const Manifest& index, const std::string& os,
                                  const std::string& architecture) {
  std::string have;
  for (const auto& d : index.manifests) {
    if (d.os == os && d.architecture == architecture) return d;
    if (!d.os.empty()) have += (have.empty() ? "" : ", ") + d.os + "/" + d.architecture;
  }
  return Status::NotFound("the image has no " + os + "/" + architecture +
                          " variant (it has: " + (have.empty() ? "none named" : have) + ")");
}

Result<ImageConfig> ParseImageConfig(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object()) return Status::Invalid("the image config is not a JSON object");
  ImageConfig c;
  const json& cfg = j.contains("config") && j["config"].is_object() ? j["config"] : json::object();
  c.entrypoint = Strings(cfg, "Entrypoint");
  c.cmd = Strings(cfg, "Cmd");
  c.env = Strings(cfg, "Env");
  c.working_dir = Str(cfg, "WorkingDir");
  c.user = Str(cfg, "User");
  const json& rootfs = j.contains("rootfs") ? j["rootfs"] : json();
  if (!rootfs.is_object() || Str(rootfs, "type") != "layers" || !rootfs.contains("diff_ids") ||
      !rootfs["diff_ids"].is_array())
    return Status::Invalid("the image config has no rootfs of type layers with diff_ids");
  for (const auto& d : rootfs["diff_ids"]) {
    std::string id = d.is_string() ? d.get<std::string>() : "";
    if (!ValidDigest(id)) return Status::Invalid("rootfs.diff_ids: \"" + id + "\" is not a digest");
    c.diff_ids.push_back(id);
  }
  return c;
}

}  // namespace tug::agent::image
