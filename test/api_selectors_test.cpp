// Selectors, Nodes, Events and the table of kinds, on their own.
#include <catch2/catch.hpp>

#include "api/event.h"
#include "api/node.h"
#include "api/resource.h"
#include "api/selector.h"

using nlohmann::json;
using tug::api::FieldSelector;
using tug::api::FieldValue;
using tug::api::LabelSelector;

TEST_CASE("label selectors parse and match as Kubernetes' do", "[api][selector]") {
  json labels = {{"app", "web"}, {"tier", "front"}, {"env", "prod"}};
  struct Case {
    std::string selector;
    bool matches;
  };
  for (const auto& c : std::vector<Case>{
           {"", true},
           {"app=web", true},
           {"app==web", true},
           {"app=db", false},
           {"app!=db", true},
           {"app!=web", false},
           {"missing!=x", true},  // an absent label is "not equal"
           {"app=web,tier=front", true},
           {"app=web,tier=back", false},
           {"env in (prod,staging)", true},
           {"env in (dev)", false},
           {"env notin (dev, staging)", true},
           {"env notin (prod)", false},
           {"app", true},
           {"missing", false},
           {"!missing", true},
           {"!app", false},
           {" app = web , env in ( prod ) ", true},
       }) {
    INFO(c.selector);
    auto s = LabelSelector::Parse(c.selector);
    REQUIRE(s.ok());
    CHECK(s->Matches(labels) == c.matches);
  }
  CHECK(LabelSelector::Parse("app=web")->Matches(json()) == false);
  CHECK(LabelSelector::Parse("!app")->Matches(json()) == true);
  CHECK(LabelSelector::Parse("app=web,env in (a,b),!x")->ToString() == "app=web,env in (a,b),!x");
  CHECK(LabelSelector::FromMatchLabels({{"app", "web"}, {"tier", "db"}}).ToString() ==
        "app=web,tier=db");
}

TEST_CASE("bad label selectors are refused with the reason", "[api][selector]") {
  for (const std::string& bad :
       std::vector<std::string>{"app in web", "app in (a", "app)", "app=web,", "app ~ web", "a b c",
                                "app=we b", "app=" + std::string(64, 'x'), "=web"}) {
    INFO(bad);
    auto s = LabelSelector::Parse(bad);
    REQUIRE_FALSE(s.ok());
    CHECK(s.status().code() == tug::Status::Code::kInvalid);
    CHECK(!s.status().message().empty());
  }
}

TEST_CASE("field selectors compare field values", "[api][selector]") {
  json pod = {{"metadata", {{"name", "web-1"}, {"namespace", "default"}}},
              {"spec", {{"nodeName", "node-a"}, {"unschedulable", false}}},
              {"status", {{"phase", "Running"}}}};
  auto value_of = [&](const std::string& f) { return FieldValue(pod, f); };
  CHECK(FieldValue(pod, "spec.nodeName") == "node-a");
  CHECK(FieldValue(pod, "spec.unschedulable") == "false");
  CHECK(FieldValue(pod, "spec.missing.deeper") == "");
  CHECK(FieldSelector::Parse("spec.nodeName=node-a")->Matches(value_of));
  CHECK(FieldSelector::Parse("spec.nodeName==node-a,status.phase=Running")->Matches(value_of));
  CHECK_FALSE(FieldSelector::Parse("spec.nodeName!=node-a")->Matches(value_of));
  CHECK(FieldSelector::Parse("spec.nodeName!=")->Matches(value_of));
  CHECK_FALSE(FieldSelector::Parse("status.phase=Pending")->Matches(value_of));
  CHECK_FALSE(FieldSelector::Parse("spec.nodeName in (a)").ok());
  CHECK_FALSE(FieldSelector::Parse("spec.nodeName").ok());
}

