// tugctl against a real three-member control plane (and a real agent where pods must run):
// every verb as a user types it, failover between servers and a cluster that cannot be
// reached, where the server and token come from, and bad input, which must give one clear
// line, exit code 1, and change nothing.
#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "api/document.h"
#include "test/support/agent_fleet.h"
#include "test/support/programs.h"
#include "test/support/run_command.h"
#include "test/support/tugd_cluster.h"

using nlohmann::json;
using tug::net::HttpClient;
using tug::testing::AgentFleet;
using tug::testing::BackgroundCommand;
using tug::testing::Cells;
using tug::testing::CommandOptions;
using tug::testing::CommandResult;
using tug::testing::FreePort;
using tug::testing::GetJson;
using tug::testing::Lines;
using tug::testing::RunCommand;
using tug::testing::TugdCluster;
using tug::testing::WaitFor;
using tug::testing::WriteFile;
using namespace std::chrono_literals;

namespace {

std::string ServerList(const TugdCluster& c) {
  std::string s;
  for (const auto& a : c.Apis())
    s += (s.empty() ? "" : ",") + std::string("http://") + a;
  return s;
}

// Runs tugctl as a user would, pointed at `c` through TUG_SERVER and TUG_TOKEN, with a HOME
// of its own (so no config file of the machine's user is read).
CommandResult Tugctl(const TugdCluster& c, std::vector<std::string> args, CommandOptions o = {}) {
  args.insert(args.begin(), tug::testing::Program("tugctl"));
  o.env.emplace("TUG_SERVER", ServerList(c));
  o.env.emplace("TUG_TOKEN", c.Token());
  o.env.emplace("HOME", c.Root());
  o.env.emplace("TUG_CONFIG", std::nullopt);
  return RunCommand(args, o);
}

std::string Describe(const std::vector<std::string>& args, const CommandResult& r) {
  std::string cmd = "tugctl";
  for (const auto& a : args)
    cmd += " " + a;
  return cmd + "\nexit " + std::to_string(r.exit_code) + "\n--- stdout\n" + r.out + "--- stderr\n" +
         r.err;
}

std::string WebYaml(int replicas, const std::string& extra_label = "") {
  return "apiVersion: apps/v1\n"
         "kind: Deployment\n"
         "metadata:\n"
         "  name: web\n"
         "  labels:\n"
         "    app: web\n" +
         (extra_label.empty() ? "" : "    " + extra_label + "\n") +
         "spec:\n"
         "  replicas: " +
         std::to_string(replicas) +
         "\n"
         "  selector:\n"
         "    matchLabels: {app: web}\n"
         "  template:\n"
         "    metadata:\n"
         "      labels: {app: web}\n"
         "    spec:\n"
         "      terminationGracePeriodSeconds: 2\n"
         "      containers:\n"
         "      - name: web\n"
         "        command: [/bin/sh, -c, 'echo \"hello from $$POD_NAME\"; exec sleep 100000']\n"
         "        ports: [{name: http, containerPort: 8080}]\n"
         "        readinessProbe: {exec: {command: [\"true\"]}, periodSeconds: 1}\n";
}

}  // namespace

