// What tugctl prints, without a cluster: tables and describe text against golden files (the
// exact text a kubectl user would see), YAML output, apply's patches, where the server and
// token come from, and how command lines are read. Set TUG_UPDATE_GOLDEN=1 to rewrite the
// golden files after a deliberate change, and read the diff.
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "api/apply_patch.h"
#include "api/document.h"
#include "api/printers.h"
#include "api/table.h"
#include "api/timestamp.h"
#include "cmd/tugctl/ctl.h"
#include "cmd/tugctl/describe.h"
#include "cmd/tugctl/get.h"
#include "cmd/tugctl/manifest.h"
#include "cmd/tugctl/rollout.h"
#include "cmd/tugctl/selection.h"

using json = nlohmann::json;
using namespace tug;

namespace {

const int64_t kNow = *api::ParseRfc3339("2026-11-27T12:00:00Z");

std::string Ago(int64_t seconds) {
  return api::FormatRfc3339(kNow - seconds);
}

void CheckGolden(const std::string& name, const std::string& actual) {
  std::string path = std::string(TUG_GOLDEN_DIR) + "/" + name;
  if (std::getenv("TUG_UPDATE_GOLDEN")) {
    std::ofstream(path) << actual;
    return;
  }
  std::ifstream in(path);
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  INFO("golden file " << path);
  CHECK(actual == ss.str());
}

json RunningPod() {
  return {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", "web-7d4b9c8f6d-2xk9p"},
        {"namespace", "default"},
        {"uid", "u1"},
        {"creationTimestamp", Ago(3 * 3600 + 125)},
        {"labels", {{"app", "web"}, {"pod-template-hash", "7d4b9c8f6d"}}},
        {"ownerReferences", {{{"kind", "Deployment"}, {"name", "web"}}}}}},
      {"spec",
       {{"nodeName", "node-a"},
        {"containers",
         {{{"name", "web"},
           {"image", "web-server:1.0"},
           {"command", {"/usr/bin/web-server", "--port", "$(PORT)"}},
           {"ports", {{{"name", "http"}, {"containerPort", 8080}, {"protocol", "TCP"}}}},
           {"env", {{{"name", "GREETING"}, {"value", "hello"}}}},
           {"resources", {{"requests", {{"cpu", "100m"}, {"memory", "64Mi"}}}}},
           {"livenessProbe",
            {{"httpGet", {{"path", "/healthz"}, {"port", 8080}}}, {"periodSeconds", 5}}},
           {"readinessProbe", {{"tcpSocket", {{"port", 8080}}}}}}}}}},
      {"status",
       {{"phase", "Running"},
        {"hostIP", "10.0.0.11"},
        {"podIP", "10.0.0.11"},
        {"startTime", Ago(3 * 3600 + 120)},
        {"conditions",
         {{{"type", "Initialized"}, {"status", "True"}},
          {{"type", "ContainersReady"}, {"status", "True"}},
          {{"type", "Ready"}, {"status", "True"}}}},
        {"containerStatuses",
         {{{"name", "web"},
           {"ready", true},
           {"restartCount", 2},
           {"containerID", "process://4242"},
           {"state", {{"running", {{"startedAt", Ago(300)}}}}},
           {"lastState",
            {{"terminated", {{"exitCode", 137}, {"reason", "Error"}, {"finishedAt", Ago(301)}}}}},
           {"ports",
            {{{"name", "http"},
              {"containerPort", 8080},
              {"hostPort", 31080},
              {"protocol", "TCP"}}}}}}}}}};
}

json PodWith(const std::string& name, const std::string& phase, const json& state, int restarts = 0,
             const std::string& node = "node-b") {
  json p = {
      {"metadata",
       {{"name", name}, {"namespace", "shop"}, {"creationTimestamp", Ago(86400 * 2 + 3600 * 5)}}},
      {"spec", {{"containers", {{{"name", "main"}, {"image", "x"}}}}}},
      {"status", {{"phase", phase}}}};
  if (!node.empty()) p["spec"]["nodeName"] = node;
  if (!state.is_null())
    p["status"]["containerStatuses"] = {
        {{"name", "main"}, {"ready", false}, {"restartCount", restarts}, {"state", state}}};
  return p;
}

