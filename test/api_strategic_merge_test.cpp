// Strategic merge patches as kubectl sends them (apply, edit, scale): lists merged by their
// keys, the directives, and the mistakes a patch can make.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "api/strategic_merge.h"

using nlohmann::json;
using tug::api::StrategicMergePatch;

namespace {

json Deployment() {
  return json::parse(R"({
    "metadata": {"name": "web", "labels": {"app": "web", "tier": "fe"}, "finalizers": ["a", "b"]},
    "spec": {"replicas": 3, "template": {"spec": {"containers": [
      {"name": "web", "image": "web:1", "command": ["web", "--port=80"],
       "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 9090, "name": "metrics"}],
       "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
      {"name": "sidecar", "image": "side:1"}]}}}})");
}

json Patch(const json& original, const std::string& patch) {
  auto r = StrategicMergePatch(original, json::parse(patch));
  INFO(patch);
  REQUIRE(r.ok());
  return r.value();
}

const json& Containers(const json& d) {
  return d["spec"]["template"]["spec"]["containers"];
}

}  // namespace

TEST_CASE("containers merge by name: what the patch names changes, the rest stays",
          "[api][patch]") {
  // What `kubectl apply` sends when the image of one container changed.
  json out = Patch(Deployment(), R"({"spec": {"template": {"spec": {
      "$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
      "containers": [{"name": "web", "image": "web:2"}]}}}})");
  REQUIRE(Containers(out).size() == 2);
  CHECK(Containers(out)[0]["image"] == "web:2");
  CHECK(Containers(out)[0]["ports"].size() == 2);  // untouched fields stay
  CHECK(Containers(out)[0]["command"] == json{"web", "--port=80"});
  CHECK(Containers(out)[1] == json{{"name", "sidecar"}, {"image", "side:1"}});
  CHECK(out["spec"]["replicas"] == 3);
}

TEST_CASE("a new element is added, $setElementOrder orders the list", "[api][patch]") {
  json out = Patch(Deployment(), R"({"spec": {"template": {"spec": {
      "$setElementOrder/containers": [{"name": "init"}, {"name": "web"}, {"name": "sidecar"}],
      "containers": [{"name": "init", "image": "init:1"}]}}}})");
  REQUIRE(Containers(out).size() == 3);
  CHECK(Containers(out)[0]["name"] == "init");
  CHECK(Containers(out)[1]["name"] == "web");
  CHECK(Containers(out)[2]["name"] == "sidecar");
}

TEST_CASE("env merges by name, ports by containerPort, and null removes a field", "[api][patch]") {
  json out = Patch(Deployment(), R"({"spec": {"template": {"spec": {"containers": [
      {"name": "web",
       "env": [{"name": "B", "value": "two"}, {"name": "C", "value": "3"}],
       "ports": [{"containerPort": 9090, "name": null, "protocol": "TCP"}]}]}}},
      "metadata": {"labels": {"tier": null}}})");
  const json& web = Containers(out)[0];
  CHECK(web["env"] == json::parse(
                          R"([{"name": "A", "value": "1"}, {"name": "B", "value": "two"},
                              {"name": "C", "value": "3"}])"));
  CHECK(web["ports"] == json::parse(R"([{"containerPort": 80, "name": "http"},
                                        {"containerPort": 9090, "protocol": "TCP"}])"));
  CHECK(out["metadata"]["labels"] == json{{"app", "web"}});
}

TEST_CASE("$patch deletes an element, replaces a list or an object", "[api][patch]") {
  json out = Patch(Deployment(), R"({"spec": {"template": {"spec": {"containers": [
      {"name": "sidecar", "$patch": "delete"}]}}}})");
  REQUIRE(Containers(out).size() == 1);
  CHECK(Containers(out)[0]["name"] == "web");

  out = Patch(Deployment(), R"({"spec": {"template": {"spec": {"containers": [
      {"$patch": "replace"}, {"name": "only", "image": "x"}]}}}})");
  CHECK(Containers(out) == json::parse(R"([{"name": "only", "image": "x"}])"));

  out = Patch(Deployment(), R"({"metadata": {"labels": {"$patch": "replace", "new": "1"}}})");
  CHECK(out["metadata"]["labels"] == json{{"new", "1"}});

  out = Patch(Deployment(), R"({"metadata": {"labels": {"$patch": "delete"}}})");
  CHECK_FALSE(out["metadata"].contains("labels"));
}

TEST_CASE("lists without a merge strategy are replaced, scalar sets merge", "[api][patch]") {
  json out = Patch(Deployment(), R"({"spec": {"template": {"spec": {"containers": [
      {"name": "web", "command": ["web"]}]}}}, "metadata": {"finalizers": ["b", "c"]}})");
  CHECK(Containers(out)[0]["command"] == json{"web"});
  CHECK(out["metadata"]["finalizers"] == json{"a", "b", "c"});
  out = Patch(Deployment(), R"({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}})");
  CHECK(out["metadata"]["finalizers"] == json{"b"});
}

TEST_CASE("$retainKeys keeps only the keys it names", "[api][patch]") {
  json out =
      Patch(Deployment(), R"({"metadata": {"labels": {"$retainKeys": ["app"], "app": "web"}}})");
  CHECK(out["metadata"]["labels"] == json{{"app", "web"}});
}

TEST_CASE("a patch that misuses the strategy is refused with where", "[api][patch]") {
  auto bad = [](const std::string& p) {
    auto r = StrategicMergePatch(Deployment(), json::parse(p));
    REQUIRE_FALSE(r.ok());
    return r.status().message();
  };
  CHECK_THAT(
      bad(R"({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}})"),
      Catch::Contains("spec.template.spec.containers: an element lacks its merge key \"name\""));
  CHECK_THAT(bad(R"({"spec": {"template": {"spec": {"containers": ["x"]}}}})"),
             Catch::Contains("must be an object"));
  CHECK_THAT(bad(R"({"metadata": {"$patch": "explode"}})"),
             Catch::Contains("unknown $patch directive"));
  CHECK_THAT(bad(R"({"metadata": {"$retainKeys": "app"}})"), Catch::Contains("$retainKeys"));
  CHECK_FALSE(StrategicMergePatch(Deployment(), json::array()).ok());
}
