// Tug as a user meets it, end to end: the launcher `make demo` uses starts three tugd and
// three tug-agent, each in a network namespace of its own, and each test breaks something the
// way machines, processes and networks break, then checks that nothing acknowledged was lost
// and that the services came back. They need root (network namespaces); elsewhere each says
// so and checks nothing.
#include <catch2/catch.hpp>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "test/support/local_cluster.h"
#include "test/support/raw_http.h"
#include "test/support/tugd_cluster.h"

using nlohmann::json;
using tug::testing::Body;
using tug::testing::CommandOptions;
using tug::testing::CommandResult;
using tug::testing::LocalCluster;
using tug::testing::LocalClusterOptions;
using tug::testing::Ok200;
using tug::testing::RawGet;
using tug::testing::WaitFor;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kWebManifest = TUG_SOURCE_DIR "/manifests/web-server.yaml";
const std::string kSeedManifest = TUG_SOURCE_DIR "/manifests/seed-example.yaml";
const std::string kSeedApp = TUG_SOURCE_DIR "/manifests/seed-app.yaml";
const std::string kPods = "/api/v1/namespaces/default/pods";

#define REQUIRE_E2E()                              \
  do {                                             \
    std::string why = LocalCluster::Unavailable(); \
    if (!why.empty()) {                            \
      WARN("skipped: " << why);                    \
      return;                                      \
    }                                              \
  } while (0)

std::string Show(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\n--- stdout\n" + r.out + "--- stderr\n" + r.err;
}

bool Ready(const json& pod) {
  if (!pod.is_object() || pod["status"].value("phase", "") != "Running") return false;
  for (const auto& c : pod["status"].value("conditions", json::array()))
    if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
  return false;
}

// Running and Ready pods of app=web-server.
std::vector<json> ReadyWebPods(LocalCluster& lc) {
  std::vector<json> out;
  json pods = lc.Get(kPods + "?labelSelector=app%3Dweb-server");
  if (!pods.is_object()) return out;
  for (const auto& p : pods["items"])
    if (Ready(p)) out.push_back(p);
  return out;
}

int HostPort(const json& pod) {
  for (const auto& cs : pod["status"].value("containerStatuses", json::array()))
    for (const auto& p : cs.value("ports", json::array()))
      if (p.value("hostPort", 0) > 0) return p["hostPort"].get<int>();
  return 0;
}

// What a replica answers on its node's address and host port ("" without an answer).
std::string AskReplica(const json& pod) {
  std::string addr = pod["status"].value("hostIP", "") + ":" + std::to_string(HostPort(pod));
  tug::net::HttpClient c({addr});
  tug::net::RequestOptions o;
  o.timeout = 3s;
  o.max_unreachable_rounds = 1;
  auto r = c.Get("/", o);
  return r.ok() && r->status == 200 ? r->body : "";
}

// The container process of a pod (the child of its tug-shim, whose PID is the containerID).
pid_t ContainerProcess(const json& pod) {
  std::string id = pod["status"]["containerStatuses"][0].value("containerID", "");
  if (id.rfind("process://", 0) != 0) return 0;
  pid_t shim = std::atoi(id.c_str() + 10);
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::ifstream in(e.path() / "stat");
    std::string stat;
    std::getline(in, stat);
    auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == shim && state != "Z") return std::atoi(e.path().filename().c_str());
  }
  return 0;
}

// Applies the web-server example and waits until its three replicas are ready.
void RunWebServer(LocalCluster& lc) {
  auto r = lc.Tugctl({"apply", "-f", kWebManifest});
  INFO(Show(r));
  REQUIRE(r.exit_code == 0);
  r = lc.Tugctl({"rollout", "status", "deployment", "web-server", "--timeout", "120s"});
  INFO(Show(r) << lc.Logs());
  REQUIRE(r.exit_code == 0);
  REQUIRE(ReadyWebPods(lc).size() == 3);
}

}  // namespace

