// The supervisor over its seams alone: a runtime whose starts and exits the test decides, pod
// files in memory, ports without sockets, a fake wall clock. No process, no disk, no sleep:
// every step is the test moving time or answering for the runtime.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "agent/supervisor.h"
#include "base/clock.h"
#include "test/support/fake_runtime.h"

using namespace tug::agent;
using namespace tug::agent::testing;
using nlohmann::json;

namespace {

struct NoProbes : ProbeRunner {
  void Run(const ProbeKey&, const ProbeSpec&, const ProbeTarget&) override {}
};

json Pod(const std::string& name, json containers, const std::string& policy = "Always") {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"namespace", "default"}, {"uid", "uid-" + name}}},
          {"spec", {{"containers", containers}, {"restartPolicy", policy}}}};
}

json Cmd(const std::string& name = "main") {
  return {{"name", name}, {"command", {"serve"}}, {"ports", {{{"containerPort", 8080}}}}};
}

struct Fixture {
  FakeRuntime runtime;
  MemoryPodFiles files;
  CountingHostPorts ports;
  NoProbes probes;
  tug::FakeClock clock;
  std::vector<Runtime*> runtimes{&runtime};
  std::unique_ptr<Supervisor> sup;

  Fixture() { Make(); }
  void Make() {
    SupervisorOptions o;
    o.node_name = "node-a";
    o.backoff.initial_ms = 10'000;
    SupervisorParts parts{runtimes, &probes, &files, &ports, &clock};
    sup = std::make_unique<Supervisor>(o, parts);
  }
  json Status(const std::string& name) {
    for (const auto& r : sup->Reports())
      if (r.name == name) return r.status;
    return json();
  }
  json Container(const std::string& name, size_t i = 0) {
    return Status(name)["containerStatuses"][i];
  }
  std::vector<std::string> Reasons() {
    std::vector<std::string> out;
    for (const auto& e : sup->TakeEvents())
      out.push_back(e.reason);
    return out;
  }
};

}  // namespace

