// Image references as `docker pull` reads them (agent/image/reference.h).
#include <catch2/catch.hpp>

#include "agent/image/reference.h"

using tug::agent::image::ParseReference;
using tug::agent::image::ValidDigest;

namespace {

std::string Normalized(const std::string& text) {
  auto r = ParseReference(text);
  REQUIRE(r.ok());
  return r->String();
}

}  // namespace

TEST_CASE("image references normalize as Docker's do", "[agent][image]") {
  CHECK(Normalized("postgres:14") == "docker.io/library/postgres:14");
  CHECK(Normalized("postgres") == "docker.io/library/postgres:latest");
  CHECK(Normalized("bitnami/redis") == "docker.io/bitnami/redis:latest");
  CHECK(Normalized("index.docker.io/library/busybox:1.36") == "docker.io/library/busybox:1.36");
  CHECK(Normalized("localhost:5000/web:1") == "localhost:5000/web:1");
  CHECK(Normalized("localhost/web") == "localhost/web:latest");
  CHECK(Normalized("127.0.0.1:5000/team/web-server_v2:1.0.0-rc.1") ==
        "127.0.0.1:5000/team/web-server_v2:1.0.0-rc.1");
  CHECK(Normalized("ghcr.io/org/app") == "ghcr.io/org/app:latest");
  // An upper-case first component can only be a host.
  CHECK(Normalized("Registry/app") == "Registry/app:latest");

  std::string digest = "sha256:" + std::string(64, 'a');
  auto by_digest = ParseReference("ghcr.io/org/app@" + digest);
  REQUIRE(by_digest.ok());
  CHECK(by_digest->tag.empty());
  CHECK(by_digest->Selector() == digest);
  auto both = ParseReference("app:1@" + digest);
  REQUIRE(both.ok());
  CHECK(both->tag == "1");
  CHECK(both->Selector() == digest);  // the digest decides what is pulled

  auto hub = ParseReference("postgres:14");
  REQUIRE(hub.ok());
  CHECK(hub->ApiHost() == "registry-1.docker.io");
  CHECK(hub->repository == "library/postgres");
  CHECK(hub->Selector() == "14");
}

TEST_CASE("bad image references are refused with the reason", "[agent][image]") {
  auto why = [](const std::string& text) {
    auto r = ParseReference(text);
    REQUIRE_FALSE(r.ok());
    return r.status().message();
  };
  CHECK(why("") == "invalid image reference \"\": it is empty");
  CHECK(why("Postgres:14") ==
        "invalid image reference \"Postgres:14\": \"Postgres\" must be lowercase letters and "
        "digits, separated by '.', '_', '__' or '-'");
  CHECK(why("web:-1").find("the tag \"-1\"") != std::string::npos);
  CHECK(why("web:" + std::string(129, 'a')).find("at most 128") != std::string::npos);
  CHECK(why("web@sha256:abc").find("the digest must be") != std::string::npos);
  CHECK(why("a//b").find("\"\" must be lowercase") != std::string::npos);
  CHECK(why("web-").find("\"web-\" must be") != std::string::npos);
  CHECK(why("a___b").find("must be lowercase") != std::string::npos);
  CHECK(why("local_host:5000/web").find("is not a registry host") != std::string::npos);
  CHECK(why("example.com/" + std::string(250, 'a')).find("longer than 255") != std::string::npos);

  CHECK(ValidDigest("sha256:" + std::string(64, '0')));
  CHECK_FALSE(ValidDigest("sha256:" + std::string(64, 'A')));
  CHECK_FALSE(ValidDigest("md5:" + std::string(32, '0')));
  CHECK(ValidDigest("sha512:" + std::string(128, 'f')));
}