std::vector<json> Pods() {
  json lost = PodWith("db-0", "Failed", json::object());
  lost["status"]["reason"] = "NodeLost";
  lost["status"].erase("containerStatuses");
  return {
      RunningPod(),
      PodWith("api-5c8d-abcde", "Running",
              {{"waiting", {{"reason", "CrashLoopBackOff"}, {"message", "back-off 40s"}}}}, 4),
      PodWith("batch-1", "Succeeded", {{"terminated", {{"exitCode", 0}, {"reason", "Completed"}}}}),
      PodWith("mem-hog", "Running", {{"terminated", {{"exitCode", 137}, {"reason", "OOMKilled"}}}},
              1),
      PodWith("queued", "Pending", json(), 0, ""),
      lost};
}

std::vector<json> Deployments() {
  return {
      {{"metadata", {{"name", "web"}, {"namespace", "default"}, {"creationTimestamp", Ago(45)}}},
       {"spec",
        {{"replicas", 3},
         {"selector", {{"matchLabels", {{"app", "web"}}}}},
         {"template",
          {{"metadata", {{"labels", {{"app", "web"}}}}},
           {"spec", {{"containers", {{{"name", "web"}, {"image", "web-server:1.0"}}}}}}}}}},
       {"status",
        {{"replicas", 3}, {"updatedReplicas", 3}, {"readyReplicas", 3}, {"availableReplicas", 3}}}},
      {{"metadata",
        {{"name", "database"}, {"namespace", "default"}, {"creationTimestamp", Ago(400)}}},
       {"spec",
        {{"replicas", 1},
         {"selector", {{"matchLabels", {{"app", "database"}, {"tier", "data"}}}}},
         {"template",
          {{"spec",
            {{"containers",
              {{{"name", "db"}, {"image", "postgres:16"}},
               {{"name", "backup"}, {"image", "pgbackup"}}}}}}}}}},
       {"status", {{"replicas", 1}, {"updatedReplicas", 1}}}}};
}

std::vector<json> Nodes() {
  return {
      {{"metadata",
        {{"name", "node-a"},
         {"creationTimestamp", Ago(86400 * 40)},
         {"labels", {{"kubernetes.io/hostname", "node-a"}, {"node-role.kubernetes.io/edge", ""}}}}},
       {"spec", json::object()},
       {"status",
        {{"conditions",
          {{{"type", "Ready"},
            {"status", "True"},
            {"reason", "KubeletReady"},
            {"message", "tug-agent is posting ready status"},
            {"lastHeartbeatTime", Ago(1)},
            {"lastTransitionTime", Ago(86400 * 40)}}}},
         {"addresses",
          {{{"type", "InternalIP"}, {"address", "10.0.0.11"}},
           {{"type", "Hostname"}, {"address", "node-a"}}}},
         {"capacity", {{"cpu", "4"}, {"memory", "8Gi"}}},
         {"allocatable", {{"cpu", "4"}, {"memory", "8Gi"}}},
         {"daemonEndpoints", {{"agentAddr", "10.0.0.11:7301"}}},
         {"nodeInfo",
          {{"kubeletVersion", "tug-agent 0.1.0"},
           {"operatingSystem", "linux"},
           {"containerRuntimeVersion", "process://"}}}}}},
      {{"metadata", {{"name", "node-b"}, {"creationTimestamp", Ago(3600 * 9)}}},
       {"spec", {{"unschedulable", true}}},
       {"status",
        {{"conditions", {{{"type", "Ready"}, {"status", "False"}, {"reason", "NodeLost"}}}}}}}};
}

std::vector<json> Events() {
  return {{{"metadata", {{"name", "web-7d4b9c8f6d-2xk9p.1"}, {"namespace", "default"}}},
           {"involvedObject",
            {{"kind", "Pod"}, {"name", "web-7d4b9c8f6d-2xk9p"}, {"namespace", "default"}}},
           {"type", "Normal"},
           {"reason", "Scheduled"},
           {"message", "Successfully assigned default/web-7d4b9c8f6d-2xk9p to node-a"},
           {"source", {{"component", "default-scheduler"}}},
           {"count", 1},
           {"firstTimestamp", Ago(3 * 3600 + 125)},
           {"lastTimestamp", Ago(3 * 3600 + 125)}},
          {{"metadata", {{"name", "web-7d4b9c8f6d-2xk9p.2"}, {"namespace", "default"}}},
           {"involvedObject",
            {{"kind", "Pod"}, {"name", "web-7d4b9c8f6d-2xk9p"}, {"namespace", "default"}}},
           {"type", "Warning"},
           {"reason", "BackOff"},
           {"message", "Back-off restarting failed container web"},
           {"source", {{"component", "tug-agent"}, {"host", "node-a"}}},
           {"count", 2},
           {"firstTimestamp", Ago(900)},
           {"lastTimestamp", Ago(301)}}};
}