TEST_CASE(
    "a start is asynchronous: the container waits in ContainerCreating until its runtime "
    "says it started",
    "[agent][supervisor]") {
  Fixture f;
  f.sup->SetAssigned({Pod("web", {Cmd()})}, 0);
  f.sup->StartDue(0);
  uint64_t run = f.runtime.OnlyStarting();
  REQUIRE(run != 0);
  // Ticks while the runtime works (an image pull may take minutes) neither start it twice
  // nor call it running.
  for (int64_t t = 100; t <= 60'000; t += 10'000)
    f.sup->Tick(t);
  CHECK(f.runtime.starting.size() == 1);
  CHECK(f.Status("web")["phase"] == "Pending");
  CHECK(f.Container("web")["state"]["waiting"]["reason"] == "ContainerCreating");
  CHECK(f.sup->running() == 0);

  f.clock.Advance(std::chrono::seconds(90));
  auto h = f.runtime.FinishStart(run);
  f.sup->Tick(61'000);
  CHECK(f.Status("web")["phase"] == "Running");
  CHECK(f.Container("web")["containerID"] == "fake://" + h.id);
  CHECK(f.Container("web")["state"]["running"]["startedAt"] == "2026-01-01T00:01:30Z");
  CHECK(f.Status("web")["startTime"] == "2026-01-01T00:00:00Z");
  CHECK(f.Container("web")["ports"][0]["hostPort"] == 40000);
  CHECK(f.Reasons() == std::vector<std::string>{"Started"});
  // The checkpoint holds the handle the runtime gave, as the runtime gave it.
  json state = json::parse(f.files.pods.at("uid-web").state);
  CHECK(state["containers"][0]["running"]["runtime"] == "fake");
  CHECK(state["containers"][0]["running"]["id"] == h.id);
}

TEST_CASE("exits arrive as events and restarts follow the policy's back-off on the fake clock",
          "[agent][supervisor]") {
  Fixture f;
  f.sup->SetAssigned({Pod("web", {Cmd()})}, 0);
  f.sup->StartDue(0);
  uint64_t first = f.runtime.OnlyStarting();
  f.runtime.FinishStart(first);
  f.sup->Tick(1000);
  // The first exit is restarted at once, as a new run.
  f.runtime.Exit(first, 3, "Error");
  f.sup->Tick(2000);
  CHECK(f.Container("web")["lastState"]["terminated"]["exitCode"] == 3);
  uint64_t second = f.runtime.OnlyStarting();
  REQUIRE(second != 0);
  CHECK(second != first);
  f.runtime.FinishStart(second);
  f.sup->Tick(2100);
  CHECK(f.Container("web")["restartCount"] == 1);
  CHECK(f.Container("web")["ports"][0]["hostPort"] == 40000);  // the same port again
  // The next one waits 10 s.
  f.runtime.Exit(second, 4, "Error");
  f.sup->Tick(3000);
  CHECK(f.Container("web")["state"]["waiting"]["reason"] == "CrashLoopBackOff");
  CHECK(f.Container("web")["lastState"]["terminated"]["exitCode"] == 4);
  f.sup->Tick(12'999);
  CHECK(f.runtime.starting.empty());
  f.sup->Tick(13'000);
  uint64_t third = f.runtime.OnlyStarting();
  REQUIRE(third != 0);
  f.runtime.FinishStart(third);
  f.sup->Tick(13'100);
  CHECK(f.Container("web")["restartCount"] == 2);
  // A late event about an earlier run changes nothing.
  f.runtime.Exit(first, 9, "Error");
  f.sup->Tick(13'200);
  CHECK(f.Status("web")["phase"] == "Running");
  CHECK(f.Container("web")["restartCount"] == 2);
}

TEST_CASE("a start that fails is reported with the runtime's reason and retried with back-off",
          "[agent][supervisor]") {
  Fixture f;
  f.sup->SetAssigned({Pod("web", {Cmd()})}, 0);
  f.sup->StartDue(0);
  f.runtime.FailStart(f.runtime.OnlyStarting(), "pull access denied for web:1");
  f.sup->Tick(100);
  REQUIRE(f.runtime.starting.size() == 1);  // the first retry is at once
  f.runtime.FailStart(f.runtime.OnlyStarting(), "pull access denied for web:1");
  f.sup->Tick(200);
  auto c = f.Container("web");
  CHECK(c["state"]["waiting"]["reason"] == "CrashLoopBackOff");
  CHECK(c["state"]["waiting"]["message"] == "pull access denied for web:1");
  CHECK(c["lastState"]["terminated"]["reason"] == "StartError");
  auto reasons = f.Reasons();
  CHECK(std::count(reasons.begin(), reasons.end(), "Failed") == 2);
  CHECK(f.runtime.starting.empty());
  f.sup->Tick(10'199);
  CHECK(f.runtime.starting.empty());
  f.sup->Tick(10'200);
  CHECK(f.runtime.starting.size() == 1);
}

TEST_CASE(
    "a pod deleted while its container starts is stopped as soon as it has started, and "
    "only then forgotten",
    "[agent][supervisor]") {
  Fixture f;
  f.sup->SetAssigned({Pod("web", {Cmd()})}, 0);
  f.sup->StartDue(0);
  uint64_t run = f.runtime.OnlyStarting();
  f.sup->SetAssigned({}, 100);
  f.sup->Tick(200);
  CHECK(f.sup->pods() == 1);  // kept: its runtime may still start it
  CHECK(f.files.pods.count("uid-web") == 1);
  auto h = f.runtime.FinishStart(run);
  f.sup->Tick(300);
  REQUIRE(f.runtime.stops.size() == 1);
  CHECK(f.runtime.stops[0].first == h.id);
  f.sup->Tick(400);  // its exit came with the stop
  CHECK(f.sup->pods() == 0);
  CHECK(f.files.pods.empty());
  CHECK(f.ports.taken.empty());
}

TEST_CASE(
    "the runtime is chosen per pod, and a pod none can run fails with the first one's "
    "reason",
    "[agent][supervisor]") {
  Fixture f;
  FakeRuntime oci("oci", [](const ContainerLaunch& c) -> std::optional<Refusal> {
    if (c.image.empty()) return Refusal{"CreateContainerConfigError", "an image is required"};
    if (c.image.rfind("bad/", 0) == 0) return Refusal{"InvalidImageName", "not an image name"};
    return std::nullopt;
  });
  FakeRuntime process("process", [](const ContainerLaunch& c) -> std::optional<Refusal> {
    if (c.argv.empty()) return Refusal{"UnsupportedImage", "give the container a command"};
    return std::nullopt;
  });
  f.runtimes = {&oci, &process};
  f.Make();
  json image_only = {{"name", "db"}, {"image", "postgres:14"}};
  json command_only = {{"name", "job"}, {"command", {"true"}}};
  json bad = {{"name", "x"}, {"image", "bad/name"}};
  f.sup->SetAssigned({Pod("db", {image_only}), Pod("job", {command_only}), Pod("bad", {bad})}, 0);
  f.sup->StartDue(0);
  REQUIRE(oci.starting.size() == 1);
  CHECK(oci.starting.begin()->second.image == "postgres:14");
  REQUIRE(process.starting.size() == 1);
  CHECK(process.starting.begin()->second.argv == std::vector<std::string>{"true"});
  json st = f.Status("bad");
  CHECK(st["phase"] == "Failed");
  CHECK(st["reason"] == "InvalidImageName");
  CHECK(st["message"] == "container x: not an image name");
  CHECK(f.Container("bad")["state"]["waiting"]["reason"] == "InvalidImageName");
  // Logs are read by the pod's own runtime.
  auto logs = f.sup->Logs("default", "db", "", 5);
  REQUIRE(logs.ok());
  CHECK(logs.value() == "the oci runtime's log at /mem/default_db_uid-db/db/log, last 5 lines");
}

TEST_CASE(
    "a restarted supervisor adopts its runtime's containers from the checkpoint instead "
    "of starting them again",
    "[agent][supervisor]") {
  Fixture f;
  f.sup->SetAssigned({Pod("web", {Cmd()}), Pod("api", {Cmd()})}, 0);
  f.sup->StartDue(0);
  REQUIRE(f.runtime.starting.size() == 2);
  std::vector<uint64_t> runs;
  for (const auto& [run, launch] : f.runtime.starting)
    runs.push_back(run);
  for (auto run : runs)
    f.runtime.FinishStart(run);
  f.sup->Tick(100);
  REQUIRE(f.sup->running() == 2);

  // The agent goes away (its containers keep running) and comes back.
  f.sup.reset();
  f.runtime.running.clear();
  f.Make();
  f.sup->Recover(200);
  CHECK(f.runtime.starting.empty());
  CHECK(f.runtime.running.size() == 2);  // both adopted
  CHECK(f.sup->running() == 2);
  CHECK(f.ports.taken == std::set<int>{40000, 40001});  // their ports stay theirs
  // An adopted container's exit is still an event, under its new run.
  uint64_t adopted = f.runtime.running.begin()->first;
  f.runtime.Exit(adopted, 0, "Completed");
  f.sup->SetAssigned({Pod("web", {Cmd()}), Pod("api", {Cmd()})}, 300);
  f.sup->Tick(300);
  CHECK(f.sup->running() == 1);
}

TEST_CASE(
    "a handle its runtime no longer knows is not adopted: the container waits for the API "
    "and then starts again",
    "[agent][supervisor]") {
  Fixture f;
  f.sup->SetAssigned({Pod("web", {Cmd()})}, 0);
  f.sup->StartDue(0);
  f.runtime.FinishStart(f.runtime.OnlyStarting());
  f.sup->Tick(100);
  f.sup.reset();
  f.runtime.running.clear();
  f.runtime.refuse_adopt = true;  // e.g. saved before the machine rebooted
  f.Make();
  f.sup->Recover(200);
  f.sup->Tick(300);
  CHECK(f.runtime.starting.empty());  // not before the API says the pod is still ours
  f.sup->SetAssigned({Pod("web", {Cmd()})}, 400);
  f.sup->StartDue(400);
  CHECK(f.runtime.starting.size() == 1);
}

TEST_CASE(
    "an image that cannot be pulled backs off as the kubelet does: ErrImagePull, then "
    "ImagePullBackOff, retried later and later, never counted as a restart",
    "[agent][supervisor]") {
  Fixture f;
  json c = {{"name", "db"}, {"image", "postgres:14"}};
  f.sup->SetAssigned({Pod("db", {c})}, 0);
  f.sup->StartDue(0);
  uint64_t run = f.runtime.OnlyStarting();
  REQUIRE(run != 0);
  f.runtime.Progress(run, "Pulling", "Pulling image \"postgres:14\"");
  f.runtime.FailImage(run, "ErrImagePull", "Failed to pull image \"postgres:14\": no route");
  f.sup->TakeRuntimeEvents(0);
  CHECK(f.Reasons() == std::vector<std::string>{"Pulling", "Failed", "Failed"});
  json st = f.Container("db");
  CHECK(st["state"]["waiting"]["reason"] == "ErrImagePull");
  CHECK(st["restartCount"] == 0);
  CHECK(f.Status("db")["phase"] == "Pending");

  // Not before 10 s; then a second failure shows ImagePullBackOff and waits 20 s.
  f.sup->StartDue(9'999);
  CHECK(f.runtime.OnlyStarting() == 0);
  f.sup->StartDue(10'000);
  run = f.runtime.OnlyStarting();
  REQUIRE(run != 0);
  f.runtime.FailImage(run, "ErrImagePull", "Failed to pull image \"postgres:14\": no route");
  f.sup->TakeRuntimeEvents(10'000);
  CHECK(f.Reasons() == std::vector<std::string>{"Failed", "Failed", "BackOff"});
  st = f.Container("db");
  CHECK(st["state"]["waiting"]["reason"] == "ImagePullBackOff");
  CHECK_THAT(st["state"]["waiting"]["message"].get<std::string>(),
             Catch::Contains("Back-off pulling image \"postgres:14\""));
  f.sup->StartDue(29'999);
  CHECK(f.runtime.OnlyStarting() == 0);
  f.sup->StartDue(30'000);
  run = f.runtime.OnlyStarting();
  REQUIRE(run != 0);

  // The pull works at last: the container runs, with the image's digest, no restart counted.
  f.runtime.Progress(run, "Pulled", "Successfully pulled image \"postgres:14\"");
  f.runtime.FinishStart(run, "docker.io/library/postgres@sha256:" + std::string(64, 'a'));
  f.sup->TakeRuntimeEvents(31'000);
  st = f.Container("db");
  CHECK(st["state"].contains("running"));
  CHECK(st["restartCount"] == 0);
  CHECK(st["imageID"] == "docker.io/library/postgres@sha256:" + std::string(64, 'a'));
  CHECK(f.Reasons() == std::vector<std::string>{"Pulled", "Started"});
}

namespace {

// Addresses handed out in order, and what was asked of them.
struct FakePodAddresses : PodAddresses {
  std::map<std::string, std::string> by_pod;
  std::vector<std::string> detached;
  std::set<std::string> pruned_live;
  int next = 2;
  tug::Result<std::string> Assign(const std::string& uid) override {
    if (!by_pod.count(uid)) by_pod[uid] = "10.88.0." + std::to_string(next++);
    return by_pod[uid];
  }
  tug::Status Detach(const std::string& uid) override {
    detached.push_back(uid);
    by_pod.erase(uid);
    return tug::Status::Ok();
  }
  void Prune(const std::set<std::string>& live) override { pruned_live = live; }
};

struct RecordingForwards : HostPortForwards {
  std::vector<std::string> opened, closed;
  tug::Status Open(const std::string& uid, const std::string& listen,
                   const std::string& target) override {
    opened.push_back(uid + " " + listen + " -> " + target);
    return tug::Status::Ok();
  }
  void Close(const std::string& uid) override { closed.push_back(uid); }
};

}  // namespace

TEST_CASE(
    "a pod whose runtime gives it a network of its own reports its address, has its ports "
    "there, its hostPorts forwarded, and its network removed with it",
    "[agent][supervisor]") {
  Fixture f;
  FakePodAddresses net;
  RecordingForwards fwd;
  f.runtime.gives_pod_network = true;
  auto make = [&] {
    SupervisorOptions o;
    o.node_name = "node-a";
    o.host_ip = "192.0.2.7";
    SupervisorParts parts{f.runtimes, &f.probes, &f.files, &f.ports, &f.clock, &net, &fwd};
    f.sup = std::make_unique<Supervisor>(o, parts);
  };
  make();
  json web = {{"name", "web"},
              {"image", "tug-web"},
              {"env", {{{"name", "ME"}, {"value", "$(POD_IP)"}}}},
              {"ports", {{{"containerPort", 8080}, {"hostPort", 80}}, {{"containerPort", 9090}}}}};
  json host = Pod("on-host", {Cmd()});
  host["spec"]["hostNetwork"] = true;
  f.sup->SetAssigned({Pod("web", {web}), host}, 0);
  f.sup->StartDue(0);
  REQUIRE(f.runtime.starting.size() == 2);
  for (const auto& [run, c] : f.runtime.starting) {
    if (c.id == "default/web/web") {
      CHECK(c.pod_network);
      CHECK(c.pod_uid == "uid-web");
      // The pod's own address; no PORT: its ports are its own, not host ports.
      CHECK(std::count(c.pod_env.begin(), c.pod_env.end(), "ME=10.88.0.2") == 1);
      CHECK(std::count(c.pod_env.begin(), c.pod_env.end(), "POD_IP=10.88.0.2") == 1);
      for (const auto& e : c.env)
        CHECK(e.rfind("PORT=", 0) != 0);
    } else {
      CHECK(!c.pod_network);  // hostNetwork: the host's address and a host port
    }
  }
  CHECK(f.ports.taken.size() == 1);  // the host-network pod's only
  CHECK(fwd.opened == std::vector<std::string>{"uid-web 192.0.2.7:80 -> 10.88.0.2:8080"});
  for (const auto& [run, c] : std::map<uint64_t, ContainerLaunch>(f.runtime.starting))
    f.runtime.FinishStart(run);
  f.sup->Tick(100);
  CHECK(f.Status("web")["podIP"] == "10.88.0.2");
  CHECK(f.Status("web")["podIPs"] == json::array({{{"ip", "10.88.0.2"}}}));
  CHECK(f.Status("web")["hostIP"] == "192.0.2.7");
  CHECK(f.Status("on-host")["podIP"] == "192.0.2.7");

  // A restarted agent keeps the address and forwards again; networks of pods gone are pruned.
  make();
  fwd.opened.clear();
  f.sup->Recover(200);
  CHECK(net.pruned_live == std::set<std::string>{"uid-web", "uid-on-host"});
  CHECK(fwd.opened == std::vector<std::string>{"uid-web 192.0.2.7:80 -> 10.88.0.2:8080"});
  CHECK(f.Status("web")["podIP"] == "10.88.0.2");

  // Deleted: stopped, then its forwards and its network go with it.
  f.sup->SetAssigned({host}, 300);
  f.sup->Tick(400);
  CHECK(fwd.closed == std::vector<std::string>{"uid-web"});
  CHECK(net.detached == std::vector<std::string>{"uid-web"});
  CHECK(net.by_pod.empty());
}