TEST_CASE("the demo's cluster runs the web server: three replicas on three nodes, each answering",
          "[e2e]") {
  REQUIRE_E2E();
  LocalCluster lc;
  INFO(lc.UpOutput());
  REQUIRE(lc.ok());
  RunWebServer(lc);
  std::set<std::string> nodes;
  for (const auto& p : ReadyWebPods(lc)) {
    std::string node = p["spec"].value("nodeName", "");
    nodes.insert(node);
    std::string name = p["metadata"].value("name", "");
    CHECK(AskReplica(p) == "hello from " + name + " on " + node + "\n");
  }
  CHECK(nodes == std::set<std::string>{"node-a", "node-b", "node-c"});
}

TEST_CASE(
    "SIGKILL the Raft leader while a client applies objects: a new leader, and not one "
    "acknowledged object lost",
    "[e2e]") {
  REQUIRE_E2E();
  LocalCluster lc;
  INFO(lc.UpOutput());
  REQUIRE(lc.ok());
  std::string old_leader = lc.Leader();
  REQUIRE(!old_leader.empty());
  std::vector<std::string> acked;
  auto deadline = Clock::now() + 120s;
  for (int i = 0; i < 40 && Clock::now() < deadline; ++i) {
    if (i == 10) REQUIRE(lc.Kill(old_leader, "KILL"));
    std::string name = "obj-" + std::to_string(i);
    CommandOptions in;
    in.stdin_text = "spec:\n  name: " + name + "\n  replicas: 0\n  image: x\n";
    auto r = lc.Tugctl({"apply", "-f", "-"}, in);
    if (r.exit_code == 0) acked.push_back(name);
    UNSCOPED_INFO(name << ": " << Show(r));
  }
  // The client rides out the election: most writes succeed, and every one that did is there.
  CHECK(acked.size() >= 35);
  std::string new_leader;
  REQUIRE(WaitFor([&] { return !(new_leader = lc.Leader()).empty(); }, 30s));
  CHECK(new_leader != old_leader);
  auto r = lc.Tugctl({"get", "deployments", "-o", "name"});
  INFO(Show(r));
  REQUIRE(r.exit_code == 0);
  for (const auto& name : acked)
    CHECK(r.out.find("deployment.apps/" + name + "\n") != std::string::npos);

  // The killed member comes back, catches up and agrees.
  {
    // Failed once in a clean-clone CI run with no reason shown: say what the script and the
    // members said, should it happen again.
    auto started = lc.Script({"start", old_leader});
    INFO(Show(started) << "\n" << lc.Logs());
    REQUIRE(started.exit_code == 0);
  }
  CHECK(WaitFor(
      [&] {
        tug::net::HttpClient c({lc.Api(old_leader)}, lc.Token());
        auto s = c.Get("/apis/apps/v1/namespaces/default/deployments?resourceVersion=0");
        if (!s.ok() || s->status != 200) return false;
        json list = json::parse(s->body, nullptr, false);
        std::set<std::string> have;
        for (const auto& d : list.value("items", json::array()))
          have.insert(d["metadata"].value("name", ""));
        for (const auto& name : acked)
          if (!have.count(name)) return false;
        return lc.Leader() == new_leader;
      },
      30s));
}

TEST_CASE(
    "SIGKILL an agent: its replicas run on the other agents within the grace period and a "
    "few seconds",
    "[e2e]") {
  REQUIRE_E2E();
  const int grace_ms = 3000;
  LocalClusterOptions o;
  o.node_grace_ms = grace_ms;
  LocalCluster lc(o);
  INFO(lc.UpOutput());
  REQUIRE(lc.ok());
  RunWebServer(lc);
  std::string victim = ReadyWebPods(lc).at(0)["spec"].value("nodeName", "");
  REQUIRE(!victim.empty());
  auto start = Clock::now();
  REQUIRE(lc.Kill(victim, "KILL"));
  auto moved = [&] {
    auto pods = ReadyWebPods(lc);
    if (pods.size() != 3) return false;
    for (const auto& p : pods)
      if (p["spec"].value("nodeName", "") == victim) return false;
    return true;
  };
  REQUIRE(WaitFor(moved, std::chrono::milliseconds(grace_ms) + 30s));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  INFO("replicas moved after " << took.count() << " ms");
  CHECK(took < std::chrono::milliseconds(grace_ms) + 10s);
  // The moved replicas answer.
  for (const auto& p : ReadyWebPods(lc))
    CHECK(AskReplica(p).rfind("hello from ", 0) == 0);
  // The node is NotReady.
  json node = lc.Get("/api/v1/nodes/" + victim);
  bool not_ready = false;
  for (const auto& c : node["status"].value("conditions", json::array()))
    if (c.value("type", "") == "Ready") not_ready = c.value("status", "") != "True";
  CHECK(not_ready);
}