TEST_CASE("Nodes are validated and read", "[api][node]") {
  json node = {{"metadata", {{"name", "node-a.example"}, {"labels", {{"zone", "a"}}}}},
               {"status",
                {{"capacity", {{"cpu", "4"}, {"memory", "8Gi"}}},
                 {"conditions", {{{"type", "Ready"}, {"status", "True"}}}},
                 {"addresses", {{{"type", "InternalIP"}, {"address", "10.0.0.5"}}}}}}};
  auto r = tug::api::PrepareNode(node);
  INFO(r.status().message());
  REQUIRE(r.ok());
  CHECK(r->at("kind") == "Node");
  CHECK_FALSE(r->at("metadata").contains("namespace"));
  CHECK(r->at("status").at("allocatable") == node["status"]["capacity"]);
  auto info = tug::api::ReadNode(r.value());
  CHECK(info.name == "node-a.example");
  CHECK(info.ready);
  CHECK(info.cpu_allocatable.milli() == 4000);
  CHECK(info.memory_allocatable.milli() == 8LL * 1024 * 1024 * 1024 * 1000);
  CHECK(info.address == "10.0.0.5");
  CHECK(info.labels.at("zone") == "a");

  json bad = node;
  bad["status"]["capacity"]["memory"] = "lots";
  bad["spec"] = {{"unschedulable", "yes"}};
  auto refused = tug::api::PrepareNode(bad);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message().find("status.capacity.memory: Invalid value: lots") !=
        std::string::npos);
  CHECK(refused.status().message().find("spec.unschedulable: Invalid value: yes") !=
        std::string::npos);
  // Reading never throws, whatever a status holds.
  CHECK_NOTHROW(tug::api::ReadNode(json{{"spec", 1}, {"status", {{"conditions", {1, "x"}}}}}));
}

TEST_CASE("Events need an involved object and a reason", "[api][event]") {
  json ev = {{"metadata", {{"name", "web-1.17a"}}},
             {"involvedObject", {{"kind", "Pod"}, {"name", "web-1"}}},
             {"reason", "Scheduled"}};
  auto r = tug::api::PrepareEvent(ev);
  REQUIRE(r.ok());
  CHECK(r->at("type") == "Normal");
  CHECK(r->at("count") == 1);
  CHECK(r->at("metadata").at("namespace") == "default");
  ev.erase("reason");
  ev["type"] = "Bad";
  auto refused = tug::api::PrepareEvent(ev);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message() ==
        "Event \"web-1.17a\" is invalid: [reason: Required value, type: Unsupported value: Bad: "
        "supported values: \"Normal\", \"Warning\"]");
}

TEST_CASE("kinds are found by what people type", "[api][resource]") {
  for (const std::string typed :
       {"deployments", "deployment", "deploy", "Deployment", "deployments.apps", "DEPLOY"}) {
    INFO(typed);
    auto* r = tug::api::ResolveResource(typed);
    REQUIRE(r != nullptr);
    CHECK(r->name == "deployments");
  }
  CHECK(tug::api::ResolveResource("po")->name == "pods");
  CHECK(tug::api::ResolveResource("no")->name == "nodes");
  CHECK(tug::api::ResolveResource("ev")->name == "events");
  CHECK(tug::api::ResolveResource("statefulsets") == nullptr);
  CHECK(tug::api::ResolveResource("pods.apps") == nullptr);
  auto* d = tug::api::FindResource("apps", "deployments");
  REQUIRE(d != nullptr);
  CHECK(d->qualified_name() == "deployments.apps");
  CHECK(d->api_version() == "apps/v1");
  CHECK(d->list_kind() == "DeploymentList");
  CHECK(tug::api::FindResource("", "deployments") == nullptr);
  CHECK(tug::api::ResourceForKind("v1", "Node")->name == "nodes");
  CHECK_FALSE(tug::api::FindResource("", "nodes")->namespaced);
  CHECK(tug::api::FindResource("", "pods")->AllowsField("spec.nodeName"));
  CHECK_FALSE(tug::api::FindResource("", "nodes")->AllowsField("metadata.namespace"));
}