const api::ResourceInfo& R(const char* name) {
  return *api::ResolveResource(name);
}

// A NodePort Service and its Endpoints (two ready replicas, one not ready), and a ClusterIP one.
std::vector<json> Services() {
  return {{{"apiVersion", "v1"},
           {"kind", "Service"},
           {"metadata",
            {{"name", "web"},
             {"namespace", "default"},
             {"uid", "s1"},
             {"creationTimestamp", Ago(600)},
             {"labels", {{"app", "web"}}}}},
           {"spec",
            {{"type", "NodePort"},
             {"selector", {{"app", "web"}}},
             {"clusterIP", "10.96.37.20"},
             {"clusterIPs", {"10.96.37.20"}},
             {"ipFamilyPolicy", "SingleStack"},
             {"sessionAffinity", "None"},
             {"externalTrafficPolicy", "Cluster"},
             {"ports",
              {{{"name", "http"},
                {"port", 80},
                {"targetPort", "http"},
                {"nodePort", 30080},
                {"protocol", "TCP"}}}}}}},
          {{"apiVersion", "v1"},
           {"kind", "Service"},
           {"metadata",
            {{"name", "database"}, {"namespace", "default"}, {"creationTimestamp", Ago(7200)}}},
           {"spec",
            {{"type", "ClusterIP"},
             {"selector", {{"app", "database"}}},
             {"clusterIP", "10.96.0.12"},
             {"sessionAffinity", "ClientIP"},
             {"ports", {{{"port", 6379}, {"targetPort", 6379}, {"protocol", "TCP"}}}}}}}};
}

json WebEndpoints() {
  return {
      {"apiVersion", "v1"},
      {"kind", "Endpoints"},
      {"metadata", {{"name", "web"}, {"namespace", "default"}, {"creationTimestamp", Ago(600)}}},
      {"subsets",
       {{{"addresses",
          {{{"ip", "10.244.0.2"}, {"nodeName", "node-a"}},
           {{"ip", "10.244.1.2"}, {"nodeName", "node-b"}},
           {{"ip", "10.244.1.3"}, {"nodeName", "node-b"}},
           {{"ip", "10.244.2.2"}, {"nodeName", "node-c"}}}},
         {"notReadyAddresses", {{{"ip", "10.244.2.3"}}}},
         {"ports", {{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}}}}}}}};
}

std::string Table(const char* kind, const std::vector<json>& objs, api::PrintOptions po) {
  po.now = kNow;
  return ctl::RenderObjects(R(kind), objs, po.wide ? "wide" : "", po, true);
}

}  // namespace

TEST_CASE("get prints kubectl's tables", "[cli][golden]") {
  CheckGolden("get_pods.txt", Table("pods", Pods(), {}));
  CheckGolden("get_pods_wide.txt", Table("pods", Pods(), {.wide = true}));
  CheckGolden("get_pods_all_namespaces.txt", Table("pods", Pods(), {.with_namespace = true}));
  CheckGolden("get_deployments.txt", Table("deployments", Deployments(), {}));
  CheckGolden("get_deployments_wide.txt", Table("deployments", Deployments(), {.wide = true}));
  CheckGolden("get_nodes.txt", Table("nodes", Nodes(), {}));
  CheckGolden("get_nodes_wide.txt", Table("nodes", Nodes(), {.wide = true}));
  CheckGolden("get_events.txt", Table("events", Events(), {}));
  CheckGolden("get_events_wide.txt", Table("events", Events(), {.wide = true}));
  CheckGolden("get_labels.txt", Table("deployments", Deployments(), {.show_labels = true}));
  CheckGolden("get_services.txt", Table("services", Services(), {.wide = true}));
  CheckGolden("get_endpoints.txt", Table("endpoints", {WebEndpoints()}, {}));
  // --no-headers: the rows aligned among themselves, not by the header row.
  api::PrintOptions po;
  po.now = kNow;
  CHECK(ctl::RenderObjects(R("deployments"), Deployments(), "", po, false) ==
        "web        3/3   3     3     45s\n"
        "database   0/1   1     0     6m40s\n");
  CHECK(ctl::RenderObjects(R("deployments"), Deployments(), "name", po, true) ==
        "deployment.apps/web\ndeployment.apps/database\n");
}