TEST_CASE("SIGKILL a replica's process: its agent restarts it and restartCount goes up", "[e2e]") {
  REQUIRE_E2E();
  LocalCluster lc;
  INFO(lc.UpOutput());
  REQUIRE(lc.ok());
  RunWebServer(lc);
  json pod = ReadyWebPods(lc).at(0);
  std::string name = pod["metadata"].value("name", "");
  std::string old_id = pod["status"]["containerStatuses"][0].value("containerID", "");
  pid_t pid = ContainerProcess(pod);
  REQUIRE(pid > 0);
  REQUIRE(::kill(pid, SIGKILL) == 0);
  json now;
  REQUIRE(WaitFor(
      [&] {
        now = lc.Get(kPods + "/" + name);
        return now.is_object() && Ready(now) &&
               now["status"]["containerStatuses"][0].value("restartCount", 0) == 1;
      },
      60s));
  const json& cs = now["status"]["containerStatuses"][0];
  CHECK(cs.value("containerID", "") != old_id);
  CHECK(cs["lastState"]["terminated"].value("exitCode", 0) == 137);
  CHECK(AskReplica(now) ==
        "hello from " + name + " on " + now["spec"].value("nodeName", "") + "\n");
  auto r = lc.Tugctl({"get", "pod", name});
  CHECK(r.out.find("Running   1 (") != std::string::npos);
}

TEST_CASE(
    "a control-plane member cut off: the majority serves, it refuses writes with 503, and "
    "when its link returns it catches up and agrees",
    "[e2e]") {
  REQUIRE_E2E();
  LocalCluster lc;
  INFO(lc.UpOutput());
  REQUIRE(lc.ok());
  // Cut off the leader: the hardest case (the others must elect a new one).
  std::string cut = lc.Leader();
  REQUIRE(!cut.empty());
  REQUIRE(lc.Isolate(cut));

  // The majority elects a leader and takes writes.
  CommandOptions in;
  in.stdin_text = "spec:\n  name: during-partition\n  replicas: 0\n  image: x\n";
  std::vector<std::string> majority;
  for (const char* m : {"cp1", "cp2", "cp3"})
    if (m != cut) majority.push_back("http://" + lc.Api(m));
  auto r = lc.Tugctl({"--server", majority[0] + "," + majority[1], "apply", "-f", "-"}, in);
  INFO(Show(r));
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "deployment.apps/during-partition created\n");

  // The cut-off member refuses a write with 503 (it cannot reach a quorum), within its request
  // timeout, and the write is not made.
  auto refused = lc.Exec(
      cut, {"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "30", "-X", "POST", "-H",
            "Authorization: Bearer " + lc.Token(), "-H", "Content-Type: application/yaml",
            "--data-binary", "spec: {name: lost, replicas: 0, image: x}",
            "http://" + lc.Api(cut) + "/apis/apps/v1/namespaces/default/deployments"});
  INFO(Show(refused));
  CHECK(refused.out == "503");

  // The link returns: the member catches up and agrees with the others.
  REQUIRE(lc.Heal(cut));
  CHECK(WaitFor(
      [&] {
        tug::net::HttpClient c({lc.Api(cut)}, lc.Token());
        auto s = c.Get("/apis/apps/v1/namespaces/default/deployments?resourceVersion=0");
        if (!s.ok() || s->status != 200) return false;
        json list = json::parse(s->body, nullptr, false);
        bool has = false;
        for (const auto& d : list.value("items", json::array()))
          has = has || d["metadata"].value("name", "") == "during-partition";
        return has && !lc.Leader().empty();
      },
      30s));
  auto all = lc.Tugctl({"get", "deployments", "-o", "name"});
  CHECK(all.out == "deployment.apps/during-partition\n");
}

