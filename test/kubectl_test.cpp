// The real kubectl against a real three-member cluster with an agent, through nothing but the
// kubeconfig `tugctl config kubeconfig` prints (HTTPS, bearer token): the everyday verbs as a
// Kubernetes user types them, and their output and errors as kubectl prints them for
// Kubernetes. Where kubectl is not installed the tests say so and pass without running
// (TUG_KUBECTL names a kubectl elsewhere).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
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
using tug::testing::ClusterOptions;
using tug::testing::CommandOptions;
using tug::testing::CommandResult;
using tug::testing::GetJson;
using tug::testing::Lines;
using tug::testing::RunCommand;
using tug::testing::TugdCluster;
using tug::testing::WaitFor;
using tug::testing::WriteFile;
using namespace std::chrono_literals;

namespace {

// The whitespace-separated words of `text`.
std::vector<std::string> Words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string w; in >> w;)
    out.push_back(w);
  return out;
}

}  // namespace

namespace {

const char* kNoKubectl =
    "kubectl is not installed (none on PATH, TUG_KUBECTL unset): kubectl tests skipped";

// Three members that also serve HTTPS.
ClusterOptions TlsCluster() {
  ClusterOptions co;
  co.tls = true;
  return co;
}

// TUG_KUBECTL, else the first kubectl on PATH; "" if there is none.
std::string FindKubectl() {
  if (const char* k = std::getenv("TUG_KUBECTL"); k && *k) return k;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::string candidate = (dir.empty() ? "." : dir) + "/kubectl";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// A deployment of two containers; `v2` reorders them, adds an environment variable to one,
// drops a label and changes the replica count: kubectl's apply then sends a strategic merge
// patch with "$setElementOrder/containers", a container merged by name, and a null label.
std::string WebYaml(bool v2) {
  std::string labels = v2 ? "{app: web}" : "{app: web, tier: front}";
  std::string web =
      "      - name: web\n"
      "        command: [/bin/sh, -c, 'echo \"hello from $$POD_NAME\"; exec sleep 100000']\n"
      "        ports: [{name: http, containerPort: 8080}]\n"
      "        readinessProbe: {exec: {command: [\"true\"]}, periodSeconds: 1}\n" +
      std::string(v2 ? "        env: [{name: GREETING, value: hello}]\n" : "");
  std::string side =
      "      - name: side\n"
      "        command: [sleep, '100000']\n";
  return "apiVersion: apps/v1\n"
         "kind: Deployment\n"
         "metadata:\n"
         "  name: web\n"
         "  labels: " +
         labels +
         "\n"
         "spec:\n"
         "  replicas: " +
         (v2 ? "3" : "2") +
         "\n"
         "  selector:\n"
         "    matchLabels: {app: web}\n"
         "  template:\n"
         "    metadata:\n"
         "      labels: {app: web}\n"
         "    spec:\n"
         "      terminationGracePeriodSeconds: 1\n"
         "      containers:\n" +
         (v2 ? side + web : web + side);
}

const char* kApiYaml = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 1
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
      - name: api
        command: [sleep, '100000']
)";

const char* kBadYaml = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: bad
spec:
  replicas: -1
  selector:
    matchLabels: {app: bad}
  template:
    metadata:
      labels: {app: bad}
    spec:
      containers:
      - name: c
        command: [sleep, '1']
)";

struct Kubectl {
  std::string binary, kubeconfig, home;
  CommandResult operator()(std::vector<std::string> args) const {
    std::string shown = "kubectl";
    for (const auto& a : args)
      shown += " " + a;
    args.insert(args.begin(), binary);
    CommandOptions o;
    o.env.emplace("KUBECONFIG", kubeconfig);
    o.env.emplace("HOME", home);  // kubectl caches discovery under ~/.kube
    auto r = RunCommand(args, o);
    UNSCOPED_INFO(shown << "\nexit " << r.exit_code << "\n--- stdout\n"
                        << r.out << "--- stderr\n"
                        << r.err);
    return r;
  }
};

