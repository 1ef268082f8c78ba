// Pulls (agent/image/image_store.h) from a real registry (Debian's docker-registry on
// loopback), and from scripted servers where a test needs a registry that misbehaves or hands
// out bearer tokens: a real registry would not lie about a digest.
#include <catch2/catch.hpp>

#include <crypt.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "agent/image/image_store.h"
#include "base/command.h"
#include "test/support/oci_builder.h"
#include "test/support/registry_process.h"
#include "test/support/scripted_http_server.h"
#include "test/support/temp_dir.h"

using namespace tug::agent::image;
using namespace tug::testing;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

#define REQUIRE_ROOT()                                                                    \
  if (::geteuid() != 0) {                                                                 \
    WARN("skipped: unpacking layers (ownership, whiteouts) needs root; CI runs as root"); \
    return;                                                                               \
  }
#define REQUIRE_REGISTRY()                                                              \
  if (!HaveRegistry()) {                                                                \
    WARN("skipped: no /usr/bin/docker-registry (scripts/install-deps.sh installs it)"); \
    return;                                                                             \
  }

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::unique_ptr<ImageStore> OpenStore(const std::string& dir, const std::string& yaml = "") {
  auto config = ParseRegistryConfig(yaml);
  REQUIRE(config.ok());
  auto s = ImageStore::Open(dir + "/images", *config, NewNetworkTransport());
  REQUIRE(s.ok());
  auto store = std::move(s).value();
  store->set_idle_timeout(std::chrono::milliseconds(3000));
  return store;
}

BuiltImage AppImage(const std::string& greeting, bool docker = false) {
  ImageOptions o;
  o.docker_media_types = docker;
  o.config = {{"Entrypoint", {"/bin/app"}},
              {"Cmd", {"--serve"}},
              {"Env", {"A=1"}},
              {"WorkingDir", "/srv"},
              {"User", "1000"}};
  return BuildImage({MakeTar({Dir("bin"), File("bin/app", "app", 0755), Dir("srv")}),
                     MakeTar({File("srv/greeting", greeting)})},
                    o);
}

size_t FilesUnder(const std::string& dir) {
  size_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec))
    n += it->is_regular_file() ? 1 : 0;
  return n;
}

// A registry of one image, scripted: what it serves can be changed per request.
struct FakeRegistry {
  BuiltImage image;
  std::string repo = "app";
  std::function<std::string(const ScriptedRequest&)> blob_override;  // may return "" to pass
  std::unique_ptr<ScriptedHttpServer> server;

  explicit FakeRegistry(BuiltImage img) : image(std::move(img)) {
    server = std::make_unique<ScriptedHttpServer>([this](const ScriptedRequest& r) {
      if (r.target == "/v2/" + repo + "/manifests/1" ||
          r.target == "/v2/" + repo + "/manifests/" + image.manifest_digest)
        return ScriptedHttpServer::Response(200, image.manifest,
                                            {{"Content-Type", image.manifest_type}});
      std::string prefix = "/v2/" + repo + "/blobs/";
      if (r.target.rfind(prefix, 0) == 0) {
        if (blob_override) {
          std::string o = blob_override(r);
          if (!o.empty()) return o;
        }
        auto it = image.blobs.find(r.target.substr(prefix.size()));
        if (it != image.blobs.end()) return ScriptedHttpServer::Response(200, it->second);
      }
      return ScriptedHttpServer::Response(404, R"({"errors":[{"code":"NOT_FOUND"}]})");
    });
  }
  std::string Ref() const { return server->HostPort() + "/" + repo + ":1"; }
};

}  // namespace