TEST_CASE(
    "the whole control plane stopped and started again: state intact, agents reconnect, "
    "running pods are not restarted",
    "[e2e]") {
  REQUIRE_E2E();
  LocalCluster lc;
  INFO(lc.UpOutput());
  REQUIRE(lc.ok());
  RunWebServer(lc);
  std::map<std::string, std::string> before;  // pod -> containerID
  for (const auto& p : ReadyWebPods(lc))
    before[p["metadata"].value("name", "")] =
        p["status"]["containerStatuses"][0].value("containerID", "");
  json deployment = lc.Get("/apis/apps/v1/namespaces/default/deployments/web-server");
  REQUIRE(deployment.is_object());

  auto running = ReadyWebPods(lc);
  for (const char* m : {"cp1", "cp2", "cp3"})
    REQUIRE(lc.Stop(m));
  // Without any control plane the replicas keep answering.
  for (const auto& p : running)
    CHECK(AskReplica(p).rfind("hello from ", 0) == 0);
  for (const char* m : {"cp1", "cp2", "cp3"})
    REQUIRE(lc.Start(m));
  REQUIRE(WaitFor([&] { return !lc.Leader().empty(); }, 30s));

  json again = lc.Get("/apis/apps/v1/namespaces/default/deployments/web-server");
  REQUIRE(again.is_object());
  CHECK(again["metadata"]["uid"] == deployment["metadata"]["uid"]);
  CHECK(again["spec"] == deployment["spec"]);
  // Agents reconnect: three Ready nodes, and the same pods, never restarted.
  CHECK(WaitFor(
      [&] {
        auto r = lc.Tugctl({"get", "nodes", "--no-headers"});
        size_t ready = 0;
        std::istringstream lines(r.out);
        for (std::string l; std::getline(lines, l);)
          if (l.find(" Ready ") != std::string::npos) ++ready;
        return ready == 3;
      },
      30s));
  auto pods = ReadyWebPods(lc);
  REQUIRE(pods.size() == 3);
  for (const auto& p : pods) {
    std::string name = p["metadata"].value("name", "");
    REQUIRE(before.count(name));
    CHECK(p["status"]["containerStatuses"][0].value("containerID", "") == before[name]);
    CHECK(p["status"]["containerStatuses"][0].value("restartCount", -1) == 0);
    CHECK(AskReplica(p).rfind("hello from " + name, 0) == 0);
  }
  // And the cluster takes writes again.
  auto r = lc.Tugctl({"scale", "deployment", "web-server", "--replicas", "4"});
  CHECK(r.exit_code == 0);
}

