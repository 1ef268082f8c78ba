#include "test/support/oci_builder.h"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <zlib.h>

#include <stdexcept>

#include "net/http_client.h"

namespace tug::testing {

using json = nlohmann::json;

std::string MakeTar(const std::vector<TarEntry>& entries) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_set_bytes_in_last_block(a, 1);
  archive_write_open(
      a, &out, nullptr,
      [](struct archive*, void* client, const void* buf, size_t n) -> la_ssize_t {
        static_cast<std::string*>(client)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr);
  for (const auto& e : entries) {
    archive_entry* en = archive_entry_new();
    archive_entry_set_pathname(en, e.name.c_str());
    archive_entry_set_perm(en, static_cast<mode_t>(e.mode));
    archive_entry_set_uid(en, e.uid);
    archive_entry_set_gid(en, e.gid);
    archive_entry_set_mtime(en, 1700000000, 0);
    switch (e.type) {
      case TarEntry::Type::kFile:
        archive_entry_set_filetype(en, AE_IFREG);
        archive_entry_set_size(en, static_cast<la_int64_t>(e.data.size()));
        break;
      case TarEntry::Type::kDir:
        archive_entry_set_filetype(en, AE_IFDIR);
        break;
      case TarEntry::Type::kSymlink:
        archive_entry_set_filetype(en, AE_IFLNK);
        archive_entry_set_symlink(en, e.link.c_str());
        break;
      case TarEntry::Type::kHardlink:
        archive_entry_set_filetype(en, AE_IFREG);
        archive_entry_set_hardlink(en, e.link.c_str());
        archive_entry_set_size(en, 0);
        break;
      case TarEntry::Type::kCharDevice:
        archive_entry_set_filetype(en, AE_IFCHR);
        archive_entry_set_rdevmajor(en, 1);
        archive_entry_set_rdevminor(en, 3);
        break;
      case TarEntry::Type::kFifo:
        archive_entry_set_filetype(en, AE_IFIFO);
        break;
    }
    if (archive_write_header(a, en) != ARCHIVE_OK)
      throw std::runtime_error(std::string("tar header: ") + archive_error_string(a));
    if (e.type == TarEntry::Type::kFile && !e.data.empty())
      archive_write_data(a, e.data.data(), e.data.size());
    archive_entry_free(en);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

std::string Gzip(const std::string& bytes) {
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, static_cast<uLong>(bytes.size())) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string Sha256(const std::string& bytes) {
  unsigned char md[32];
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &n, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned i = 0; i < n; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

BuiltImage BuildImage(const std::vector<std::string>& layers, const ImageOptions& o) {
  BuiltImage img;
  json layer_descs = json::array();
  const std::string layer_type = o.docker_media_types
                                     ? "application/vnd.docker.image.rootfs.diff.tar.gzip"
                                     : (o.gzip ? "application/vnd.oci.image.layer.v1.tar+gzip"
                                               : "application/vnd.oci.image.layer.v1.tar");
  for (const auto& tar : layers) {
    std::string stored = (o.gzip || o.docker_media_types) ? Gzip(tar) : tar;
    std::string d = Sha256(stored);
    img.blobs[d] = stored;
    img.layer_digests.push_back(d);
    img.diff_ids.push_back(Sha256(tar));
    layer_descs.push_back(
        {{"mediaType", layer_type}, {"digest", d}, {"size", static_cast<int64_t>(stored.size())}});
  }
  json config = {
      {"architecture", "amd64"},
      {"os", "linux"},
      {"config", o.config.is_null() ? json::object() : o.config},
      {"rootfs",
       {{"type", "layers"},
        {"diff_ids", o.diff_ids_override.empty() ? img.diff_ids : o.diff_ids_override}}}};
  std::string config_bytes = config.dump();
  img.config_digest = Sha256(config_bytes);
  img.blobs[img.config_digest] = config_bytes;
  img.manifest_type = o.docker_media_types ? "application/vnd.docker.distribution.manifest.v2+json"
                                           : "application/vnd.oci.image.manifest.v1+json";
  json manifest = {
      {"schemaVersion", 2},
      {"mediaType", img.manifest_type},
      {"config",
       {{"mediaType", o.docker_media_types ? "application/vnd.docker.container.image.v1+json"
                                           : "application/vnd.oci.image.config.v1+json"},
        {"digest", img.config_digest},
        {"size", static_cast<int64_t>(config_bytes.size())}}},
      {"layers", layer_descs}};
  img.manifest = manifest.dump();
  img.manifest_digest = Sha256(img.manifest);
  return img;
}

std::string BuildIndex(const std::vector<std::pair<const BuiltImage*, std::string>>& entries,
                       bool docker) {
  json ms = json::array();
  for (const auto& [img, platform] : entries) {
    auto slash = platform.find('/');
    ms.push_back(
        {{"mediaType", img->manifest_type},
         {"digest", img->manifest_digest},
         {"size", static_cast<int64_t>(img->manifest.size())},
         {"platform",
          {{"os", platform.substr(0, slash)}, {"architecture", platform.substr(slash + 1)}}}});
  }
  return json{{"schemaVersion", 2},
              {"mediaType", docker ? "application/vnd.docker.distribution.manifest.list.v2+json"
                                   : "application/vnd.oci.image.index.v1+json"},
              {"manifests", ms}}
      .dump();
}

Status PushBlob(const std::string& host_port, const std::string& repo, const std::string& digest,
                const std::string& bytes) {
  net::HttpClient c({host_port});
  auto start = c.Post("/v2/" + repo + "/blobs/uploads/", "");
  if (!start.ok()) return start.status();
  if (start->status != 202)
    return Status::Error("starting an upload: HTTP " + std::to_string(start->status) + " " +
                         start->body);
  std::string location = start->headers.count("location") ? start->headers.at("location") : "";
  // The registry answers with an absolute URL; the client wants the path.
  if (auto p = location.find("://"); p != std::string::npos)
    location = location.substr(location.find('/', p + 3));
  location += (location.find('?') == std::string::npos ? "?" : "&") + std::string("digest=") +
              net::QueryEscape(digest);
  net::RequestOptions o;
  o.content_type = "application/octet-stream";
  auto put = c.Do("PUT", location, bytes, o);
  if (!put.ok()) return put.status();
  if (put->status != 201)
    return Status::Error("uploading " + digest + ": HTTP " + std::to_string(put->status) + " " +
                         put->body);
  return Status::Ok();
}

Status PushManifest(const std::string& host_port, const std::string& repo,
                    const std::string& reference, const std::string& media_type,
                    const std::string& body) {
  net::HttpClient c({host_port});
  net::RequestOptions o;
  o.content_type = media_type;
  auto put = c.Do("PUT", "/v2/" + repo + "/manifests/" + reference, body, o);
  if (!put.ok()) return put.status();
  if (put->status != 201)
    return Status::Error("putting the manifest " + reference + ": HTTP " +
                         std::to_string(put->status) + " " + put->body);
  return Status::Ok();
}

Status PushImage(const std::string& host_port, const std::string& repo, const std::string& tag,
                 const BuiltImage& img) {
  for (const auto& [digest, bytes] : img.blobs)
    if (auto s = PushBlob(host_port, repo, digest, bytes); !s.ok()) return s;
  return PushManifest(host_port, repo, tag, img.manifest_type, img.manifest);
}

}  // namespace tug::testing