TEST_CASE("an image is pulled from a real registry, unpacked, and not fetched again",
          "[image][registry]") {
  REQUIRE_ROOT();
  REQUIRE_REGISTRY();
  RegistryProcess registry;
  INFO(registry.Log());
  REQUIRE(registry.ready());
  TempDir dir{"tug-pull"};
  auto store = OpenStore(dir.path);

  for (bool docker : {false, true}) {
    INFO((docker ? "Docker v2 media types" : "OCI media types"));
    std::string repo = docker ? "team/app-docker" : "team/app";
    const std::string greeting = docker ? "hello, docker" : "hello";
    auto img = AppImage(greeting, docker);
    REQUIRE(PushImage(registry.HostPort(), repo, "1", img).ok());
    std::string ref = registry.HostPort() + "/" + repo + ":1";

    auto r = store->Pull(ref, PullPolicy::kIfNotPresent);
    INFO((r.ok() ? "" : r.status().message()));
    REQUIRE(r.ok());
    CHECK(r->pulled);
    CHECK(r->fetched_bytes > 0);
    CHECK(r->image.digest == img.manifest_digest);
    CHECK(r->image.config_digest == img.config_digest);
    CHECK(r->image.ImageId() == registry.HostPort() + "/" + repo + "@" + img.manifest_digest);
    CHECK(r->image.config.entrypoint == std::vector<std::string>{"/bin/app"});
    CHECK(r->image.config.cmd == std::vector<std::string>{"--serve"});
    CHECK(r->image.config.working_dir == "/srv");
    CHECK(r->image.config.user == "1000");
    REQUIRE(r->image.layer_dirs.size() == 2);
    CHECK(Slurp(r->image.layer_dirs[0] + "/bin/app") == "app");
    CHECK(Slurp(r->image.layer_dirs[1] + "/srv/greeting") == greeting);

    // Present: IfNotPresent does not ask the registry; Always asks, finds the same digest,
    // and downloads nothing; by digest it is the same image.
    auto again = store->Pull(ref, PullPolicy::kIfNotPresent);
    REQUIRE(again.ok());
    CHECK(!again->pulled);
    auto always = store->Pull(ref, PullPolicy::kAlways);
    REQUIRE(always.ok());
    CHECK(!always->pulled);
    CHECK(always->fetched_bytes == 0);
    auto by_digest = store->Pull(registry.HostPort() + "/" + repo + "@" + img.manifest_digest,
                                 PullPolicy::kIfNotPresent);
    INFO((by_digest.ok() ? "" : by_digest.status().message()));
    REQUIRE(by_digest.ok());
    CHECK(by_digest->image.layer_dirs == r->image.layer_dirs);
  }

  // The tag moves: Always fetches the new image, sharing the unchanged bottom layer.
  auto v2 = AppImage("hello again");
  REQUIRE(PushImage(registry.HostPort(), "team/app", "1", v2).ok());
  auto moved = store->Pull(registry.HostPort() + "/team/app:1", PullPolicy::kAlways);
  REQUIRE(moved.ok());
  CHECK(moved->pulled);
  CHECK(moved->image.digest == v2.manifest_digest);
  CHECK(Slurp(moved->image.layer_dirs[1] + "/srv/greeting") == "hello again");
  CHECK(moved->fetched_bytes < static_cast<int64_t>(v2.blobs.at(v2.layer_digests[0]).size() +
                                                    v2.blobs.at(v2.layer_digests[1]).size() +
                                                    v2.blobs.at(v2.config_digest).size()));
}

TEST_CASE("an index is resolved to linux/amd64 and a mirror stands in for Docker Hub",
          "[image][registry]") {
  REQUIRE_ROOT();
  REQUIRE_REGISTRY();
  RegistryProcess registry;
  REQUIRE(registry.ready());
  auto amd = AppImage("amd64");
  auto arm = AppImage("arm64");
  for (const auto* img : {&amd, &arm})
    REQUIRE(PushImage(registry.HostPort(), "library/web", img->manifest_digest, *img).ok());
  for (bool docker : {false, true}) {
    std::string index = BuildIndex({{&arm, "linux/arm64"}, {&amd, "linux/amd64"}}, docker);
    REQUIRE(PushManifest(registry.HostPort(), "library/web", docker ? "list" : "index",
                         docker ? "application/vnd.docker.distribution.manifest.list.v2+json"
                                : "application/vnd.oci.image.index.v1+json",
                         index)
                .ok());
  }
  TempDir dir{"tug-pull"};
  // `web:index` is docker.io/library/web:index, which this machine could not reach; the
  // mirror has it.
  auto store = OpenStore(
      dir.path, "mirrors:\n  docker.io:\n    endpoint: [\"http://" + registry.HostPort() + "\"]\n");
  for (const char* tag : {"index", "list"}) {
    auto r = store->Pull(std::string("web:") + tag, PullPolicy::kAlways);
    INFO((r.ok() ? "" : r.status().message()));
    REQUIRE(r.ok());
    CHECK(r->image.name == std::string("docker.io/library/web:") + tag);
    CHECK(r->image.digest == amd.manifest_digest);
    CHECK(Slurp(r->image.layer_dirs[1] + "/srv/greeting") == "amd64");
  }
  // An image the mirror lacks: the error names every endpoint tried.
  auto missing = store->Pull("nothere:1", PullPolicy::kIfNotPresent);
  REQUIRE(!missing.ok());
  CHECK_THAT(missing.status().message(),
             Catch::Contains(registry.HostPort()) && Catch::Contains("registry-1.docker.io"));
}