TEST_CASE("the seed's application runs from images pulled through the launcher's registry",
          "[e2e]") {
  REQUIRE_E2E();
  LocalCluster lc;
  INFO(lc.UpOutput());
  REQUIRE(lc.ok());
  auto r = lc.Tugctl({"apply", "-n", "seed", "-f", kSeedManifest});
  INFO(Show(r));
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "deployment.apps/database created\ndeployment.apps/web-server created\n");
  // One database and three web servers, each pulled (through the docker.io mirror the launcher
  // configures) and run by runc in a network namespace of its own.
  json pods;
  bool running = WaitFor(
      [&] {
        pods = lc.Get("/api/v1/namespaces/seed/pods");
        if (!pods.is_object()) return false;
        size_t ready = 0;
        for (const auto& p : pods["items"])
          if (Ready(p)) ++ready;
        return ready == 4;
      },
      120s);
  if (!running) FAIL("pods: " << pods.dump() << "\n" << lc.Logs());
  std::set<std::string> ips;
  size_t web = 0, db = 0;
  for (const auto& p : pods["items"]) {
    INFO(p.dump());
    std::string name = p["metadata"].value("name", "");
    std::string node = p["spec"].value("nodeName", "");
    std::string ip = p["status"].value("podIP", "");
    const json& cs = p["status"]["containerStatuses"][0];
    CHECK(cs.value("containerID", "").rfind("runc://", 0) == 0);
    CHECK(cs.value("imageID", "").find("@sha256:") != std::string::npos);
    // The pod's address is its own, from its node's range, not the node's.
    CHECK(ip.rfind("10.244.", 0) == 0);
    CHECK(ip != p["status"].value("hostIP", ""));
    CHECK(ips.insert(ip).second);
    if (p["spec"]["containers"][0].value("image", "") == "web-server-image:latest") {
      ++web;
      // From the node, at podIP:containerPort: the image's tug-web, with the pod's name. (Its
      // pod has no readiness probe, so Running does not mean listening yet: awaited.)
      CommandResult ask;
      WaitFor(
          [&] {
            ask = lc.Exec(node, {"curl", "-sS", "--max-time", "2", "http://" + ip + ":8080/"});
            return ask.exit_code == 0;
          },
          15s);
      INFO(Show(ask));
      CHECK(ask.out == "hello from " + name + " on " + node + "\n");
    } else {
      ++db;
      // The database image is Debian's redis-server: it answers PING.
      CommandResult ping;
      WaitFor(
          [&] {
            ping = lc.Exec(node, {"bash", "-c",
                                  "exec 3<>/dev/tcp/" + ip +
                                      "/6379 && printf 'PING\\r\\n' >&3 && head -c 7 <&3"});
            return ping.exit_code == 0;
          },
          15s);
      INFO(Show(ping));
      CHECK(ping.out == "+PONG\r\n");
    }
  }
  CHECK(web == 3);
  CHECK(db == 1);
  // The pulls and starts, as kubectl describe shows them.
  std::string one = pods["items"][0]["metadata"].value("name", "");
  auto describe = lc.Tugctl({"describe", "pod", one, "-n", "seed"});
  INFO(Show(describe));
  for (const char* reason : {"Pulled", "Created", "Started"})
    CHECK(describe.out.find(reason) != std::string::npos);
  // The database's agent is SIGKILLed and started again: it takes its runc containers over
  // (same containers, no restart) and the database answers all along.
  std::string db_node, db_ip;
  std::map<std::string, std::string> ids;  // pod -> containerID
  for (const auto& p : pods["items"]) {
    ids[p["metadata"].value("name", "")] =
        p["status"]["containerStatuses"][0].value("containerID", "");
    if (p["spec"]["containers"][0].value("image", "") == "database-image:latest") {
      db_node = p["spec"].value("nodeName", "");
      db_ip = p["status"].value("podIP", "");
    }
  }
  auto ping_db = [&] {
    return lc
        .Exec(db_node,
              {"bash", "-c",
               "exec 3<>/dev/tcp/" + db_ip + "/6379 && printf 'PING\\r\\n' >&3 && head -c 7 <&3"})
        .out;
  };
  REQUIRE(lc.Kill(db_node));
  CHECK(ping_db() == "+PONG\r\n");  // the agent is gone, its containers are not
  REQUIRE(lc.Start(db_node));
  const std::string agent_log = lc.dir() + "/logs/" + db_node + ".log";
  CHECK(WaitFor(
      [&] {
        std::ifstream in(agent_log);
        std::string text((std::istreambuf_iterator<char>(in)), {});
        return text.find("took over") != std::string::npos;
      },
      30s));
  json after = lc.Get("/api/v1/namespaces/seed/pods");
  REQUIRE(after.is_object());
  for (const auto& p : after["items"]) {
    INFO(p.dump());
    CHECK(ids[p["metadata"].value("name", "")] ==
          p["status"]["containerStatuses"][0].value("containerID", ""));
    CHECK(p["status"]["containerStatuses"][0].value("restartCount", -1) == 0);
  }
  CHECK(ping_db() == "+PONG\r\n");

  // Deleting the application leaves no pod network namespace behind on any node.
  r = lc.Tugctl({"delete", "-n", "seed", "-f", kSeedManifest});
  INFO(Show(r));
  CHECK(r.exit_code == 0);
  bool cleaned = WaitFor(
      [&] {
        json left = lc.Get("/api/v1/namespaces/seed/pods");
        if (!left.is_object() || !left["items"].empty()) return false;
        for (const auto& p : pods["items"])
          if (std::filesystem::exists("/run/netns/tug-" + p["metadata"].value("uid", "")))
            return false;
        return true;
      },
      60s);
  CHECK(cleaned);
}