TEST_CASE("every tugctl verb against a real three-member cluster", "[cli][integration]") {
  TugdCluster c;
  c.StartAll();
  REQUIRE(c.WaitLeader() >= 0);
  AgentFleet fleet(c);
  fleet.Start("node-a");
  HttpClient api(c.Apis(), c.Token());
  REQUIRE(WaitFor([&] { return GetJson(api, "/api/v1/nodes/node-a").is_object(); }, 30s));
  const std::string file = c.Root() + "/web.yaml";
  WriteFile(file, WebYaml(2));
  auto run = [&](std::vector<std::string> args, CommandOptions o = {}) {
    auto r = Tugctl(c, args, o);
    UNSCOPED_INFO(Describe(args, r));
    return r;
  };

  // version and cluster status
  auto r = run({"version"});
  REQUIRE(r.exit_code == 0);
  auto v = Lines(r.out);
  REQUIRE(v.size() == 2);
  CHECK(v[0].rfind("Client Version: v", 0) == 0);
  CHECK(v[1] == "Server Version: " + v[0].substr(std::string("Client Version: ").size()));

  r = run({"cluster", "status", "-o", "json"});
  REQUIRE(r.exit_code == 0);
  json cs = json::parse(r.out);
  REQUIRE(cs["members"].size() == 3);
  CHECK(cs["leader"] == c.Name(c.Leader()));
  int leaders = 0;
  for (const auto& m : cs["members"]) {
    CHECK(m["health"] == "healthy");
    CHECK(m["term"] == cs["term"]);
    if (m["role"] == "leader") ++leaders;
  }
  CHECK(leaders == 1);
  r = run({"cluster", "status"});
  REQUIRE(r.exit_code == 0);
  auto cl = Lines(r.out);
  REQUIRE(cl.size() == 5);
  CHECK(cl[0].rfind("Leader: " + c.Name(c.Leader()) + " (term ", 0) == 0);
  CHECK(Cells(cl[1]) == std::vector<std::string>{"MEMBER", "ENDPOINT", "ROLE", "TERM", "COMMIT",
                                                 "APPLIED", "HEALTH"});

  // apply: created, then unchanged
  r = run({"apply", "-f", file});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "deployment.apps/web created\n");
  CHECK(r.err.empty());
  r = run({"apply", "-f", file});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "deployment.apps/web unchanged\n");
  {
    CommandOptions in;
    in.stdin_text = WebYaml(2);
    r = run({"apply", "-f", "-"}, in);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out == "deployment.apps/web unchanged\n");
  }

  // rollout status waits until both replicas run and are ready
  r = run({"rollout", "status", "deployment", "web", "--timeout", "90s"});
  REQUIRE(r.exit_code == 0);
  CHECK(Lines(r.out).back() == "deployment \"web\" successfully rolled out");

  // get, in every form
  r = run({"get", "deployments"});
  REQUIRE(r.exit_code == 0);
  auto lines = Lines(r.out);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "NAME   READY   UP-TO-DATE   AVAILABLE   AGE");
  CHECK(std::regex_match(lines[1], std::regex(R"(web    2/2     2            2           \d+s)")));

  r = run({"get", "pods", "-o=wide", "-l=app=web"});
  REQUIRE(r.exit_code == 0);
  lines = Lines(r.out);
  REQUIRE(lines.size() == 3);
  CHECK(Cells(lines[0]) == std::vector<std::string>{"NAME", "READY", "STATUS", "RESTARTS", "AGE",
                                                    "IP", "NODE", "PORTS"});
  std::vector<std::string> pod_names;
  for (size_t i = 1; i < lines.size(); ++i) {
    auto cells = Cells(lines[i]);
    REQUIRE(cells.size() == 8);
    pod_names.push_back(cells[0]);
    CHECK(cells[0].rfind("web-", 0) == 0);
    CHECK(cells[1] == "1/1");
    CHECK(cells[2] == "Running");
    CHECK(cells[3] == "0");
    CHECK(cells[6] == "node-a");
    CHECK(std::regex_match(cells[7], std::regex(R"(\d+->8080/TCP)")));
  }
  r = run({"get", "pods", "-l", "app=nothing"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.empty());
  CHECK(r.err == "No resources found in default namespace.\n");

  r = run({"get", "deployment", "web", "-o", "json"});
  REQUIRE(r.exit_code == 0);
  json as_json = json::parse(r.out);
  CHECK(as_json["kind"] == "Deployment");
  CHECK(as_json["spec"]["replicas"] == 2);
  r = run({"get", "deploy/web", "-o", "yaml"});
  REQUIRE(r.exit_code == 0);
  auto as_yaml = tug::api::ParseDocument(r.out, "stdout", tug::api::Format::kYaml);
  REQUIRE(as_yaml.ok());
  CHECK(as_yaml.value()["metadata"]["uid"] == as_json["metadata"]["uid"]);
  CHECK(as_yaml.value()["spec"] == as_json["spec"]);
  r = run({"get", "deploy,po", "-o", "name"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "deployment.apps/web\npod/" + std::min(pod_names[0], pod_names[1]) + "\npod/" +
                     std::max(pod_names[0], pod_names[1]) + "\n");
  r = run({"get", "pods", "-A", "-o", "json"});
  REQUIRE(r.exit_code == 0);
  CHECK(json::parse(r.out)["items"].size() == 2);

  r = run({"get", "nodes"});
  REQUIRE(r.exit_code == 0);
  lines = Lines(r.out);
  REQUIRE(lines.size() == 2);
  CHECK(Cells(lines[0]) == std::vector<std::string>{"NAME", "STATUS", "ROLES", "AGE", "VERSION"});
  CHECK(Cells(lines[1])[0] == "node-a");
  CHECK(Cells(lines[1])[1] == "Ready");

  r = run({"get", "events"});
  REQUIRE(r.exit_code == 0);
  CHECK(Cells(Lines(r.out)[0]) ==
        std::vector<std::string>{"LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"});
  CHECK(r.out.find("Scheduled") != std::string::npos);
  CHECK(r.out.find("pod/" + pod_names[0]) != std::string::npos);

  // logs: whole, tail, of a deployment's pod, and followed until the request timeout
  r = run({"logs", pod_names[0]});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "hello from " + pod_names[0] + "\n");
  r = run({"logs", pod_names[1], "--tail", "1", "-c", "web"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "hello from " + pod_names[1] + "\n");
  r = run({"logs", "deployment/web"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.rfind("hello from web-", 0) == 0);
  r = run({"logs", "-f", pod_names[0], "--request-timeout", "2s"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "hello from " + pod_names[0] + "\n");

  // describe
  r = run({"describe", "pod", pod_names[0]});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.rfind("Name:           " + pod_names[0] +
                        "\nNamespace:      default\nNode:           node-a/",
                    0) == 0);
  CHECK(r.out.find("    State:          Running\n") != std::string::npos);
  CHECK(r.out.find("Events:\n  Type    Reason") != std::string::npos);
  CHECK(r.out.find("Scheduled") != std::string::npos);
  r = run({"describe", "deployment", "web"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("2 desired | 2 updated | 2 total | 2 available | 0 unavailable") !=
        std::string::npos);
  CHECK(r.out.find(pod_names[0]) != std::string::npos);
  r = run({"describe", "node", "node-a"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("(2 in total)") != std::string::npos);

  // apply a changed file: configured; a label removed from the file is removed
  WriteFile(file, WebYaml(3, "tier: frontend"));
  r = run({"apply", "-f", file});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "deployment.apps/web configured\n");
  json d = GetJson(api, "/apis/apps/v1/namespaces/default/deployments/web");
  CHECK(d["spec"]["replicas"] == 3);
  CHECK(d["metadata"]["labels"]["tier"] == "frontend");
  WriteFile(file, WebYaml(3));
  r = run({"apply", "-f", file});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "deployment.apps/web configured\n");
  d = GetJson(api, "/apis/apps/v1/namespaces/default/deployments/web");
  CHECK_FALSE(d["metadata"]["labels"].contains("tier"));
  CHECK(d["metadata"]["labels"]["app"] == "web");

  // scale, and watch the change arrive
  r = run({"scale", "deployment", "web", "--replicas", "1"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "deployment.apps/web scaled\n");
  CHECK(GetJson(api, "/apis/apps/v1/namespaces/default/deployments/web")["spec"]["replicas"] == 1);
  r = run({"scale", "deploy/web", "--current-replicas", "3", "--replicas", "2"});
  CHECK(r.exit_code == 1);
  CHECK(r.err == "error: expected replicas to be 3, was 1\n");
  {
    CommandOptions o;
    o.env = {{"TUG_SERVER", ServerList(c)}, {"TUG_TOKEN", c.Token()}, {"HOME", c.Root()}};
    BackgroundCommand watch({tug::testing::Program("tugctl"), "get", "deployments", "web", "-w",
                             "--request-timeout", "8s"},
                            o, c.Root());
    REQUIRE(WaitFor([&] { return watch.Out().find("\nweb ") != std::string::npos; }, 10s));
    r = run({"scale", "deployment", "web", "--replicas", "2"});
    REQUIRE(r.exit_code == 0);
    CHECK(WaitFor([&] { return std::regex_search(watch.Out(), std::regex(R"(\nweb\s+\d/2\s)")); },
                  10s));
    auto code = watch.Wait(15s);
    INFO(watch.Out() << watch.Err());
    REQUIRE(code.has_value());
    CHECK(*code == 0);
  }

  // delete by file; then the deployment is gone, and so are its pods
  r = run({"delete", "-f", file});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "deployment.apps \"web\" deleted\n");
  r = run({"get", "deployment", "web"});
  CHECK(r.exit_code == 1);
  CHECK(r.out.empty());
  CHECK(r.err == "error: deployments.apps \"web\" not found\n");
  CHECK(WaitFor(
      [&] {
        json pods = GetJson(api, "/api/v1/namespaces/default/pods");
        return pods.is_object() && pods["items"].empty();
      },
      30s));
  // and by name
  REQUIRE(run({"apply", "-f", file}).exit_code == 0);
  r = run({"delete", "deployment", "web"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "deployment.apps \"web\" deleted\n");
}

TEST_CASE("tugctl fails over, says when no server answers, and reads its config file",
          "[cli][integration]") {
  TugdCluster c;
  c.StartAll();
  REQUIRE(c.WaitLeader() >= 0);
  const std::string dead = "http://127.0.0.1:" + std::to_string(FreePort());
  const std::string dead2 = "http://127.0.0.1:" + std::to_string(FreePort());
  const std::string file = c.Root() + "/one.yaml";
  WriteFile(file, "spec:\n  name: one\n  replicas: 1\n  image: one-image:1\n");

  // A dead server first in the list: the next one answers.
  CommandOptions o;
  o.env["TUG_SERVER"] = dead + "," + ServerList(c);
  auto r = Tugctl(c, {"apply", "-f", file}, o);
  INFO(Describe({"apply"}, r));
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "deployment.apps/one created\n");

  // The leader killed: the others elect a new one, and tugctl finds it.
  int leader = c.Leader();
  c.Kill(leader);
  r = Tugctl(c, {"scale", "deployment", "one", "--replicas", "2"});
  INFO(Describe({"scale"}, r));
  REQUIRE(r.exit_code == 0);
  r = Tugctl(c, {"get", "deployment", "one", "-o", "json"});
  REQUIRE(r.exit_code == 0);
  CHECK(json::parse(r.out)["spec"]["replicas"] == 2);
  r = Tugctl(c, {"cluster", "status"});
  CHECK(r.exit_code == 1);  // one member is down: listed, and the exit code says so
  CHECK(r.out.find("unreachable") != std::string::npos);
  CHECK(r.err.rfind("error: 1 of 3 members unhealthy: " + c.Name(leader), 0) == 0);
  c.Start(leader);

  // No server answers: one line naming them, quickly.
  o.env["TUG_SERVER"] = dead + "," + dead2;
  r = Tugctl(c, {"get", "pods"}, o);
  INFO(Describe({"get", "pods"}, r));
  CHECK(r.exit_code == 1);
  CHECK(r.out.empty());
  CHECK(r.err.rfind("error: the cluster did not answer: cannot reach any server (tried " +
                        dead.substr(7) + ", " + dead2.substr(7) + ")",
                    0) == 0);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.took < 5s);

  // A wrong token is refused, and says how to give the right one.
  o.env = {{"TUG_TOKEN", "not-the-token"}};
  r = Tugctl(c, {"get", "pods"}, o);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("Unauthorized") != std::string::npos);

  // The config file: servers, token and namespace; the environment overrides it, and flags
  // override the environment.
  std::string home = c.Root() + "/home";
  REQUIRE(std::system(("mkdir -p " + home + "/.tug").c_str()) == 0);
  WriteFile(home + "/.tug/config", "server:\n  - " + dead + "\n  - http://" + c.Api(0) +
                                       "\n  - http://" + c.Api(1) + "\n  - http://" + c.Api(2) +
                                       "\ntoken-file: " + c.TokenFile() + "\nnamespace: team\n");
  o.env = {{"HOME", home}, {"TUG_SERVER", std::nullopt}, {"TUG_TOKEN", std::nullopt}};
  r = RunCommand({tug::testing::Program("tugctl"), "apply", "-f", file}, o);
  INFO(Describe({"apply (config file)"}, r));
  REQUIRE(r.exit_code == 0);
  HttpClient api(c.Apis(), c.Token());
  CHECK(GetJson(api, "/apis/apps/v1/namespaces/team/deployments/one").is_object());
  o.env["TUG_SERVER"] = dead2;
  r = RunCommand({tug::testing::Program("tugctl"), "get", "deployments"}, o);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find(dead2.substr(7)) != std::string::npos);
  r = RunCommand({tug::testing::Program("tugctl"), "--server", ServerList(c), "get", "deployments"},
                 o);
  INFO(Describe({"get deployments (flag over env)"}, r));
  REQUIRE(r.exit_code == 0);
  CHECK(Cells(Lines(r.out).at(1))[0] == "one");
  r = RunCommand({tug::testing::Program("tugctl"), "--server", ServerList(c), "get", "deployments",
                  "-n", "default"},
                 o);
  REQUIRE(r.exit_code == 0);
  CHECK(Cells(Lines(r.out).at(1))[0] == "one");
}