TEST_CASE("a blob that is not what its digest says is refused and nothing of it is kept",
          "[image]") {
  REQUIRE_ROOT();
  FakeRegistry fake(AppImage("x"));
  const std::string bad_layer = fake.image.layer_digests[1];
  fake.blob_override = [&](const ScriptedRequest& r) -> std::string {
    if (r.target.find(bad_layer) != std::string::npos)
      return ScriptedHttpServer::Response(200,
                                          std::string(fake.image.blobs.at(bad_layer).size(), 'z'));
    return "";
  };
  TempDir dir{"tug-pull"};
  auto store = OpenStore(dir.path);
  auto r = store->Pull(fake.Ref(), PullPolicy::kIfNotPresent);
  REQUIRE(!r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains(bad_layer));
  CHECK(!store->content().Has(bad_layer));
  CHECK(!store->Find(fake.Ref()));
  CHECK(FilesUnder(dir.path + "/images/ingest") == 0);
  CHECK(FilesUnder(dir.path + "/images/layers/tmp") == 0);
}

TEST_CASE("a registry that hangs up mid-blob fails the pull, and the next pull completes",
          "[image]") {
  REQUIRE_ROOT();
  FakeRegistry fake(AppImage("x"));
  const std::string layer = fake.image.layer_digests[0];
  bool cut = true;
  fake.blob_override = [&](const ScriptedRequest& r) -> std::string {
    if (!cut || r.target.find(layer) == std::string::npos) return "";
    std::string full = ScriptedHttpServer::Response(200, fake.image.blobs.at(layer));
    return full.substr(0, full.size() - 10);  // the connection closes 10 bytes short
  };
  TempDir dir{"tug-pull"};
  auto store = OpenStore(dir.path);
  auto r = store->Pull(fake.Ref(), PullPolicy::kIfNotPresent);
  REQUIRE(!r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains(layer));
  CHECK(!store->content().Has(layer));
  CHECK(FilesUnder(dir.path + "/images/ingest") == 0);
  cut = false;
  auto again = store->Pull(fake.Ref(), PullPolicy::kIfNotPresent);
  INFO((again.ok() ? "" : again.status().message()));
  REQUIRE(again.ok());
  CHECK(again->pulled);
}

TEST_CASE("a config whose diff_ids do not match the layers is refused", "[image]") {
  REQUIRE_ROOT();
  ImageOptions o;
  o.diff_ids_override = {Sha256("not the layer")};
  FakeRegistry fake(BuildImage({MakeTar({File("a", "1")})}, o));
  TempDir dir{"tug-pull"};
  auto store = OpenStore(dir.path);
  auto r = store->Pull(fake.Ref(), PullPolicy::kIfNotPresent);
  REQUIRE(!r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains(o.diff_ids_override[0]));
  CHECK(FilesUnder(dir.path + "/images/layers") == 0);
  CHECK(!store->Find(fake.Ref()));
}

TEST_CASE("a manifest asked for by digest must hash to it", "[image]") {
  REQUIRE_ROOT();
  FakeRegistry fake(AppImage("x"));
  TempDir dir{"tug-pull"};
  auto store = OpenStore(dir.path);
  std::string wrong = Sha256("another manifest");
  fake.image.manifest_digest = wrong;  // the server now serves the manifest under this digest
  auto r = store->Pull(fake.server->HostPort() + "/app@" + wrong, PullPolicy::kIfNotPresent);
  REQUIRE(!r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains(wrong));
}