namespace {

// The seed namespace's ready pods of `app`.
std::vector<json> ReadySeedPods(LocalCluster& lc, const std::string& app) {
  std::vector<json> out;
  json pods = lc.Get("/api/v1/namespaces/seed/pods?labelSelector=app%3D" + app);
  if (!pods.is_object()) return out;
  for (const auto& p : pods["items"])
    if (Ready(p)) out.push_back(p);
  return out;
}

size_t ReadyEndpoints(LocalCluster& lc, const std::string& service) {
  json ep = lc.Get("/api/v1/namespaces/seed/endpoints/" + service);
  size_t n = 0;
  if (!ep.is_object()) return 0;
  for (const auto& sub : ep.value("subsets", json::array()))
    n += sub.value("addresses", json::array()).size();
  return n;
}

}  // namespace

TEST_CASE(
    "the seed's load balancer: pods across nodes, Services by name, NodePorts, and no failed "
    "request when a node dies",
    "[e2e]") {
  REQUIRE_E2E();
  LocalCluster lc;
  INFO(lc.UpOutput());
  REQUIRE(lc.ok());
  auto r = lc.Tugctl({"apply", "-n", "seed", "-f", kSeedApp});
  INFO(Show(r));
  REQUIRE(r.exit_code == 0);
  bool up = WaitFor(
      [&] {
        return ReadySeedPods(lc, "web-server").size() == 3 &&
               ReadySeedPods(lc, "database").size() == 1 &&
               ReadyEndpoints(lc, "load-balancer") == 3 && ReadyEndpoints(lc, "database") == 1;
      },
      120s);
  if (!up) FAIL("the seed's application did not come up\n" << lc.Logs());
  auto web = ReadySeedPods(lc, "web-server");
  json db = ReadySeedPods(lc, "database")[0];
  std::string db_node = db["spec"]["nodeName"];

  // Pod to pod across nodes, by pod IP: from inside one web server's network namespace to a
  // web server on another node.
  bool crossed = false;
  for (const auto& a : web) {
    for (const auto& b : web) {
      std::string na = a["spec"]["nodeName"], nb = b["spec"]["nodeName"];
      if (na == nb || crossed) continue;
      std::string netns = "--net=/run/netns/tug-" + a["metadata"]["uid"].get<std::string>();
      std::string url = "http://" + b["status"]["podIP"].get<std::string>() + ":8080/healthz";
      auto ask = lc.Exec(na, {"nsenter", netns, "--", "curl", "-sS", "--max-time", "3", url});
      INFO(na << " -> " << nb << ": " << Show(ask));
      CHECK(ask.out == "ok\n");
      crossed = true;
    }
  }
  CHECK(crossed);

  // The load balancer on every node's address, from outside the cluster (this machine). The
  // web servers found the database by its Service name (their answer counts visits in it).
  for (const char* node : {"node-a", "node-b", "node-c"}) {
    std::string answer;
    WaitFor([&] { return Ok200(answer = RawGet(lc.Addr(node), 30080)); }, 20s);
    INFO(node << ": " << answer);
    CHECK(Ok200(answer));
    CHECK(Body(answer).find("(database database:6379)") != std::string::npos);
  }

  // From a pod: Services by name (short and long), by cluster IP from the environment, and
  // NXDOMAIN for what does not exist.
  json client = {{"apiVersion", "v1"},
                 {"kind", "Pod"},
                 {"metadata", {{"name", "client"}, {"namespace", "seed"}}},
                 {"spec",
                  {{"restartPolicy", "Never"},
                   {"containers",
                    {{{"name", "c"},
                      {"image", "busybox:latest"},
                      {"command",
                       {"sh", "-c",
                        "wget -qO- http://load-balancer/ && wget -qO- "
                        "http://load-balancer.seed.svc.cluster.local/ && wget -qO- "
                        "http://$LOAD_BALANCER_SERVICE_HOST:$LOAD_BALANCER_SERVICE_PORT/ && "
                        "nslookup database.seed.svc.cluster.local && "
                        "! nslookup nothere.seed.svc.cluster.local && echo ALL-OK"}}}}}}}};
  std::string client_file = lc.dir() + "/client.json";
  std::ofstream(client_file) << client.dump();
  r = lc.Tugctl({"apply", "-f", client_file});
  REQUIRE(r.exit_code == 0);
  std::string logs;
  WaitFor(
      [&] {
        logs = lc.Tugctl({"logs", "client", "-n", "seed"}).out;
        return logs.find("ALL-OK") != std::string::npos;
      },
      60s);
  INFO(logs);
  CHECK(logs.find("ALL-OK") != std::string::npos);
  json svc = lc.Get("/api/v1/namespaces/seed/services/database");
  CHECK(logs.find(svc["spec"].value("clusterIP", "?")) != std::string::npos);

  // A node that runs a web server (not the database) dies while a client sends requests to
  // the load balancer on a node that lives: not one request fails.
  std::set<std::string> web_nodes;
  for (const auto& p : web)
    web_nodes.insert(p["spec"]["nodeName"].get<std::string>());
  std::string victim, survivor;
  for (const char* n : {"node-a", "node-b", "node-c"})
    if (web_nodes.count(n) && n != db_node && victim.empty()) victim = n;
  REQUIRE(!victim.empty());
  for (const char* n : {"node-a", "node-b", "node-c"})
    if (n != victim && n != db_node) survivor = n;
  REQUIRE(!survivor.empty());
  std::string target = lc.Addr(survivor);
  std::atomic<int> sent{0}, failed{0};
  std::atomic<bool> stop{false};
  std::string first_failure;
  std::thread loop([&] {
    auto deadline = Clock::now() + 180s;
    while (!stop && Clock::now() < deadline) {
      std::string a = RawGet(target, 30080);
      if (!Ok200(a)) {
        if (failed++ == 0) first_failure = a.empty() ? "(no answer)" : a;
      }
      ++sent;
    }
  });
  REQUIRE(WaitFor([&] { return sent >= 300; }, 60s));
  r = lc.Script({"crash", victim});
  INFO(Show(r));
  CHECK(r.exit_code == 0);
  // The dead node's replica is replaced elsewhere, and the client has sent 2,000 requests.
  bool replaced = WaitFor(
      [&] {
        auto now = ReadySeedPods(lc, "web-server");
        if (now.size() != 3) return false;
        for (const auto& p : now)
          if (p["spec"]["nodeName"] == victim) return false;
        return ReadyEndpoints(lc, "load-balancer") == 3;
      },
      90s);
  WaitFor([&] { return sent >= 2000; }, 120s);
  stop = true;
  loop.join();
  INFO("requests " << sent << ", failed " << failed << ", first failure: " << first_failure);
  CHECK(replaced);
  CHECK(sent >= 2000);
  CHECK(failed == 0);

  // The database's node dies: a new database starts elsewhere, and the web servers find it by
  // the same Service name (its count starts again).
  r = lc.Script({"crash", db_node});
  CHECK(r.exit_code == 0);
  std::string answer;
  bool found = WaitFor(
      [&] {
        auto dbs = ReadySeedPods(lc, "database");
        if (dbs.size() != 1 || dbs[0]["spec"]["nodeName"] == db_node) return false;
        answer = RawGet(target, 30080);
        return Ok200(answer);
      },
      120s);
  INFO(answer << lc.Logs());
  CHECK(found);
  CHECK(Body(answer).find("(database database:6379)") != std::string::npos);

  // Scale to 0: no backend, and the load balancer refuses at once; back to 2: it answers.
  r = lc.Tugctl({"scale", "deployment", "web-server", "-n", "seed", "--replicas", "0"});
  REQUIRE(r.exit_code == 0);
  CHECK(WaitFor([&] { return ReadyEndpoints(lc, "load-balancer") == 0; }, 60s));
  CHECK(WaitFor([&] { return RawGet(target, 30080).empty(); }, 20s));
  r = lc.Tugctl({"scale", "deployment", "web-server", "-n", "seed", "--replicas", "2"});
  REQUIRE(r.exit_code == 0);
  CHECK(WaitFor([&] { return Ok200(RawGet(target, 30080)); }, 90s));
}