TEST_CASE("describe lays objects out as kubectl does", "[cli][golden]") {
  CheckGolden("describe_pod.txt", ctl::DescribeObject(R("pods"), RunningPod(), Events(), {}, kNow));
  CheckGolden("describe_deployment.txt",
              ctl::DescribeObject(R("deployments"), Deployments()[0], {}, {RunningPod()}, kNow));
  CheckGolden("describe_service.txt",
              ctl::DescribeObject(R("services"), Services()[0], {}, {WebEndpoints()}, kNow));
  CheckGolden("describe_node.txt",
              ctl::DescribeObject(R("nodes"), Nodes()[0], {}, {RunningPod()}, kNow));
}

TEST_CASE("a pod's STATUS column says what kubectl's says", "[cli]") {
  auto pods = Pods();
  CHECK(api::PodStatusText(pods[0]) == "Running");
  CHECK(api::PodStatusText(pods[1]) == "CrashLoopBackOff");
  CHECK(api::PodStatusText(pods[2]) == "Completed");
  CHECK(api::PodStatusText(pods[3]) == "OOMKilled");
  CHECK(api::PodStatusText(pods[4]) == "Pending");
  CHECK(api::PodStatusText(pods[5]) == "NodeLost");
  json terminating = pods[0];
  terminating["metadata"]["deletionTimestamp"] = Ago(1);
  CHECK(api::PodStatusText(terminating) == "Terminating");
  json signal = PodWith("s", "Running", {{"terminated", {{"exitCode", 0}, {"signal", 9}}}});
  CHECK(api::PodStatusText(signal) == "Signal:9");
  json code = PodWith("c", "Running", {{"terminated", {{"exitCode", 3}}}});
  CHECK(api::PodStatusText(code) == "ExitCode:3");
}

TEST_CASE("the tab writer aligns column blocks as Go's does", "[cli]") {
  // Lines without a column end its block: the next block is aligned on its own.
  CHECK(api::TabWrite("a:\tx\nlonger:\ty\nbreak\nb:\tz\n", 0, 2) ==
        "a:       x\nlonger:  y\nbreak\nb:  z\n");
  // A line with more cells opens a nested block for the extra column.
  CHECK(api::TabWrite("k\tv\n\tlong-value\tz\nkk\tv\n", 0, 1) == "k  v\n   long-value z\nkk v\n");
  CHECK(api::TabWrite("", 0, 2).empty());
}

TEST_CASE("get -o yaml reads back as the same object", "[cli]") {
  std::vector<json> samples = {RunningPod(), Deployments()[1], Nodes()[0], Events()[1],
                               json{{"tricky",
                                     {"",
                                      " lead",
                                      "trail ",
                                      "yes",
                                      "No",
                                      "null",
                                      "~",
                                      "123",
                                      "1.5",
                                      "0x1F",
                                      "1e3",
                                      "-",
                                      "- x",
                                      "a: b",
                                      "#c",
                                      "x #y",
                                      "multi\nline",
                                      "tab\tin",
                                      "quote\"d",
                                      "colon:",
                                      "ünï",
                                      "@at",
                                      "*star",
                                      "&amp",
                                      "!bang",
                                      "%pct",
                                      "{b}",
                                      "[l]",
                                      "2026-11-27T12:00:00Z",
                                      ".5",
                                      "+1",
                                      "on",
                                      "true"}},
                                    {"numbers", {0, -1, 2.5, 1e300}},
                                    {"nested", {{{1, 2}, json::array()}, json::object(), nullptr}},
                                    {"empty", {{"o", json::object()}, {"a", json::array()}}},
                                    {"a key: with colon", true}}};
  for (const auto& v : samples) {
    std::string y = api::ToYaml(v);
    INFO(y);
    auto back = api::ParseDocument(y, "out.yaml", api::Format::kYaml);
    REQUIRE(back.ok());
    CHECK(back.value() == v);
  }
  CHECK(api::ToYaml(json{{"spec", {{"containers", {{{"name", "web"}, {"image", "nginx"}}}}}}}) ==
        "spec:\n  containers:\n  - image: nginx\n    name: web\n");
}