TEST_CASE("a bearer-token challenge is answered, and a redirect to storage carries no token",
          "[image]") {
  REQUIRE_ROOT();
  auto img = AppImage("secret");
  std::string token_scope;
  int storage_with_auth = 0;
  ScriptedHttpServer storage([&](const ScriptedRequest& r) {
    if (r.headers.count("authorization")) ++storage_with_auth;
    std::string digest = r.target.substr(r.target.rfind('/') + 1);
    auto it = img.blobs.find(digest);
    return it == img.blobs.end() ? ScriptedHttpServer::Response(404, "")
                                 : ScriptedHttpServer::Response(200, it->second);
  });
  std::unique_ptr<ScriptedHttpServer> registry;
  registry = std::make_unique<ScriptedHttpServer>([&](const ScriptedRequest& r) {
    if (r.target.rfind("/token?", 0) == 0) {
      token_scope = r.target;
      if (r.Header("authorization") != "Basic " + std::string("dTpw"))  // u:p
        return ScriptedHttpServer::Response(401, R"({"errors":[{"code":"UNAUTHORIZED"}]})");
      return ScriptedHttpServer::Response(200, R"({"token":"tok-123","expires_in":300})");
    }
    if (r.Header("authorization") != "Bearer tok-123")
      return ScriptedHttpServer::Response(
          401, R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})",
          {{"WWW-Authenticate",
            "Bearer realm=\"" + registry->Url() + "/token\",service=\"test-registry\""}});
    if (r.target == "/v2/private/app/manifests/1")
      return ScriptedHttpServer::Response(200, img.manifest, {{"Content-Type", img.manifest_type}});
    if (r.target.rfind("/v2/private/app/blobs/", 0) == 0)
      return ScriptedHttpServer::Response(
          307, "",
          {{"Location", storage.Url() + "/bucket/" + r.target.substr(r.target.rfind('/') + 1)}});
    return ScriptedHttpServer::Response(404, "");
  });
  TempDir dir{"tug-pull"};
  std::string host = registry->HostPort();
  {
    // Without credentials the token server refuses, and the error says so.
    auto store = OpenStore(dir.path + "/a");
    auto r = store->Pull(host + "/private/app:1", PullPolicy::kIfNotPresent);
    REQUIRE(!r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains("UNAUTHORIZED"));
  }
  auto store = OpenStore(dir.path + "/b",
                         "configs:\n  \"" + host + "\":\n    auth: {username: u, password: p}\n");
  auto r = store->Pull(host + "/private/app:1", PullPolicy::kIfNotPresent);
  INFO((r.ok() ? "" : r.status().message()));
  REQUIRE(r.ok());
  CHECK(Slurp(r->image.layer_dirs[1] + "/srv/greeting") == "secret");
  CHECK_THAT(token_scope, Catch::Contains("service=test-registry") &&
                              Catch::Contains("scope=repository%3Aprivate%2Fapp%3Apull"));
  CHECK(storage_with_auth == 0);
  CHECK(storage.Count("/bucket/" + img.layer_digests[0]) == 1);
}

TEST_CASE("basic authentication is sent when the registry asks for it", "[image]") {
  REQUIRE_ROOT();
  FakeRegistry fake(AppImage("x"));
  auto inner = std::move(fake.server);
  ScriptedHttpServer guarded([&](const ScriptedRequest& r) {
    if (r.Header("authorization") != "Basic dTpw")
      return ScriptedHttpServer::Response(401, "", {{"WWW-Authenticate", "Basic realm=\"reg\""}});
    // Forward to the fake registry's handler by asking it directly.
    tug::net::HttpClient c({inner->HostPort()});
    auto a = c.Get(r.target);
    if (!a.ok()) return ScriptedHttpServer::Response(502, "");
    std::map<std::string, std::string> h;
    if (a->headers.count("content-type")) h["Content-Type"] = a->headers.at("content-type");
    return ScriptedHttpServer::Response(a->status, a->body, h);
  });
  TempDir dir{"tug-pull"};
  std::string ref = guarded.HostPort() + "/app:1";
  auto anonymous = OpenStore(dir.path + "/a")->Pull(ref, PullPolicy::kIfNotPresent);
  REQUIRE(!anonymous.ok());
  CHECK_THAT(anonymous.status().message(), Catch::Contains("username and password"));
  auto store = OpenStore(dir.path + "/b", "configs:\n  \"" + guarded.HostPort() +
                                              "\":\n    auth: {username: u, password: p}\n");
  auto r = store->Pull(ref, PullPolicy::kIfNotPresent);
  INFO((r.ok() ? "" : r.status().message()));
  REQUIRE(r.ok());
}

