// What a pull reads from a registry (agent/image/manifest.h, digest.h): indexes resolved to
// linux/amd64, manifests and their layers, image configs, and content checked against its
// digest.
#include <catch2/catch.hpp>

#include "agent/image/digest.h"
#include "agent/image/manifest.h"

using namespace tug::agent::image;

namespace {

std::string D(char c) {
  return "sha256:" + std::string(64, c);
}

}  // namespace

TEST_CASE("digests are computed and checked, and a mismatch names both", "[agent][image]") {
  CHECK(DigestOf("").value() ==
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(DigestOf("abc").value() ==
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  auto h = Hasher::Create("sha256");
  REQUIRE(h.ok());
  h.value()->Update("a");
  h.value()->Update("bc");
  CHECK(h.value()->Finish() == DigestOf("abc").value());  // streaming gives the same
  CHECK(VerifyDigest("abc", DigestOf("abc").value(), "blob").ok());
  auto bad = VerifyDigest("abd", DigestOf("abc").value(), "layer 2");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.message() == "layer 2: content does not match its digest: expected " +
                             DigestOf("abc").value() + ", got " + DigestOf("abd").value());
  CHECK_FALSE(VerifyDigest("abc", "md5:abc", "blob").ok());
  CHECK(DigestOf("abc", "sha512:").value().rfind("sha512:ddaf35a1", 0) == 0);
}

TEST_CASE("an index resolves to the linux/amd64 manifest", "[agent][image]") {
  std::string index =
      R"({"schemaVersion":2,
    "mediaType":"application/vnd.oci.image.index.v1+json",
    "manifests":[
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      D('a') + R"(","size":100,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      D('b') + R"(","size":200,"platform":{"os":"linux","architecture":"amd64"}}]})";
  auto m = ParseManifest(index, "application/vnd.oci.image.index.v1+json");
  REQUIRE(m.ok());
  CHECK(m->is_index);
  auto amd64 = SelectPlatform(m.value());
  REQUIRE(amd64.ok());
  CHECK(amd64->digest == D('b'));
  CHECK(amd64->size == 200);
  auto none = SelectPlatform(m.value(), "linux", "s390x");
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().message() ==
        "the image has no linux/s390x variant (it has: linux/arm64, linux/amd64)");
  // A Docker manifest list served without a specific Content-Type: the body decides.
  std::string list = R"({"schemaVersion":2,
    "mediaType":"application/vnd.docker.distribution.manifest.list.v2+json",
    "manifests":[{"mediaType":"x","digest":")" +
                     D('c') + R"(","size":1,"platform":{"os":"linux","architecture":"amd64"}}]})";
  auto l = ParseManifest(list, "application/json");
  REQUIRE(l.ok());
  CHECK(l->is_index);
}

TEST_CASE("a manifest lists its config and layers, and what cannot be pulled is refused by name",
          "[agent][image]") {
  std::string manifest = R"({"schemaVersion":2,
    "mediaType":"application/vnd.docker.distribution.manifest.v2+json",
    "config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":")" +
                         D('c') + R"(","size":1500},
    "layers":[
      {"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":")" +
                         D('1') + R"(","size":3000},
      {"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")" +
                         D('2') + R"(","size":10}]})";
  auto m = ParseManifest(manifest, "application/vnd.docker.distribution.manifest.v2+json");
  REQUIRE(m.ok());
  CHECK_FALSE(m->is_index);
  CHECK(m->config.digest == D('c'));
  REQUIRE(m->layers.size() == 2);
  CHECK(LayerIsGzip(m->layers[0].media_type));
  CHECK_FALSE(LayerIsGzip(m->layers[1].media_type));

  auto why = [](const std::string& body) {
    auto r = ParseManifest(body, "");
    REQUIRE_FALSE(r.ok());
    return r.status().message();
  };
  CHECK(why("[]") == "the manifest is not a JSON object");
  CHECK(why(R"({"mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws"})") ==
        "unsupported manifest media type \"application/vnd.docker.distribution.manifest.v1+"
        "prettyjws\" (Docker schema 1 and others are not supported)");
  CHECK(why(R"({"config":{"digest":")" + D('c') + R"(","size":-1},"layers":[]})") ==
        "config: size must be a non-negative integer");
  CHECK(why(R"({"config":{"digest":"sha256:zz","size":1},"layers":[]})") ==
        "config: \"sha256:zz\" is not a digest");
  CHECK(
      why(R"({"config":{"digest":")" + D('c') +
          R"(","size":1},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+zstd","digest":")" +
          D('1') + R"(","size":1}]})") ==
      "layers[0]: unsupported layer media type \"application/vnd.oci.image.layer.v1.tar+zstd\" "
      "(tar and tar+gzip are supported)");
}

TEST_CASE("an image config gives the command, environment and layer diff ids", "[agent][image]") {
  std::string config = R"({"architecture":"amd64","os":"linux",
    "config":{"Entrypoint":["docker-entrypoint.sh"],"Cmd":["postgres"],
              "Env":["PATH=/usr/local/bin:/usr/bin","PGDATA=/var/lib/postgresql/data"],
              "WorkingDir":"/","User":"postgres"},
    "rootfs":{"type":"layers","diff_ids":[")" +
                       D('1') + R"(",")" + D('2') + R"("]}})";
  auto c = ParseImageConfig(config);
  REQUIRE(c.ok());
  CHECK(c->entrypoint == std::vector<std::string>{"docker-entrypoint.sh"});
  CHECK(c->cmd == std::vector<std::string>{"postgres"});
  CHECK(c->env.size() == 2);
  CHECK(c->user == "postgres");
  CHECK(c->diff_ids == std::vector<std::string>{D('1'), D('2')});
  CHECK(
      ParseImageConfig(R"({"rootfs":{"type":"layers","diff_ids":["nope"]}})").status().message() ==
      "rootfs.diff_ids: \"nope\" is not a digest");
  CHECK_FALSE(ParseImageConfig(R"({"config":{}})").ok());
}
