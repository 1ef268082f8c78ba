// The agent's registry configuration (agent/image/registry_config.h): k3s's registries.yaml
// shape, mirrors tried before the registry itself, settings by endpoint host.
#include <catch2/catch.hpp>

#include "agent/image/auth_challenge.h"
#include "agent/image/registry_config.h"

using namespace tug::agent::image;

namespace {

std::vector<std::string> Urls(const RegistryConfig& c, const std::string& image) {
  auto ref = ParseReference(image);
  REQUIRE(ref.ok());
  std::vector<std::string> out;
  for (const auto& e : c.EndpointsFor(ref.value()))
    out.push_back(e.Url());
  return out;
}

}  // namespace

TEST_CASE("registries.yaml: mirrors first, then the registry itself", "[agent][image]") {
  auto c = ParseRegistryConfig(R"(
mirrors:
  docker.io:
    endpoint:
      - "http://127.0.0.1:5000"
      - "https://mirror.example.com/v2/"
  "*":
    endpoint: ["https://catch-all.example.com/prefix"]
configs:
  "127.0.0.1:5000":
    auth:
      username: tug
      password: secret
  "mirror.example.com":
    auth:
      auth: dXNlcjpwYTpzcw==
    tls:
      ca_file: /etc/tug/ca.pem
      insecure_skip_verify: true
)");
  REQUIRE(c.ok());
  // The seed's postgres:14 resolves to the local mirror on a machine without internet.
  CHECK(Urls(c.value(), "postgres:14") == std::vector<std::string>{"http://127.0.0.1:5000",
                                                                   "https://mirror.example.com",
                                                                   "https://registry-1.docker.io"});
  CHECK(Urls(c.value(), "ghcr.io/org/app") ==
        std::vector<std::string>{"https://catch-all.example.com/prefix", "https://ghcr.io"});
  auto local = c->ConfigFor("127.0.0.1:5000");
  CHECK(local.username == "tug");
  CHECK(local.password == "secret");
  auto mirror = c->ConfigFor("mirror.example.com");
  CHECK(mirror.username == "user");
  CHECK(mirror.password == "pa:ss");  // only the first ':' separates
  CHECK(mirror.ca_file == "/etc/tug/ca.pem");
  CHECK(mirror.insecure_skip_verify);
  CHECK(c->ConfigFor("elsewhere.example.com").username.empty());
}

TEST_CASE("without configuration a registry is reached directly, loopback ones over HTTP",
          "[agent][image]") {
  auto c = ParseRegistryConfig("");
  REQUIRE(c.ok());
  CHECK(Urls(c.value(), "postgres:14") == std::vector<std::string>{"https://registry-1.docker.io"});
  CHECK(Urls(c.value(), "localhost:5000/web") == std::vector<std::string>{"http://localhost:5000"});
  CHECK(Urls(c.value(), "127.0.0.1:5000/web") == std::vector<std::string>{"http://127.0.0.1:5000"});
}

TEST_CASE("a bad registries.yaml is refused, naming the field", "[agent][image]") {
  auto why = [](const std::string& yaml) {
    auto c = ParseRegistryConfig(yaml);
    REQUIRE_FALSE(c.ok());
    return c.status().message();
  };
  CHECK(why("mirrors: [1]") == "mirrors: must be a mapping of registries");
  CHECK(why("mirrors:\n  docker.io:\n    endpoint: http://x") ==
        "mirrors.\"docker.io\".endpoint: must be a list");
  CHECK(why("mirrors:\n  docker.io:\n    endpoint: [\"ftp://x\"]") ==
        "mirrors.\"docker.io\".endpoint[0]: \"ftp://x\": only http:// and https:// endpoints "
        "are supported");
  CHECK(why("configs:\n  h:\n    auth:\n      auth: bm9jb2xvbg==") ==
        "configs.\"h\".auth.auth: must be base64 of user:password");
  CHECK(why("configs:\n  h:\n    tls:\n      insecure_skip_verify: maybe") ==
        "configs.\"h\".tls.insecure_skip_verify: must be true or false");
  CHECK(why("mirror: {}") == "unknown field \"mirror\" (expected mirrors, configs)");
  CHECK(why("mirrors: [").rfind("not YAML: ", 0) == 0);
}

TEST_CASE("registry auth challenges: Bearer with realm, service and scope, and Basic",
          "[agent][image]") {
  auto c =
      ParseChallenge(R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",)"
                     R"(scope="repository:library/postgres:pull")");
  REQUIRE(c.ok());
  CHECK(c->scheme == "bearer");
  CHECK(c->params.at("service") == "registry.docker.io");
  auto url = TokenUrl(c.value());
  REQUIRE(url.ok());
  CHECK(url.value() ==
        "https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Alibrary%"
        "2Fpostgres%3Apull");
  auto other = TokenUrl(c.value(), "repository:team/web:pull");
  REQUIRE(other.ok());
  CHECK(other->find("scope=repository%3Ateam%2Fweb%3Apull") != std::string::npos);

  auto basic = ParseChallenge(R"(Basic realm="Registry Realm", charset=UTF-8)");
  REQUIRE(basic.ok());
  CHECK(basic->scheme == "basic");
  CHECK(basic->params.at("realm") == "Registry Realm");
  CHECK(basic->params.at("charset") == "UTF-8");
  CHECK_FALSE(TokenUrl(basic.value()).ok());

  auto escaped = ParseChallenge(R"(Bearer realm="http://h/t?a=1",scope="a\"b")");
  REQUIRE(escaped.ok());
  CHECK(escaped->params.at("scope") == "a\"b");
  CHECK(TokenUrl(escaped.value()).value() == "http://h/t?a=1&scope=a%22b");

  CHECK_FALSE(ParseChallenge("").ok());
  CHECK(ParseChallenge(R"(Bearer realm="unterminated)").status().message() ==
        "malformed WWW-Authenticate header \"Bearer realm=\"unterminated\": unterminated quoted "
        "value of realm");
  auto no_realm = ParseChallenge(R"(Bearer service="x")");
  REQUIRE(no_realm.ok());
  CHECK(TokenUrl(no_realm.value()).status().message() ==
        "the Bearer challenge names no realm to get a token from");
  auto file_realm = ParseChallenge(R"(Bearer realm="file:///etc/passwd")");
  REQUIRE(file_realm.ok());
  CHECK_FALSE(TokenUrl(file_realm.value()).ok());
}