TEST_CASE("two pulls of one image at once download it once", "[image]") {
  REQUIRE_ROOT();
  FakeRegistry fake(AppImage("x"));
  TempDir dir{"tug-pull"};
  auto store = OpenStore(dir.path);
  tug::Result<PullOutcome> a = tug::Status::Error("not run"), b = tug::Status::Error("not run");
  std::thread t1([&] { a = store->Pull(fake.Ref(), PullPolicy::kAlways); });
  std::thread t2([&] { b = store->Pull(fake.Ref(), PullPolicy::kAlways); });
  t1.join();
  t2.join();
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->image.layer_dirs == b->image.layer_dirs);
  for (const auto& d : fake.image.layer_digests)
    CHECK(fake.server->Count("/v2/app/blobs/" + d) == 1);
  CHECK(fake.server->Count("/v2/app/blobs/" + fake.image.config_digest) == 1);
}

TEST_CASE("pull policies: Never uses only what is here, and the defaults follow the tag",
          "[image]") {
  CHECK(DefaultPullPolicy("busybox") == PullPolicy::kAlways);
  CHECK(DefaultPullPolicy("busybox:latest") == PullPolicy::kAlways);
  CHECK(DefaultPullPolicy("busybox:1.36") == PullPolicy::kIfNotPresent);
  CHECK(DefaultPullPolicy("busybox@sha256:" + std::string(64, 'a')) == PullPolicy::kIfNotPresent);
  CHECK(ParsePullPolicy("", "x:1").value() == PullPolicy::kIfNotPresent);
  auto bad = ParsePullPolicy("Sometimes", "x");
  REQUIRE(!bad.ok());
  CHECK_THAT(bad.status().message(), Catch::Contains("\"Always\", \"IfNotPresent\", \"Never\""));

  REQUIRE_ROOT();
  FakeRegistry fake(AppImage("x"));
  TempDir dir{"tug-pull"};
  auto store = OpenStore(dir.path);
  auto never = store->Pull(fake.Ref(), PullPolicy::kNever);
  REQUIRE(!never.ok());
  CHECK(never.status().code() == tug::Status::Code::kNotFound);
  CHECK_THAT(never.status().message(), Catch::Contains("is not present with pull policy of Never"));
  REQUIRE(store->Pull(fake.Ref(), PullPolicy::kIfNotPresent).ok());
  auto now = store->Pull(fake.Ref(), PullPolicy::kNever);
  REQUIRE(now.ok());
  CHECK(!now->pulled);

  auto invalid = store->Pull("UPPER/Case:1", PullPolicy::kIfNotPresent);
  REQUIRE(!invalid.ok());
  CHECK(invalid.status().code() == tug::Status::Code::kInvalid);
}

TEST_CASE("image garbage collection removes unused images, oldest first, never one in use",
          "[image]") {
  // The plan alone.
  std::vector<GcCandidate> c = {{"old-in-use", 100, 1, true},
                                {"old", 100, 2, false},
                                {"mid", 100, 3, false},
                                {"new", 100, 4, false}};
  CHECK(PlanImageGc(c, 150) == std::vector<std::string>{"old", "mid"});
  CHECK(PlanImageGc(c, 0).empty());
  CHECK(PlanImageGc(c, 10000) == std::vector<std::string>{"old", "mid", "new"});

  REQUIRE_ROOT();
  FakeRegistry a(AppImage("a"));
  FakeRegistry b(BuildImage({MakeTar({File("only-b", "b")})}));
  TempDir dir{"tug-pull"};
  auto store = OpenStore(dir.path);
  auto pa = store->Pull(a.Ref(), PullPolicy::kIfNotPresent);
  auto pb = store->Pull(b.Ref(), PullPolicy::kIfNotPresent);
  REQUIRE(pa.ok());
  REQUIRE(pb.ok());
  // Below the high-water mark nothing happens.
  store->set_disk_usage([] { return std::pair<int64_t, int64_t>{1000, 200}; });  // 80% used
  CHECK(store->CollectGarbage({}, 85, 80).empty());
  // Above it, the image not in use goes, with its blobs and layers; the one in use stays.
  store->set_disk_usage([] { return std::pair<int64_t, int64_t>{1000, 100}; });  // 90% used
  auto removed = store->CollectGarbage({pa->image.name}, 85, 80);
  CHECK(removed == std::vector<std::string>{pb->image.name});
  CHECK(store->Find(a.Ref()));
  CHECK(!store->Find(b.Ref()));
  CHECK(!fs::exists(pb->image.layer_dirs[0]));
  CHECK(!store->content().Has(b.image.layer_digests[0]));
  CHECK(fs::exists(pa->image.layer_dirs[0]));
  CHECK(store->content().Has(a.image.layer_digests[0]));
}