TEST_CASE("bad input gives one clear line, exit code 1, and changes nothing",
          "[cli][integration]") {
  TugdCluster c;
  c.StartAll();
  REQUIRE(c.WaitLeader() >= 0);
  HttpClient api(c.Apis(), c.Token());
  const std::string dir = c.Root();
  WriteFile(dir + "/good.yaml", WebYaml(1));
  REQUIRE(Tugctl(c, {"apply", "-f", dir + "/good.yaml"}).exit_code == 0);
  // What a user asked for, without what the controllers keep writing (status, and so the
  // resourceVersion).
  auto asked = [&] {
    json items = GetJson(api, "/apis/apps/v1/deployments").value("items", json::array());
    for (auto& d : items) {
      d.erase("status");
      d["metadata"].erase("resourceVersion");
    }
    return items;
  };
  json before = asked();
  REQUIRE(before.size() == 1);
  auto unchanged = [&] { return asked() == before; };

  // The first document would change the deployment; the second is broken: nothing applies.
  WriteFile(dir + "/broken.yaml",
            WebYaml(5) + "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: b: c\n");
  WriteFile(dir + "/unknown-kind.yaml",
            WebYaml(5) + "---\napiVersion: v1\nkind: Foo\nmetadata:\n  name: x\n");
  WriteFile(dir + "/no-name.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {}\nspec: {}\n");
  WriteFile(dir + "/no-kind.yaml", "metadata:\n  name: x\n");
  WriteFile(dir + "/broken.json", "{\"apiVersion\": \"v1\",\n \"kind\": }\n");
  WriteFile(dir + "/invalid.yaml", "spec:\n  name: neg\n  replicas: -1\n  image: x\n");
  WriteFile(dir + "/other-ns.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
            "  namespace: prod\nspec: {replicas: 9}\n");
  const int broken_line = static_cast<int>(Lines(WebYaml(5)).size()) + 5;

  struct Case {
    std::vector<std::string> args;
    std::string error;  // the whole stderr line, or its start when it ends in "..."
  };
  std::vector<Case> cases = {
      {{"apply", "-f", dir + "/missing.yaml"},
       "error: the path \"" + dir + "/missing.yaml\" does not exist"},
      {{"apply", "-f", dir + "/broken.yaml"},
       "error: " + dir + "/broken.yaml:" + std::to_string(broken_line) +
           ":10: malformed YAML: ..."},
      {{"apply", "-f", dir + "/unknown-kind.yaml"},
       "error: " + dir + "/unknown-kind.yaml (document 2): no kind \"Foo\" in version \"v1\" ..."},
      {{"apply", "-f", dir + "/no-name.yaml"},
       "error: " + dir + "/no-name.yaml: metadata.name is required"},
      {{"apply", "-f", dir + "/no-kind.yaml"},
       "error: " + dir + "/no-kind.yaml: apiVersion and kind are not set"},
      {{"apply", "-f", dir + "/broken.json"},
       "error: " + dir + "/broken.json:2:10: malformed JSON: ..."},
      {{"apply", "-f", dir + "/invalid.yaml"},
       "error: " + dir +
           "/invalid.yaml: deployment.apps/neg: Deployment.apps \"neg\" is invalid: "
           "spec.replicas: Invalid value: -1: must be greater than or equal to 0"},
      {{"apply", "-n", "default", "-f", dir + "/other-ns.yaml"},
       "error: " + dir +
           "/other-ns.yaml: the namespace from the provided object \"prod\" does not "
           "match the namespace \"default\"; pass --namespace=prod to use it"},
      {{"apply"}, "error: --filename is required ..."},
      {{"get", "foos"}, "error: the server doesn't have a resource type \"foos\" ..."},
      {{"describe", "foos", "x"}, "error: the server doesn't have a resource type \"foos\" ..."},
      {{"delete", "foos", "x"}, "error: the server doesn't have a resource type \"foos\" ..."},
      {{"get", "deployment", "nope"}, "error: deployments.apps \"nope\" not found"},
      {{"describe", "deployment", "nope"}, "error: deployments.apps \"nope\" not found"},
      {{"delete", "deployment", "nope"}, "error: deployments.apps \"nope\" not found"},
      {{"scale", "deployment", "nope", "--replicas", "2"},
       "error: deployments.apps \"nope\" not found"},
      {{"logs", "nope"}, "error: pods \"nope\" not found"},
      {{"delete", "deployments"},
       "error: name the deployments to delete, or select them with -l SELECTOR or --all"},
      {{"scale", "deployment", "web", "--replicas", "-3"}, "error: --replicas must be 0 or more"},
      {{"scale", "pods", "x", "--replicas", "1"},
       "error: cannot scale pods: only deployments have replicas"},
      {{"scale", "deploy/web", "pod/x", "--replicas", "4"},
       "error: cannot scale pods: only deployments have replicas"},
      {{"delete", "-f", dir + "/good.yaml", "-l", "app=web"},
       "error: -f deletes the objects in the files; -l and --all go with a TYPE"},
      {{"delete", "deployment", "web?x"}, "error: invalid resource name \"web?x\": ..."},
      {{"get", "pods", "-o", "xml"},
       "error: unknown output format \"xml\": use -o wide, -o json, -o yaml or -o name"},
      {{"get", "pods", "--bogus"},
       "error: The following argument was not expected: --bogus (see 'tugctl get --help')"},
      {{"frobnicate"},
       "error: unknown command \"frobnicate\" for \"tugctl\" (see 'tugctl --help')"},
      {{"-n", "x", "pods"}, "error: unknown command \"pods\" for \"tugctl\" (see 'tugctl --help')"},
      {{}, "error: A subcommand is required ..."},
      {{"get", "pods", "--request-timeout", "soon"},
       "error: --request-timeout: invalid duration \"soon\"..."},
      {{"rollout", "status", "pods", "x"}, "error: rollout status watches deployments, not pods"},
  };
  for (const auto& k : cases) {
    auto r = Tugctl(c, k.args);
    INFO(Describe(k.args, r));
    CHECK(r.exit_code == 1);
    CHECK(r.out.empty());
    REQUIRE(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    std::string line = r.err.substr(0, r.err.size() - 1);
    if (k.error.size() > 3 && k.error.compare(k.error.size() - 3, 3, "...") == 0) {
      CHECK(line.rfind(k.error.substr(0, k.error.size() - 3), 0) == 0);
    } else {
      CHECK(line == k.error);
    }
    CHECK(unchanged());
  }
  // Nothing else appeared either.
  json pods = GetJson(api, "/api/v1/pods");
  for (const auto& p : pods["items"])
    CHECK(p["metadata"]["labels"].value("app", "") == "web");
}

TEST_CASE("every tugctl verb has help with examples", "[cli]") {
  std::vector<std::vector<std::string>> verbs = {
      {"apply"}, {"get"},     {"describe"},          {"delete"},           {"scale"},
      {"logs"},  {"version"}, {"rollout", "status"}, {"cluster", "status"}};
  for (auto args : verbs) {
    args.insert(args.begin(), tug::testing::Program("tugctl"));
    args.push_back("--help");
    auto r = RunCommand(args);
    INFO(Describe(args, r));
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("Usage: ") != std::string::npos);
    CHECK(r.out.find("Examples:\n") != std::string::npos);
    CHECK(r.out.find("\n  tugctl ") != std::string::npos);
  }
  auto r = RunCommand({tug::testing::Program("tugctl"), "--help"});
  CHECK(r.exit_code == 0);
  for (const char* verb :
       {"apply", "get", "describe", "delete", "scale", "logs", "rollout", "cluster", "version"})
    CHECK(r.out.find(std::string("  ") + verb + " ") != std::string::npos);
}
