// Discovery documents and the Table form, in the shapes kubectl reads.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "api/discovery.h"
#include "api/openapi.h"
#include "api/timestamp.h"

using nlohmann::json;
using namespace tug::api;

namespace {

const json* Find(const json& list, const std::string& name) {
  for (const auto& r : list["resources"])
    if (r["name"] == name) return &r;
  return nullptr;
}

}  // namespace

TEST_CASE("discovery lists every kind with its scope, verbs, short names and subresources",
          "[api][discovery]") {
  CHECK(ApiVersions()["versions"] == json{"v1"});
  json groups = ApiGroupList();
  REQUIRE(groups["groups"].size() == 1);
  CHECK(groups["groups"][0]["name"] == "apps");
  CHECK(groups["groups"][0]["preferredVersion"]["groupVersion"] == "apps/v1");

  json core = ApiResourceList("", "v1");
  CHECK(core["groupVersion"] == "v1");
  const json* pods = Find(core, "pods");
  REQUIRE(pods);
  CHECK((*pods)["kind"] == "Pod");
  CHECK((*pods)["namespaced"] == true);
  CHECK((*pods)["shortNames"] == json{"po"});
  CHECK((*pods)["singularName"] == "pod");
  REQUIRE(Find(core, "pods/status"));
  REQUIRE(Find(core, "pods/log"));
  const json* nodes = Find(core, "nodes");
  REQUIRE(nodes);
  CHECK((*nodes)["namespaced"] == false);
  REQUIRE(Find(core, "events"));

  json apps = ApiResourceList("apps", "v1");
  CHECK(apps["groupVersion"] == "apps/v1");
  const json* scale = Find(apps, "deployments/scale");
  REQUIRE(scale);
  CHECK((*scale)["group"] == "autoscaling");
  CHECK((*scale)["version"] == "v1");
  CHECK((*scale)["kind"] == "Scale");
  CHECK(Find(apps, "deployments")->at("verbs").size() == 7);
  CHECK(ApiResourceList("batch", "v1").is_null());
}

TEST_CASE("the Table form is chosen as kubectl's Accept header asks", "[api][discovery]") {
  CHECK(
      WantsTable("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;"
                 "v=v1beta1;g=meta.k8s.io,application/json"));
  CHECK_FALSE(WantsTable("application/json"));
  CHECK_FALSE(WantsTable(""));
  CHECK_FALSE(WantsTable("application/json, application/json;as=Table;v=v1;g=meta.k8s.io"));
  CHECK_FALSE(WantsTable("application/json;as=Table;v=v1beta1;g=meta.k8s.io"));
}

TEST_CASE("a Table has get's columns, -o wide's at priority 1, and a row per object",
          "[api][discovery]") {
  int64_t now = *ParseRfc3339("2026-11-27T12:00:00Z");
  json d = {
      {"metadata",
       {{"name", "web"}, {"namespace", "default"}, {"creationTimestamp", "2026-11-27T11:59:00Z"}}},
      {"spec",
       {{"replicas", 3},
        {"template", {{"spec", {{"containers", {{{"name", "w"}, {"image", "i"}}}}}}}}}},
      {"status", {{"readyReplicas", 2}, {"updatedReplicas", 3}, {"availableReplicas", 2}}}};
  json t = ToTable(*ResolveResource("deployments"), {d}, "42", "", now);
  CHECK(t["kind"] == "Table");
  CHECK(t["apiVersion"] == "meta.k8s.io/v1");
  CHECK(t["metadata"]["resourceVersion"] == "42");
  std::vector<std::string> names;
  std::vector<int> priorities;
  for (const auto& c : t["columnDefinitions"]) {
    names.push_back(c["name"]);
    priorities.push_back(c["priority"]);
  }
  CHECK(names == std::vector<std::string>{"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE",
                                          "CONTAINERS", "IMAGES", "SELECTOR"});
  CHECK(priorities == std::vector<int>{0, 0, 0, 0, 0, 1, 1, 1});
  REQUIRE(t["rows"].size() == 1);
  CHECK(t["rows"][0]["cells"] == json{"web", "2/3", "3", "2", "60s", "w", "i", "<none>"});
  CHECK(t["rows"][0]["object"]["kind"] == "PartialObjectMetadata");
  CHECK(t["rows"][0]["object"]["metadata"]["namespace"] == "default");
  CHECK(ToTable(*ResolveResource("deployments"), {d}, "", "Object", now)["rows"][0]["object"] == d);
  CHECK_FALSE(
      ToTable(*ResolveResource("deployments"), {d}, "", "None", now)["rows"][0].contains("object"));
}

TEST_CASE("the OpenAPI documents tell kubectl that the server validates fields",
          "[api][discovery]") {
  json index = tug::api::OpenApiIndex();
  REQUIRE(index["paths"].contains("apis/apps/v1"));
  REQUIRE(index["paths"].contains("api/v1"));
  std::string url = index["paths"]["apis/apps/v1"]["serverRelativeURL"];
  CHECK(url.rfind("/openapi/v3/apis/apps/v1?hash=", 0) == 0);

  json doc = tug::api::OpenApiDocument("apis/apps/v1");
  REQUIRE(doc.is_object());
  // As kubectl's query-parameter verifier looks: a PATCH of the kind with fieldValidation.
  const json& patch =
      doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
  CHECK(patch["x-kubernetes-group-version-kind"] ==
        json{{"group", "apps"}, {"version", "v1"}, {"kind", "Deployment"}});
  bool field_validation = false;
  for (const auto& p : patch["parameters"])
    field_validation = field_validation || (p["name"] == "fieldValidation" && p["in"] == "query");
  CHECK(field_validation);
  CHECK(tug::api::OpenApiDocument("api/v1")["paths"].contains("/api/v1/nodes/{name}"));
  CHECK(tug::api::OpenApiDocument("apis/batch/v1").is_null());
}