TEST_CASE("apply's patch sets what the file says and removes what it no longer says",
          "[cli][apply]") {
  json applied_before = {
      {"metadata", {{"name", "web"}, {"labels", {{"app", "web"}, {"tier", "fe"}}}}},
      {"spec", {{"replicas", 3}, {"paused", false}}}};
  json current = applied_before;
  current["metadata"]["uid"] = "u";
  current["metadata"]["labels"]["added-by-someone"] = "x";
  current["spec"]["revisionHistoryLimit"] = 10;  // a default
  current["status"] = {{"replicas", 3}};
  json desired = {{"metadata", {{"name", "web"}, {"labels", {{"app", "web"}}}}},
                  {"spec", {{"replicas", 5}}}};
  json patch = api::ThreeWayMergePatch(applied_before, desired, current);
  CHECK(patch == json{{"metadata", {{"labels", {{"tier", nullptr}}}}},
                      {"spec", {{"replicas", 5}, {"paused", nullptr}}}});
  // Once patched, nothing is left to do, whatever else the object holds.
  json after = current;
  after.merge_patch(patch);
  CHECK(api::ThreeWayMergePatch(desired, desired, after).empty());
  CHECK(after["metadata"]["labels"] == json{{"app", "web"}, {"added-by-someone", "x"}});
  CHECK(after["spec"]["revisionHistoryLimit"] == 10);
  // No record of an earlier apply: nothing is removed.
  CHECK(api::ThreeWayMergePatch(nullptr, desired, current) == json{{"spec", {{"replicas", 5}}}});
  // The annotation carries the file without itself and without status.
  json with = api::WithLastApplied(json{{"metadata", {{"name", "w"}}}, {"status", {{"x", 1}}}});
  CHECK(!with.contains("status"));
  CHECK(api::LastApplied(with) == json{{"metadata", {{"name", "w"}}}});
  CHECK(api::LastApplied(
            json{{"metadata", {{"annotations", {{api::kLastAppliedAnnotation, "[1]"}}}}}})
            .is_null());
}

