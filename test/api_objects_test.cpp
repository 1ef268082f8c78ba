// The object model on its own: quantities, JSON and YAML documents, Deployment and Pod
// defaults and validation, and unknown fields kept as they came.
#include <catch2/catch.hpp>

#include "api/document.h"
#include "api/quantity.h"
#include "api/workload.h"

using nlohmann::json;
using tug::api::Format;
using tug::api::ParseDocument;
using tug::api::ParseDocuments;
using tug::api::PrepareDeployment;
using tug::api::PreparePod;
using tug::api::Quantity;

TEST_CASE("quantities parse exactly, in milli-units", "[api][quantity]") {
  auto milli = [](const std::string& s) {
    auto q = Quantity::Parse(s);
    INFO(s << ": " << q.status().message());
    REQUIRE(q.ok());
    return q->milli();
  };
  CHECK(milli("500m") == 500);
  CHECK(milli("2") == 2000);
  CHECK(milli("0.5") == 500);
  CHECK(milli("1.5") == 1500);
  CHECK(milli("128Mi") == 128LL * 1024 * 1024 * 1000);
  CHECK(milli("1G") == 1000LL * 1000 * 1000 * 1000);
  CHECK(milli("1Gi") == (1LL << 30) * 1000);
  CHECK(milli("1k") == 1000 * 1000);
  CHECK(milli("1e3") == 1000 * 1000);
  CHECK(milli("0.1m") == 1);  // rounded up, as Kubernetes does
  CHECK(Quantity::Parse("1.5").value().value_ceil() == 2);
  for (const char* bad : {"", "abc", "12Qi", "1.2.3", "m", "99999999999999999999", "1e99"}) {
    auto q = Quantity::Parse(bad);
    INFO(bad);
    CHECK_FALSE(q.ok());
  }
  CHECK_THAT(Quantity::Parse("12Qi").status().message(),
             Catch::Contains("unknown unit") && Catch::Contains("128Mi"));
}

TEST_CASE("YAML and JSON documents become the same JSON values", "[api][document]") {
  auto y = ParseDocument(R"(
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    team: "blue"
spec:
  replicas: 3
  paused: false
  quoted: "3"
  nothing: ~
  ratio: 0.5
  x-custom: {keep: me}
)",
                         "web.yaml");
  REQUIRE(y.ok());
  CHECK(y->at("spec").at("replicas") == 3);
  CHECK(y->at("spec").at("paused") == false);
  CHECK(y->at("spec").at("quoted") == "3");  // quoted stays a string
  CHECK(y->at("spec").at("nothing").is_null());
  CHECK(y->at("spec").at("ratio") == 0.5);
  CHECK(y->at("spec").at("x-custom").at("keep") == "me");
  auto j = ParseDocument(R"({"apiVersion":"apps/v1","spec":{"replicas":3}})", "body");
  REQUIRE(j.ok());
  CHECK(j->at("spec").at("replicas") == 3);
  auto many = ParseDocuments("a: 1\n---\nb: 2\n---\n", "multi.yaml");
  REQUIRE(many.ok());
  CHECK(many->size() == 2);
}

TEST_CASE("plain YAML scalars resolve as the YAML 1.2 core schema says", "[api][document]") {
  auto value = [](const std::string& text) {
    auto d = ParseDocument("v: " + text + "\n", "t.yaml");
    REQUIRE(d.ok());
    return d.value()["v"];
  };
  for (const char* n : {"~", "null", "Null", "NULL"})
    CHECK(value(n).is_null());
  CHECK(value("true") == true);
  CHECK(value("TRUE") == true);
  CHECK(value("False") == false);
  CHECK(value("42") == 42);
  CHECK(value("+42") == 42);
  CHECK(value("-7") == -7);
  CHECK(value("0x1F") == 31);
  CHECK(value("18446744073709551615") == 18446744073709551615ull);
  CHECK(value("1.5") == 1.5);
  CHECK(value(".5") == 0.5);
  CHECK(value("-3.") == -3.0);
  CHECK(value("1e3") == 1000.0);
  CHECK(value("2.5E-1") == 0.25);
  // Not numbers, booleans or nulls: kept as text.
  for (const char* t : {"yes", "on", "tRue", "nil", "1e", "e3", ".", "-", "+", "0x", "0xG", "1.2.3",
                        "12a", "1_000", "1e+", "--1", "0x1F "})
    CHECK(value(std::string("\"") + t + "\"") == t);  // quoted, as the reference
  for (const char* t : {"yes", "on", "tRue", "nil", "1e", "e3", "0xG", "1.2.3", "12a", "1_000"})
    CHECK(value(t) == t);
  CHECK(value("99999999999999999999999") == "99999999999999999999999");  // out of range
  CHECK(value(std::string(100, '9')) == std::string(100, '9'));
}

TEST_CASE("malformed documents name the source, line and column", "[api][document]") {
  auto y = ParseDocument("metadata:\n  name: web\n   bad: indent\n", "web.yaml");
  REQUIRE_FALSE(y.ok());
  CHECK_THAT(y.status().message(),
             Catch::StartsWith("web.yaml:3:") && Catch::Contains("malformed YAML"));
  auto j = ParseDocument("{\n  \"a\": 1,\n  \"b\": \n}", "body", Format::kJson);
  REQUIRE_FALSE(j.ok());
  CHECK_THAT(j.status().message(),
             Catch::StartsWith("body:4:") && Catch::Contains("malformed JSON"));
}

