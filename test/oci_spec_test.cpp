// The bundle's config.json (agent/runtime/oci_spec.h): compared whole against a golden file,
// and the rules Kubernetes and Docker fix for command, args, env and user.
#include <catch2/catch.hpp>

#include <fstream>

#include "agent/runtime/oci_spec.h"

using namespace tug::agent;
using json = nlohmann::json;

namespace {

OciContainer Example() {
  OciContainer c;
  c.hostname = "web-7d4b9-x2x5q";
  c.rootfs = "/var/lib/tug/pods/p/web/bundle/rootfs";
  c.image_entrypoint = {"/docker-entrypoint.sh"};
  c.image_cmd = {"nginx", "-g", "daemon off;"};
  c.image_env = {"PATH=/usr/local/bin:/usr/bin:/bin", "NGINX_VERSION=1.25", "MODE=image"};
  c.image_working_dir = "/usr/share/nginx";
  c.image_user = "app";
  c.passwd = "root:x:0:0::/root:/bin/sh\napp:x:101:101::/home/app:/sbin/nologin\n";
  c.group = "root:x:0:\napp:x:101:\nwww:x:33:app,other\n";
  c.args = {"nginx", "-g", "daemon off; worker_processes 2;"};
  c.env = {"MODE=pod", "POD_NAME=web-7d4b9-x2x5q"};
  c.mounts = {{"/var/lib/tug/pods/p/.volumes/cache", "/var/cache/nginx", false},
              {"/etc/tug/site", "/usr/share/nginx/html", true}};
  c.netns_path = "/run/netns/tug-p";
  c.memory_limit_bytes = 128 << 20;
  c.cpu_limit_millis = 500;
  c.cpu_request_millis = 250;
  c.pids_limit = 4096;
  c.cgroups_path = "/tug-node-a/default_web_uid_web_0/ctr";
  return c;
}

}  // namespace

TEST_CASE("config.json for a container matches the golden file", "[image][oci]") {
  auto spec = BuildOciSpec(Example());
  REQUIRE(spec.ok());
  std::ifstream in(TUG_SOURCE_DIR "/test/golden/oci_config.json");
  REQUIRE(in.good());
  json golden = json::parse(in);
  INFO("got:\n" << spec->dump(2));
  CHECK(*spec == golden);
}

TEST_CASE("command and args replace Entrypoint and Cmd as Kubernetes does", "[image][oci]") {
  OciContainer c;
  c.image_entrypoint = {"ep"};
  c.image_cmd = {"cmd", "1"};
  CHECK(ContainerArgv(c).value() == std::vector<std::string>{"ep", "cmd", "1"});
  c.args = {"a"};
  CHECK(ContainerArgv(c).value() == std::vector<std::string>{"ep", "a"});
  c.command = {"c"};
  CHECK(ContainerArgv(c).value() == std::vector<std::string>{"c", "a"});
  c.args.clear();
  CHECK(ContainerArgv(c).value() == std::vector<std::string>{"c"});  // the image's Cmd is dropped
  OciContainer none;
  CHECK(!ContainerArgv(none).ok());
}

TEST_CASE("the user comes from runAsUser, else the image, names looked up in its files",
          "[image][oci]") {
  std::string passwd = "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/app:/bin/sh\n";
  std::string group = "app:x:1001:\ngrp:x:2000:app\nother:x:3000:\n";
  auto u = ResolveUser("app", passwd, group, {}, {});
  REQUIRE(u.ok());
  CHECK(u->uid == 1000);
  CHECK(u->gid == 1001);
  CHECK(u->additional_gids == std::vector<uint32_t>{2000});
  u = ResolveUser("1000:other", passwd, group, {}, {});
  REQUIRE(u.ok());
  CHECK(u->gid == 3000);
  u = ResolveUser("4242", passwd, group, {}, {});  // not in passwd: gid 0, as Docker does
  CHECK(u->uid == 4242);
  CHECK(u->gid == 0);
  u = ResolveUser("app", passwd, group, 0, {});  // runAsUser wins
  CHECK(u->uid == 0);
  u = ResolveUser("", passwd, group, {}, 5);
  CHECK(u->gid == 5);
  auto missing = ResolveUser("nobody-here", passwd, group, {}, {});
  REQUIRE(!missing.ok());
  CHECK_THAT(missing.status().message(), Catch::Contains("unable to find user nobody-here"));
}

TEST_CASE("env: the image's, then the pod's in place, PATH and HOSTNAME filled in",
          "[image][oci]") {
  OciContainer c;
  c.hostname = "h";
  c.command = {"x"};
  c.image_env = {"A=1", "B=2"};
  c.env = {"B=pod", "C=3"};
  auto spec = BuildOciSpec(c);
  REQUIRE(spec.ok());
  CHECK((*spec)["process"]["env"] ==
        json({"A=1", "B=pod",
              std::string("PATH=") + "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
              "HOSTNAME=h", "C=3"}));
  c.host_network = true;
  spec = BuildOciSpec(c);
  for (const auto& ns : (*spec)["linux"]["namespaces"])
    CHECK(ns["type"] != "network");
  c.working_dir = "relative";
  CHECK(!BuildOciSpec(c).ok());
}