TEST_CASE("server, token and namespace: flag, then environment, then config file", "[cli]") {
  std::string dir = "/tmp/tugctl_cfg_" + std::to_string(::getpid());
  std::system(("mkdir -p " + dir + "/.tug").c_str());
  std::ofstream(dir + "/token-a") << "token-from-file\n";
  std::ofstream(dir + "/.tug/config")
      << "server:\n  - http://10.0.0.1:7101\n  - http://10.0.0.2:7101\n"
      << "token-file: " << dir << "/token-a\nnamespace: team\n";
  std::map<std::string, std::string> env = {{"HOME", dir}};
  auto getenv = [&](const char* k) -> std::optional<std::string> {
    auto it = env.find(k);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  ctl::GlobalFlags flags;
  auto t = ctl::ResolveTarget(flags, getenv);
  REQUIRE(t.ok());
  CHECK(t.value().servers == std::vector<std::string>{"10.0.0.1:7101", "10.0.0.2:7101"});
  CHECK(t.value().token == "token-from-file");
  CHECK(t.value().ns == "team");
  CHECK_FALSE(t.value().ns_from_flag);

  env["TUG_SERVER"] = "http://10.9.9.9:7101";
  env["TUG_TOKEN"] = "token-from-env";
  t = ctl::ResolveTarget(flags, getenv);
  REQUIRE(t.ok());
  CHECK(t.value().servers == std::vector<std::string>{"10.9.9.9:7101"});
  CHECK(t.value().token == "token-from-env");

  std::ofstream(dir + "/token-b") << "token-from-flag";
  flags.server = "127.0.0.1:7101,127.0.0.1:7102";
  flags.token_file = dir + "/token-b";
  flags.ns = "other";
  t = ctl::ResolveTarget(flags, getenv);
  REQUIRE(t.ok());
  CHECK(t.value().servers == std::vector<std::string>{"127.0.0.1:7101", "127.0.0.1:7102"});
  CHECK(t.value().token == "token-from-flag");
  CHECK(t.value().ns == "other");
  CHECK(t.value().ns_from_flag);

  // Nothing anywhere: the local default.
  env.clear();
  t = ctl::ResolveTarget(ctl::GlobalFlags{}, getenv);
  REQUIRE(t.ok());
  CHECK(t.value().servers == std::vector<std::string>{"127.0.0.1:7101"});
  CHECK(t.value().token.empty());
  CHECK(t.value().ns == "default");

  // Mistakes name the file.
  std::ofstream(dir + "/bad") << "server: [unclosed\n";
  flags = {};
  flags.config = dir + "/bad";
  t = ctl::ResolveTarget(flags, getenv);
  REQUIRE_FALSE(t.ok());
  CHECK_THAT(t.status().message(), Catch::Contains(dir + "/bad:"));
  std::ofstream(dir + "/unknown") << "sever: http://x\n";
  flags.config = dir + "/unknown";
  t = ctl::ResolveTarget(flags, getenv);
  REQUIRE_FALSE(t.ok());
  CHECK_THAT(t.status().message(), Catch::Contains("unknown setting \"sever\""));
  flags.config = dir + "/absent";
  CHECK_FALSE(ctl::ResolveTarget(flags, getenv).ok());
  flags = {};
  flags.token_file = dir + "/absent-token";
  t = ctl::ResolveTarget(flags, getenv);
  REQUIRE_FALSE(t.ok());
  CHECK_THAT(t.status().message(), Catch::Contains("absent-token"));
  // An https:// URL is kubectl's endpoint, not tugctl's: said so, not tried.
  flags = {};
  flags.server = "http://127.0.0.1:7101,https://127.0.0.1:7443";
  t = ctl::ResolveTarget(flags, getenv);
  REQUIRE_FALSE(t.ok());
  CHECK_THAT(t.status().message(),
             Catch::Contains("https://127.0.0.1:7443") && Catch::Contains("plain HTTP"));
  std::system(("rm -rf " + dir).c_str());
}

TEST_CASE("resource names on the command line are read as kubectl reads them", "[cli]") {
  auto s = ctl::ParseSelection({"deploy", "web", "db"});
  REQUIRE(s.ok());
  REQUIRE(s.value().size() == 1);
  CHECK(s.value()[0].resource->name == "deployments");
  CHECK(s.value()[0].names == std::vector<std::string>{"web", "db"});
  s = ctl::ParseSelection({"po,deployments.apps"});
  REQUIRE(s.ok());
  REQUIRE(s.value().size() == 2);
  CHECK(s.value()[1].resource->name == "deployments");
  s = ctl::ParseSelection({"deploy/web", "pod/a", "pod/b"});
  REQUIRE(s.ok());
  REQUIRE(s.value().size() == 2);
  CHECK(s.value()[1].names == std::vector<std::string>{"a", "b"});
  s = ctl::ParseSelection({"foos"});
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(s.status().message(),
             Catch::StartsWith("the server doesn't have a resource type \"foos\""));
  CHECK_FALSE(ctl::ParseSelection({}).ok());
  CHECK_FALSE(ctl::ParseSelection({"po,deploy", "x"}).ok());
  CHECK_FALSE(ctl::ParseSelection({"deploy/web", "x"}).ok());
  CHECK_FALSE(ctl::ParseSelection({"deploy/"}).ok());
  CHECK_FALSE(ctl::ParseSelection({"po,", "x"}).ok());
  // Names go into URL paths: nothing that would change the path is let through.
  for (const char* bad : {"", "web?x", "a#b", "a%2Fb", "a b"}) {
    auto r = ctl::ParseSelection({"deploy", bad});
    INFO(bad);
    CHECK_FALSE(r.ok());
  }
  CHECK_FALSE(ctl::ParseSelection({"deploy/web?x"}).ok());
}

TEST_CASE("rollout status reads a deployment's progress", "[cli]") {
  json d = Deployments()[0];
  d["metadata"]["generation"] = 2;
  d["status"]["observedGeneration"] = 1;
  CHECK(ctl::RolloutStatus(d).message == "Waiting for deployment spec update to be observed...");
  d["status"]["observedGeneration"] = 2;
  d["status"]["updatedReplicas"] = 1;
  CHECK(ctl::RolloutStatus(d).message ==
        "Waiting for deployment \"web\" rollout to finish: 1 out of 3 new replicas have been "
        "updated...");
  d["status"]["updatedReplicas"] = 3;
  d["status"]["replicas"] = 4;
  CHECK(ctl::RolloutStatus(d).message ==
        "Waiting for deployment \"web\" rollout to finish: 1 old replicas are pending "
        "termination...");
  d["status"]["replicas"] = 3;
  d["status"]["availableReplicas"] = 2;
  CHECK(
      ctl::RolloutStatus(d).message ==
      "Waiting for deployment \"web\" rollout to finish: 2 of 3 updated replicas are available...");
  CHECK_FALSE(ctl::RolloutStatus(d).done);
  d["status"]["availableReplicas"] = 3;
  CHECK(ctl::RolloutStatus(d).done);
  CHECK(ctl::RolloutStatus(d).message == "deployment \"web\" successfully rolled out");
}

TEST_CASE("durations are read as kubectl's flags read them", "[cli]") {
  CHECK(ctl::ParseDuration("30s").value().count() == 30000);
  CHECK(ctl::ParseDuration("5m").value().count() == 300000);
  CHECK(ctl::ParseDuration("250ms").value().count() == 250);
  CHECK(ctl::ParseDuration("2").value().count() == 2000);
  CHECK(ctl::ParseDuration("0").value().count() == 0);
  CHECK(ctl::ParseDuration("1h30m").value().count() == 5400000);
  CHECK(ctl::ParseDuration("2m5s").value().count() == 125000);
  CHECK(ctl::ParseDuration("0s").value().count() == 0);
  CHECK_FALSE(ctl::ParseDuration("5m3").ok());
  CHECK_FALSE(ctl::ParseDuration("-5s").ok());
  CHECK_FALSE(ctl::ParseDuration("soon").ok());
  CHECK_FALSE(ctl::ParseDuration("5x").ok());
  CHECK_FALSE(ctl::ParseDuration("").ok());
  CHECK_FALSE(ctl::ParseDuration("99999999999s").ok());
}

TEST_CASE("apply -f reads files, directories and stdin, every document checked first", "[cli]") {
  std::string dir = "/tmp/tugctl_manifests_" + std::to_string(::getpid());
  REQUIRE(std::system(("rm -rf " + dir + " && mkdir -p " + dir + "/sub").c_str()) == 0);
  std::ofstream(dir + "/a.yaml")
      << "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
         "spec: {replicas: 1}\n---\n---\nspec:\n  name: db\n  image: postgres\n";
  std::ofstream(dir + "/b.json")
      << R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ops"}})";
  std::ofstream(dir + "/notes.txt") << "not a manifest: [";
  std::ofstream(dir + "/sub/c.yml") << "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n";
  std::istringstream no_stdin;

  auto objs = ctl::ReadManifests({dir}, false, "team", false, no_stdin);
  REQUIRE(objs.ok());
  REQUIRE(objs.value().size() == 3);
  CHECK(objs.value()[0].name == "web");
  CHECK(objs.value()[0].ns == "team");
  CHECK(objs.value()[0].object["metadata"]["namespace"] == "team");
  CHECK(objs.value()[1].name == "db");  // the short form, expanded
  CHECK(objs.value()[1].resource->name == "deployments");
  CHECK(objs.value()[1].object["spec"]["template"]["spec"]["containers"][0]["image"] == "postgres");
  CHECK(objs.value()[2].resource->name == "pods");
  CHECK(objs.value()[2].ns == "ops");  // its own namespace wins over a default
  CHECK(objs.value()[2].source == dir + "/b.json");

  objs = ctl::ReadManifests({dir}, true, "default", false, no_stdin);
  REQUIRE(objs.ok());
  REQUIRE(objs.value().size() == 4);
  CHECK(objs.value()[3].resource->name == "nodes");
  CHECK(objs.value()[3].ns.empty());

  // An explicit namespace that differs from the object's own is refused, as in kubectl.
  auto clash = ctl::ReadManifests({dir + "/b.json"}, false, "team", true, no_stdin);
  REQUIRE_FALSE(clash.ok());
  CHECK_THAT(clash.status().message(), Catch::Contains("does not match the namespace \"team\""));

  // stdin, and a List (what `get -o yaml` prints) stands for its items.
  std::istringstream in(
      "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: x}\n"
      "- apiVersion: v1\n  kind: Pod\n  metadata: {name: y}\n");
  objs = ctl::ReadManifests({"-"}, false, "default", false, in);
  REQUIRE(objs.ok());
  REQUIRE(objs.value().size() == 2);
  CHECK(objs.value()[1].name == "y");
  CHECK(objs.value()[1].source == "stdin items[1]");

  std::ofstream(dir + "/empty.yaml") << "# nothing\n";
  auto empty = ctl::ReadManifests({dir + "/empty.yaml"}, false, "default", false, no_stdin);
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.status().message() == "no objects in " + dir + "/empty.yaml");
  REQUIRE_FALSE(ctl::ReadManifests({}, false, "default", false, no_stdin).ok());
  std::system(("rm -rf " + dir).c_str());
}
