// The API's error answers: Kubernetes' Status shape, with the causes of a validation error
// split out field by field (kubectl prints them; see kubectl_test.cpp for the real thing).
#include <catch2/catch.hpp>

#include "api/resource.h"
#include "controlplane/reply.h"

using nlohmann::json;
using tug::cp::InvalidCauses;

TEST_CASE("a validation message splits into Kubernetes status causes", "[reply]") {
  auto one = InvalidCauses(
      "Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater "
      "than or equal to 0");
  REQUIRE(one.size() == 1);
  CHECK(one[0] == json{{"reason", "FieldValueInvalid"},
                       {"field", "spec.replicas"},
                       {"message", "Invalid value: -1: must be greater than or equal to 0"}});

  // Several errors, one of whose details holds ", " and ": " itself.
  auto many = InvalidCauses(
      "Deployment.apps \"web\" is invalid: [metadata.name: Required value, "
      "spec.template.spec.containers[0].name: Invalid value: \"a, b: c\": must be a DNS label, "
      "spec.template.spec.containers[1].name: Duplicate value: \"x\"]");
  REQUIRE(many.size() == 3);
  CHECK(many[0] == json{{"reason", "FieldValueRequired"},
                        {"field", "metadata.name"},
                        {"message", "Required value"}});
  CHECK(many[1]["field"] == "spec.template.spec.containers[0].name");
  CHECK(many[1]["message"] == "Invalid value: \"a, b: c\": must be a DNS label");
  CHECK(many[2]["reason"] == "FieldValueDuplicate");
  CHECK(many[2]["message"] == "Duplicate value: \"x\"");

  // Not field by field: no causes (the answer then carries the message alone).
  CHECK(InvalidCauses("Deployment.apps \"web\" is invalid: nested more than 100 levels").empty());
  CHECK(InvalidCauses("something else entirely").empty());
  // A value that fakes errors by the thousand gives no causes, not a reply of them all.
  std::string faked = "Deployment.apps \"web\" is invalid: metadata.labels.x: Invalid value: \"";
  for (int i = 0; i < 5000; ++i)
    faked += ", a: Forbidden";
  CHECK(InvalidCauses(faked + "\": bad").empty());
}

TEST_CASE("a 422 answer carries kind, name and causes, or only the message", "[reply]") {
  const auto* deployments = tug::api::FindResource("apps", "deployments");
  REQUIRE(deployments != nullptr);
  auto r = tug::cp::Invalid(*deployments, "web",
                            "Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: "
                            "-1: must be greater than or equal to 0");
  CHECK(r.code == 422);
  CHECK(r.body["reason"] == "Invalid");
  CHECK(r.body["details"]["kind"] == "Deployment");
  CHECK(r.body["details"]["name"] == "web");
  CHECK(r.body["details"]["causes"].size() == 1);
  auto plain = tug::cp::Invalid(*deployments, "web", "Deployment.apps \"web\" is invalid: odd");
  CHECK(plain.body["message"] == "Deployment.apps \"web\" is invalid: odd");
  CHECK_FALSE(plain.body.contains("details"));
}