TEST_CASE("a Deployment gets Kubernetes' defaults and keeps unknown fields", "[api][deployment]") {
  json d = json::parse(R"({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "annotations": {"owner": "me"}},
    "spec": {
      "template": {"metadata": {"labels": {"app": "web"}},
                   "spec": {"containers": [{"name": "web", "image": "nginx", "x-extra": 42}]}},
      "someFutureField": "kept"}})");
  auto r = PrepareDeployment(d);
  INFO(r.status().message());
  REQUIRE(r.ok());
  const json& o = r.value();
  CHECK(o["metadata"]["namespace"] == "default");
  CHECK(o["spec"]["replicas"] == 1);
  CHECK(o["spec"]["selector"]["matchLabels"] == json{{"app", "web"}});
  CHECK(o["spec"]["template"]["spec"]["restartPolicy"] == "Always");
  CHECK(o["spec"]["someFutureField"] == "kept");
  CHECK(o["metadata"]["annotations"]["owner"] == "me");
  CHECK(o["spec"]["template"]["spec"]["containers"][0]["x-extra"] == 42);
}

TEST_CASE("the seed's short form is a Deployment with one container", "[api][deployment]") {
  auto doc = ParseDocument(
      "spec:\n    name: web-server\n    replicas: 3\n    image: web-server-image:latest\n", "seed");
  REQUIRE(doc.ok());
  auto r = PrepareDeployment(doc.value());
  INFO(r.status().message());
  REQUIRE(r.ok());
  CHECK(r->at("metadata").at("name") == "web-server");
  CHECK(r->at("spec").at("replicas") == 3);
  CHECK(r->at("spec").at("template").at("spec").at("containers").at(0).at("image") ==
        "web-server-image:latest");
  CHECK(r->at("spec").at("selector").at("matchLabels").at("app") == "web-server");
}

TEST_CASE("invalid Deployments are refused with messages a person can act on",
          "[api][deployment]") {
  auto base = [] {
    return json::parse(R"({
      "metadata": {"name": "web"},
      "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
               "template": {"metadata": {"labels": {"app": "web"}},
                            "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}})");
  };
  auto refused = [](json d) {
    auto r = PrepareDeployment(std::move(d));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == tug::Status::Code::kInvalid);
    return r.status().message();
  };
  REQUIRE(PrepareDeployment(base()).ok());
  json d = base();
  d["metadata"]["name"] = "Web_Server";
  CHECK_THAT(refused(d),
             Catch::StartsWith("Deployment.apps \"Web_Server\" is invalid: metadata.name") &&
                 Catch::Contains("RFC 1123"));
  d = base();
  d["spec"]["replicas"] = -1;
  CHECK_THAT(
      refused(d),
      Catch::Contains("spec.replicas: Invalid value: -1: must be greater than or equal to 0"));
  d = base();
  d["spec"]["selector"]["matchLabels"]["app"] = "other";
  CHECK_THAT(refused(d), Catch::Contains("`selector` does not match template `labels`"));
  d = base();
  d["spec"]["template"]["spec"]["containers"] = json::array();
  CHECK_THAT(refused(d), Catch::Contains("spec.template.spec.containers: Required value"));
  d = base();
  d["spec"]["template"]["spec"]["containers"][0]["resources"] = {
      {"requests", {{"memory", "12Qi"}}}};
  CHECK_THAT(refused(d),
             Catch::Contains("resources.requests.memory") && Catch::Contains("unknown unit"));
  d = base();
  d["spec"]["template"]["spec"]["restartPolicy"] = "Sometimes";
  CHECK_THAT(refused(d), Catch::Contains("Unsupported value: \"Sometimes\""));
  d = base();
  d["metadata"].erase("name");
  d["spec"]["replicas"] = "three";
  // Several problems are reported together.
  CHECK_THAT(refused(d), Catch::Contains("[metadata.name: Required value, spec.replicas"));
}

TEST_CASE("a Pod is validated like a Deployment's template", "[api][pod]") {
  json p = json::parse(R"({"metadata": {"name": "p1"},
    "spec": {"containers": [{"name": "c", "command": ["sleep", "1"], "ports": [{"containerPort": 8080}]}]}})");
  auto r = PreparePod(p);
  INFO(r.status().message());
  REQUIRE(r.ok());
  CHECK(r->at("spec").at("containers").at(0).at("ports").at(0).at("protocol") == "TCP");
  std::vector<std::string> errors;
  auto spec = tug::api::ReadPodSpec(r->at("spec"), "spec", &errors);
  CHECK(errors.empty());
  REQUIRE(spec.containers.size() == 1);
  CHECK(spec.containers[0].command == std::vector<std::string>{"sleep", "1"});
  CHECK(spec.containers[0].ports[0].container_port == 8080);
  p["spec"]["containers"][0]["ports"][0]["containerPort"] = 70000;
  CHECK_THAT(PreparePod(p).status().message(), Catch::Contains("must be between 1 and 65535"));
}

TEST_CASE("documents nested absurdly deep are refused, not recursed into", "[api][document]") {
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  auto r = tug::api::ParseJson(deep, "body");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() == "body: nested more than 100 levels deep");
  CHECK_FALSE(ParseDocuments("{\"a\":" + deep + "}", "body").ok());
  // Brackets inside strings do not count.
  CHECK(tug::api::ParseJson("{\"a\":\"" + std::string(500, '[') + "\"}", "body").ok());
  CHECK(tug::api::ParseJson(std::string(100, '[') + std::string(100, ']'), "body").ok());
}