namespace {

// A CA and a certificate for 127.0.0.1 it signs, made with the openssl command.
struct TestCa {
  std::string ca, cert, key;
  explicit TestCa(const std::string& dir)
      : ca(dir + "/ca.crt"), cert(dir + "/server.crt"), key(dir + "/server.key") {
    std::ofstream(dir + "/san.cnf") << "subjectAltName=IP:127.0.0.1\n";
    for (const std::vector<std::string>& step : std::vector<std::vector<std::string>>{
             {"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
              "/CN=tug test CA", "-keyout", dir + "/ca.key", "-out", ca},
             {"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
              "-keyout", key, "-out", dir + "/server.csr"},
             {"openssl", "x509", "-req", "-in", dir + "/server.csr", "-CA", ca, "-CAkey",
              dir + "/ca.key", "-CAcreateserial", "-days", "1", "-extfile", dir + "/san.cnf",
              "-out", cert}}) {
      auto s = tug::RunChecked(step);
      INFO(s.message());
      REQUIRE(s.ok());
    }
  }
};

// An htpasswd line as the registry reads it (bcrypt, as `htpasswd -B` writes).
std::string HtpasswdLine(const std::string& user, const std::string& password) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  REQUIRE(crypt_gensalt_rn("$2b$", 5, nullptr, 0, salt, sizeof salt) != nullptr);
  crypt_data data{};
  const char* hash = crypt_r(password.c_str(), salt, &data);
  REQUIRE(hash != nullptr);
  return user + ":" + hash + "\n";
}

}  // namespace

TEST_CASE(
    "a real registry over HTTPS with basic auth: the configured CA and credentials pull, a "
    "wrong password, an unknown CA or plain HTTP do not, insecure_skip_verify does",
    "[image]") {
  REQUIRE_ROOT();
  REQUIRE_REGISTRY();
  TempDir dir{"tug-pull-tls"};
  TestCa ca(dir.path);
  std::ofstream(dir.path + "/htpasswd") << HtpasswdLine("puller", "s3cret");
  // Pushed through a plain registry; served by a second one on the same storage.
  fs::create_directories(dir.path + "/storage");
  RegistryProcess plain({dir.path + "/storage", "", "", ""});
  REQUIRE(plain.ready());
  REQUIRE(PushImage(plain.HostPort(), "app", "1", AppImage("over tls")).ok());
  RegistryProcess secure({dir.path + "/storage", ca.cert, ca.key, dir.path + "/htpasswd"});
  INFO(secure.Log());
  REQUIRE(secure.ready());
  const std::string host = secure.HostPort();
  // The registry is reached as a mirror of a name that resolves nowhere, so that nothing
  // but the configured endpoint can answer.
  auto config = [&](const std::string& scheme, const std::string& tls, const std::string& pw) {
    return "mirrors:\n  registry.invalid:\n    endpoint: [\"" + scheme + "://" + host +
           "\"]\nconfigs:\n  \"" + host + "\":\n    auth: {username: puller, password: " + pw +
           "}\n" + (tls.empty() ? "" : "    tls: {" + tls + "}\n");
  };
  const std::string ref = "registry.invalid/app:1";
  int n = 0;
  auto pull = [&](const std::string& yaml) {
    return OpenStore(dir.path + "/store" + std::to_string(n++), yaml)
        ->Pull(ref, PullPolicy::kAlways);
  };

  auto ok = pull(config("https", "ca_file: " + ca.ca, "s3cret"));
  INFO((ok.ok() ? "" : ok.status().message()));
  REQUIRE(ok.ok());
  CHECK(ok->pulled);
  CHECK(ok->image.config.entrypoint == std::vector<std::string>{"/bin/app"});

  auto wrong_password = pull(config("https", "ca_file: " + ca.ca, "guess"));
  REQUIRE(!wrong_password.ok());
  CHECK_THAT(wrong_password.status().message(), Catch::Contains("401") ||
                                                    Catch::Contains("unauthorized") ||
                                                    Catch::Contains("username and password"));

  auto unknown_ca = pull(config("https", "", "s3cret"));
  REQUIRE(!unknown_ca.ok());
  CHECK_THAT(unknown_ca.status().message(), Catch::Contains("certificate"));

  auto plain_http = pull(config("http", "", "s3cret"));
  REQUIRE(!plain_http.ok());

  auto skip = pull(config("https", "insecure_skip_verify: true", "s3cret"));
  INFO((skip.ok() ? "" : skip.status().message()));
  CHECK(skip.ok());
}