// The kubeconfig tugctl prints for the member at `api` (plain HTTP), written to `path`.
CommandResult WriteKubeconfig(const TugdCluster& c, const std::string& api, const std::string& path,
                              std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {tug::testing::Program("tugctl"), "--server", "http://" + api,
                                   "config", "kubeconfig"};
  args.insert(args.end(), extra.begin(), extra.end());
  CommandOptions o;
  o.env.emplace("TUG_TOKEN", c.Token());
  o.env.emplace("HOME", c.Root());
  o.env.emplace("TUG_CONFIG", std::nullopt);
  o.env.emplace("TUG_SERVER", std::nullopt);
  auto r = RunCommand(args, o);
  UNSCOPED_INFO("tugctl config kubeconfig\nexit " << r.exit_code << "\n" << r.out << r.err);
  if (r.exit_code == 0) WriteFile(path, r.out);
  return r;
}

}  // namespace

TEST_CASE("kubectl's everyday verbs against a real three-member cluster",
          "[kubectl][integration]") {
  const std::string kubectl_path = FindKubectl();
  if (kubectl_path.empty()) {
    WARN(kNoKubectl);
    return;
  }
  TugdCluster c(TlsCluster());
  c.StartAll();
  REQUIRE(c.WaitLeader() >= 0);
  AgentFleet fleet(c);
  fleet.Start("node-a");
  HttpClient api(c.Apis(), c.Token());
  REQUIRE(WaitFor([&] { return GetJson(api, "/api/v1/nodes/node-a").is_object(); }, 30s));

  // The kubeconfig: member 0's HTTPS endpoint, the CA it reports, the token.
  const std::string kubeconfig = c.Root() + "/kubeconfig";
  auto r = WriteKubeconfig(c, c.Api(0), kubeconfig);
  REQUIRE(r.exit_code == 0);
  auto kc = tug::api::ParseDocument(r.out, "kubeconfig");
  REQUIRE(kc.ok());
  CHECK(kc.value()["clusters"][0]["cluster"]["server"] == "https://" + c.TlsApi(0));
  CHECK(kc.value()["users"][0]["user"]["token"] == c.Token());
  CHECK(kc.value()["current-context"] == "tug");
  Kubectl kubectl{kubectl_path, kubeconfig, c.Root()};

  const std::string web_v1 = c.Root() + "/web-v1.yaml", web_v2 = c.Root() + "/web-v2.yaml";
  const std::string api_file = c.Root() + "/api.yaml", bad_file = c.Root() + "/bad.yaml";
  WriteFile(web_v1, WebYaml(false));
  WriteFile(web_v2, WebYaml(true));
  WriteFile(api_file, kApiYaml);
  WriteFile(bad_file, kBadYaml);

  r = kubectl({"version", "-o", "json"});
  REQUIRE(r.exit_code == 0);
  CHECK(json::parse(r.out)["serverVersion"]["gitVersion"].get<std::string>().rfind("v", 0) == 0);

  // apply: created, unchanged, then changed through a strategic merge patch
  r = kubectl({"apply", "-f", web_v1});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "deployment.apps/web created\n");
  r = kubectl({"apply", "-f", web_v1});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "deployment.apps/web unchanged\n");
  r = kubectl({"apply", "-f", web_v2});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "deployment.apps/web configured\n");
  json d = GetJson(api, "/apis/apps/v1/namespaces/default/deployments/web");
  REQUIRE(d.is_object());
  CHECK(d["spec"]["replicas"] == 3);
  CHECK(d["metadata"]["labels"] == json{{"app", "web"}});
  const json& containers = d["spec"]["template"]["spec"]["containers"];
  REQUIRE(containers.size() == 2);
  CHECK(containers[0]["name"] == "side");
  CHECK(containers[1]["name"] == "web");
  CHECK(containers[1]["env"] == json::parse(R"([{"name":"GREETING","value":"hello"}])"));
  CHECK(containers[1]["command"][2] == "echo \"hello from $$POD_NAME\"; exec sleep 100000");
  CHECK(containers[1]["ports"][0]["containerPort"] == 8080);
  r = kubectl({"apply", "-f", web_v2});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "deployment.apps/web unchanged\n");

  // create -f of an object that exists: Kubernetes' AlreadyExists error
  r = kubectl({"create", "-f", web_v2});
  CHECK(r.exit_code == 1);
  CHECK(r.err == "Error from server (AlreadyExists): error when creating \"" + web_v2 +
                     "\": deployments.apps \"web\" already exists\n");

  r = kubectl({"rollout", "status", "deployment/web", "--timeout=90s"});
  REQUIRE(r.exit_code == 0);
  CHECK(Lines(r.out).back() == "deployment \"web\" successfully rolled out");

  // get: the server's Table columns, in kubectl's layout
  r = kubectl({"get", "deployments"});
  REQUIRE(r.exit_code == 0);
  auto lines = Lines(r.out);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "NAME   READY   UP-TO-DATE   AVAILABLE   AGE");
  CHECK(std::regex_match(lines[1], std::regex(R"(web    3/3     3            3           \S+)")));
  r = kubectl({"get", "deployment", "web", "-o", "wide"});
  REQUIRE(r.exit_code == 0);
  lines = Lines(r.out);
  REQUIRE(lines.size() == 2);
  CHECK(Cells(lines[0]) == std::vector<std::string>{"NAME", "READY", "UP-TO-DATE", "AVAILABLE",
                                                    "AGE", "CONTAINERS", "IMAGES", "SELECTOR"});
  CHECK(Cells(lines[1])[5] == "side,web");
  CHECK(Cells(lines[1]).back() == "app=web");

  r = kubectl({"get", "pods", "-o", "wide", "-l", "app=web"});
  REQUIRE(r.exit_code == 0);
  lines = Lines(r.out);
  REQUIRE(lines.size() == 4);
  CHECK(Cells(lines[0]) == std::vector<std::string>{"NAME", "READY", "STATUS", "RESTARTS", "AGE",
                                                    "IP", "NODE", "PORTS"});
  std::vector<std::string> pods;
  for (size_t i = 1; i < lines.size(); ++i) {
    auto cells = Cells(lines[i]);
    REQUIRE(cells.size() == 8);
    pods.push_back(cells[0]);
    CHECK(cells[0].rfind("web-", 0) == 0);
    CHECK(cells[1] == "2/2");
    CHECK(cells[2] == "Running");
    CHECK(cells[6] == "node-a");
  }
  r = kubectl({"get", "pods", "-l", "app=nothing"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.empty());
  CHECK(r.err == "No resources found in default namespace.\n");

  r = kubectl({"get", "pods", "-o", "json"});
  REQUIRE(r.exit_code == 0);
  json pod_list = json::parse(r.out);
  CHECK(pod_list["kind"] == "List");
  REQUIRE(pod_list["items"].size() == 3);
  for (const auto& p : pod_list["items"]) {
    CHECK(p["kind"] == "Pod");
    CHECK(p["spec"]["nodeName"] == "node-a");
  }
  r = kubectl({"get", "deployment", "web", "-o", "yaml"});
  REQUIRE(r.exit_code == 0);
  auto web_yaml = tug::api::ParseDocument(r.out, "kubectl's yaml");
  REQUIRE(web_yaml.ok());
  CHECK(web_yaml.value()["kind"] == "Deployment");
  CHECK(web_yaml.value()["spec"]["replicas"] == 3);
  CHECK(web_yaml.value()["status"]["readyReplicas"] == 3);

  r = kubectl({"get", "nodes", "-o", "wide"});
  REQUIRE(r.exit_code == 0);
  lines = Lines(r.out);
  REQUIRE(lines.size() == 2);
  CHECK(Cells(lines[0])[0] == "NAME");
  CHECK(Cells(lines[0])[1] == "STATUS");
  CHECK(Cells(lines[1])[0] == "node-a");
  CHECK(Cells(lines[1])[1] == "Ready");

  // namespaces: -n, and -A with the NAMESPACE column
  r = kubectl({"create", "-f", api_file, "-n", "team"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "deployment.apps/api created\n");
  r = kubectl({"get", "deployments", "-n", "team", "-o", "name"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "deployment.apps/api\n");
  r = kubectl({"get", "deployments", "-A"});
  REQUIRE(r.exit_code == 0);
  lines = Lines(r.out);
  REQUIRE(lines.size() == 3);
  CHECK(Cells(lines[0]) ==
        std::vector<std::string>{"NAMESPACE", "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"});
  CHECK(Cells(lines[1])[0] + "/" + Cells(lines[1])[1] == "default/web");
  CHECK(Cells(lines[2])[0] + "/" + Cells(lines[2])[1] == "team/api");

  // describe: kubectl's own layout from the objects (and their events)
  r = kubectl({"describe", "deployment", "web"});
  REQUIRE(r.exit_code == 0);
  CHECK(std::regex_search(r.out, std::regex(R"((^|\n)Name:\s+web\n)")));
  CHECK(std::regex_search(
      r.out,
      std::regex(
          R"(\nReplicas:\s+3 desired \| 3 updated \| 3 total \| 3 available \| 0 unavailable\n)")));
  CHECK(std::regex_search(r.out, std::regex(R"(\n\s+GREETING:\s+hello\n)")));
  r = kubectl({"describe", "pod", pods[0]});
  REQUIRE(r.exit_code == 0);
  CHECK(std::regex_search(r.out, std::regex(R"(\nNode:\s+node-a/)")));
  CHECK(std::regex_search(r.out, std::regex(R"(\nStatus:\s+Running\n)")));
  CHECK(std::regex_search(r.out, std::regex(R"(\nControlled By:\s+Deployment/web\n)")));

  // any member serves kubectl: the same certificate names them all
  r = kubectl({"--server", "https://" + c.TlsApi(2), "get", "deployment", "web", "-o", "name"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "deployment.apps/web\n");

  // scale: the Scale subresource; a watch (each event a Table row) sees the change
  CommandOptions wo;
  wo.env.emplace("KUBECONFIG", kubeconfig);
  wo.env.emplace("HOME", c.Root());
  BackgroundCommand watch({kubectl_path, "get", "deployment", "web", "-w"}, wo, c.Root());
  // kubectl writes a row cell by cell: look at whole lines only.
  auto watched_lines = [&watch] {
    std::string out = watch.Out();
    return Lines(out.substr(0, out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1));
  };
  auto watched_row = [&](const std::string& ready) {
    for (const auto& l : watched_lines()) {
      auto cells = Cells(l);
      if (cells.size() == 5 && cells[0] == "web" && cells[1] == ready) return true;
    }
    return false;
  };
  REQUIRE(WaitFor([&] { return watched_row("3/3"); }, 10s));
  r = kubectl({"scale", "deployment", "web", "--replicas=1"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "deployment.apps/web scaled\n");
  CHECK(WaitFor([&] { return watched_row("1/1"); }, 30s));
  {
    INFO(watch.Out() << watch.Err());
    auto watched = watched_lines();
    REQUIRE(!watched.empty());
    CHECK(Cells(watched[0]) ==
          std::vector<std::string>{"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"});
    for (size_t i = 1; i < watched.size(); ++i)
      CHECK(Cells(watched[i]).size() == 5);
  }
  r = kubectl({"get", "deployment", "web", "-o", "jsonpath={.spec.replicas}"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "1");
  CHECK(WaitFor(
      [&] {
        auto p = kubectl({"get", "pods", "-l", "app=web", "-o", "name"});
        return p.exit_code == 0 && Lines(p.out).size() == 1;
      },
      30s));

  // logs, label, annotate, events, api-resources
  r = kubectl({"logs", "deployment/web", "-c", "web"});
  REQUIRE(r.exit_code == 0);
  CHECK(std::regex_match(r.out, std::regex("hello from web-[a-z0-9]+-[a-z0-9]+\n")));
  r = kubectl({"label", "deployment", "web", "tier=back"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "deployment.apps/web labeled\n");
  r = kubectl({"annotate", "deployment", "web", "note=hi"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "deployment.apps/web annotated\n");
  d = GetJson(api, "/apis/apps/v1/namespaces/default/deployments/web");
  CHECK(d["metadata"]["labels"]["tier"] == "back");
  CHECK(d["metadata"]["annotations"]["note"] == "hi");
  r = kubectl({"get", "events", "--field-selector", "reason=Scheduled", "-o", "name"});
  REQUIRE(r.exit_code == 0);
  CHECK(Lines(r.out).size() >= 3);
  r = kubectl({"api-resources", "--no-headers", "-o", "name"});
  REQUIRE(r.exit_code == 0);
  CHECK(Lines(r.out) == std::vector<std::string>{"endpoints", "events", "nodes", "pods", "services",
                                                 "deployments.apps"});

  // kubectl expose makes a Service from the Deployment's selector; get svc shows it.
  r = kubectl({"expose", "deployment", "web", "--port", "80", "--target-port", "8080"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "service/web exposed\n");
  json svc = GetJson(api, "/api/v1/namespaces/default/services/web");
  CHECK(svc["spec"]["selector"] == d["spec"]["selector"]["matchLabels"]);
  CHECK(svc["spec"]["ports"][0]["targetPort"] == 8080);
  std::string ip = svc["spec"].value("clusterIP", "");
  CHECK(ip.rfind("10.96.", 0) == 0);
  r = kubectl({"get", "svc", "web", "--no-headers"});
  REQUIRE(r.exit_code == 0);
  CHECK(Words(r.out).size() == 6);
  CHECK(Words(r.out)[0] == "web");
  CHECK(Words(r.out)[1] == "ClusterIP");
  CHECK(Words(r.out)[2] == ip);
  CHECK(Words(r.out)[4] == "80/TCP");
  r = kubectl({"get", "endpoints", "web", "-o", "name"});
  CHECK(r.out == "endpoints/web\n");

  // errors read as they do from Kubernetes
  r = kubectl({"apply", "-f", bad_file});
  CHECK(r.exit_code == 1);
  CHECK(r.err ==
        "The Deployment \"bad\" is invalid: spec.replicas: Invalid value: -1: must be greater "
        "than or equal to 0\n");
  r = kubectl({"get", "deployment", "nope"});
  CHECK(r.exit_code == 1);
  CHECK(r.err == "Error from server (NotFound): deployments.apps \"nope\" not found\n");

  // delete by name and by file
  r = kubectl({"delete", "deployment", "web"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "deployment.apps \"web\" deleted\n");
  r = kubectl({"get", "deployment", "web"});
  CHECK(r.exit_code == 1);
  CHECK(r.err == "Error from server (NotFound): deployments.apps \"web\" not found\n");
  r = kubectl({"delete", "-f", api_file, "-n", "team"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "deployment.apps \"api\" deleted\n");
  r = kubectl({"get", "deployments", "-A"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.err == "No resources found\n");
  // The deployment's pods go with it (the garbage collector's work).
  CHECK(WaitFor(
      [&] {
        auto p = kubectl({"get", "pods", "-A", "-o", "name"});
        return p.exit_code == 0 && p.out.empty();
      },
      30s));
}

TEST_CASE(
    "kubectl with a wrong token or an untrusted certificate is refused, and a member "
    "without HTTPS gives no kubeconfig",
    "[kubectl][integration]") {
  const std::string kubectl_path = FindKubectl();
  if (kubectl_path.empty()) {
    WARN(kNoKubectl);
    return;
  }
  TugdCluster c(TlsCluster());
  c.StartAll();
  REQUIRE(c.WaitLeader() >= 0);
  const std::string kubeconfig = c.Root() + "/kubeconfig";
  REQUIRE(WriteKubeconfig(c, c.Api(1), kubeconfig).exit_code == 0);
  Kubectl kubectl{kubectl_path, kubeconfig, c.Root()};

  auto r = kubectl({"get", "deployments"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.err == "No resources found in default namespace.\n");

  r = kubectl({"--token", "not-the-token", "get", "deployments"});
  CHECK(r.exit_code == 1);
  CHECK(r.err ==
        "error: You must be logged in to the server (Unauthorized: the bearer token is not this "
        "cluster's token)\n");

  // Why tugd serves HTTPS at all: over plain HTTP kubectl leaves the token out.
  r = kubectl({"--server", "http://" + c.Api(1), "get", "deployments"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("error: You must be logged in to the server") != std::string::npos);

  // A certificate that the kubeconfig does not trust: kubectl refuses to talk.
  const std::string other_ca = c.Root() + "/other-ca.pem";
  auto mk =
      RunCommand({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                  "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", c.Root() + "/other-ca.key",
                  "-out", other_ca, "-days", "1", "-subj", "/CN=someone-else"});
  REQUIRE(mk.exit_code == 0);
  const std::string untrusted = c.Root() + "/untrusted-kubeconfig";
  REQUIRE(
      WriteKubeconfig(c, c.Api(1), untrusted, {"--certificate-authority", other_ca}).exit_code ==
      0);
  r = Kubectl{kubectl_path, untrusted, c.Root()}({"get", "deployments"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("certificate signed by unknown authority") != std::string::npos);

  // A member without --tls-addr: tugctl says what is missing instead of printing a kubeconfig
  // that cannot work.
  ClusterOptions plain;
  plain.members = 1;
  TugdCluster p(plain);
  p.StartAll();
  REQUIRE(p.WaitLeader() >= 0);
  auto k = WriteKubeconfig(p, p.Api(0), p.Root() + "/kubeconfig");
  CHECK(k.exit_code == 1);
  CHECK(k.out.empty());
  CHECK(k.err ==
        "error: member cp1 serves no HTTPS, which kubectl needs to send its token: start tugd "
        "with --tls-addr, --tls-cert and --tls-key (scripts/local-cluster.sh does)\n");
}
