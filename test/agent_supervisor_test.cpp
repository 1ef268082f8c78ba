// The supervisor with real child processes and a fake clock: environment and ports, process
// groups, exit codes, restart policies with back-off, the grace period, probes' effects,
// taking containers over after an agent restart, and images no runtime here can run.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "agent/log_file.h"
#include "agent/runtime/process_runtime.h"
#include "agent/supervisor.h"
#include "base/file.h"
#include "test/support/programs.h"
#include "test/support/temp_dir.h"

using namespace tug::agent;
using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

using tug::testing::TempDir;

namespace {

// Probes are answered by the test, when it chooses.
struct ManualProbes : ProbeRunner {
  std::vector<ProbeKey> asked;
  void Run(const ProbeKey& key, const ProbeSpec&, const ProbeTarget&) override {
    asked.push_back(key);
  }
  std::optional<ProbeKey> Take(bool liveness) {
    for (auto it = asked.begin(); it != asked.end(); ++it) {
      if (it->liveness == liveness) {
        ProbeKey k = *it;
        asked.erase(it);
        return k;
      }
    }
    return std::nullopt;
  }
};

json Pod(const std::string& name, json container, json extra_spec = json::object()) {
  json spec = {{"containers", {container}}, {"nodeName", "node-a"}};
  spec.update(extra_spec);
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"namespace", "default"}, {"uid", "uid-" + name}}},
          {"spec", spec}};
}

// A shell script as a container's command. Kubernetes expands $(VAR) in commands and reads
// "$$" as an escaped "$", so every '$' of the script is doubled.
json Shell(const std::string& script) {
  std::string escaped;
  for (char c : script)
    escaped += c == '$' ? std::string("$$") : std::string(1, c);
  return {{"name", "main"}, {"command", {"/bin/sh", "-c", escaped}}};
}

struct Fixture {
  TempDir dir{"tug-sup"};
  ProcessRuntime runtime{tug::testing::Program("tug-shim"), std::nullopt, "not in this test"};
  ManualProbes probes;
  SupervisorOptions opts() {
    SupervisorOptions o;
    o.node_name = "node-a";
    o.pods_dir = dir.path + "/pods";
    return o;
  }
  std::unique_ptr<Supervisor> sup = std::make_unique<Supervisor>(opts(), runtime, probes);
  // Whatever a failed test left running is killed (by the supervisor, so by PID).
  ~Fixture() {
    if (!sup) return;
    sup->SetAssigned({}, 1'000'000'000);
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (sup->pods() > 0 && std::chrono::steady_clock::now() < deadline) {
      sup->Tick(2'000'000'000);
      std::this_thread::sleep_for(10ms);
    }
  }

  json Status(const std::string& name) {
    for (const auto& r : sup->Reports())
      if (r.name == name) return r.status;
    return json();
  }
  json Container(const std::string& name) {
    json s = Status(name);
    return s.is_object() ? s["containerStatuses"][0] : json();
  }
  // Ticks at fake time `now` until `pred` holds; real time only waits for processes.
  bool TickUntil(int64_t now, const std::function<bool()>& pred,
                 std::chrono::milliseconds limit = 10s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      sup->Tick(now);
      if (pred()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
  std::string WorkFile(const std::string& pod, const std::string& file) {
    std::string text;
    (void)tug::ReadWholeFile(
        dir.path + "/pods/default_" + pod + "_uid-" + pod + "/main/work/" + file, &text);
    return text;
  }
};

pid_t PidIn(const std::string& text) {
  return text.empty() ? 0 : static_cast<pid_t>(std::atoi(text.c_str()));
}

bool Alive(pid_t pid) {
  auto id = IdentifyProcess(pid);
  return id && StillRunning(*id);
}

}  // namespace

TEST_CASE("a container runs with its environment, ports and log, in its own group",
          "[agent][supervisor]") {
  Fixture f;
  json c = Shell(
      "echo $$ > pid; echo \"hello $POD_NAME $POD_NAMESPACE $NODE_NAME port=$PORT "
      "http=$PORT_HTTP metrics=$PORT_METRICS greeting=$GREETING\"; pwd; echo oops >&2; "
      "exec sleep 600");
  c["ports"] = {{{"name", "http"}, {"containerPort", 8080}},
                {{"name", "metrics"}, {"containerPort", 9090}}};
  c["env"] = {{{"name", "GREETING"}, {"value", "hi-$(POD_NAME)"}}};
  f.sup->SetAssigned({Pod("web", c)}, 0);
  REQUIRE(f.TickUntil(0, [&] { return PidIn(f.WorkFile("web", "pid")) > 0; }));
  json st = f.Status("web");
  CHECK(st["phase"] == "Running");
  CHECK(st["hostIP"] == "127.0.0.1");
  json cs = st["containerStatuses"][0];
  CHECK(cs["state"].contains("running"));
  CHECK(cs["restartCount"] == 0);
  int http = cs["ports"][0]["hostPort"], metrics = cs["ports"][1]["hostPort"];
  CHECK(http > 0);
  CHECK(metrics > 0);
  CHECK(http != metrics);
  CHECK(cs["ports"][0]["containerPort"] == 8080);

  auto log = f.sup->LogPath("default", "web", "");
  REQUIRE(log.ok());
  std::string want = "hello web default node-a port=" + std::to_string(http) +
                     " http=" + std::to_string(http) + " metrics=" + std::to_string(metrics) +
                     " greeting=hi-web";
  REQUIRE(f.TickUntil(
      0, [&] { return TailLog(log.value(), -1).value().find("oops") != std::string::npos; }));
  std::string text = TailLog(log.value(), -1).value();
  CHECK(text.find(want) != std::string::npos);
  CHECK(text.find("/pods/default_web_uid-web/main/work\n") != std::string::npos);  // pwd

  // Its own session and process group, led by its supervisor process, not the agent's.
  pid_t pid = PidIn(f.WorkFile("web", "pid"));
  pid_t group = ::getpgid(pid);
  CHECK(group != ::getpgrp());
  CHECK(::getsid(pid) == group);

  // No longer assigned: stopped (sleep dies of SIGTERM) and forgotten, files and all.
  f.sup->SetAssigned({}, 1000);
  REQUIRE(f.TickUntil(1000, [&] { return f.sup->pods() == 0; }));
  CHECK_FALSE(Alive(pid));
  CHECK_FALSE(fs::exists(f.dir.path + "/pods/default_web_uid-web"));
  CHECK(f.sup->Reports().empty());
}

TEST_CASE("exit codes and restart policies, with back-off on a fake clock", "[agent][supervisor]") {
  Fixture f;
  SECTION("Always: a crash loop backs off and says CrashLoopBackOff with the last exit code") {
    f.sup->SetAssigned({Pod("crash", Shell("exit 3"))}, 0);
    // The first crash is restarted at once; the second waits 10 s.
    REQUIRE(f.TickUntil(0, [&] {
      json c = f.Container("crash");
      return c.is_object() && c["state"].contains("waiting") && c["restartCount"] == 1;
    }));
    json c = f.Container("crash");
    CHECK(c["state"]["waiting"]["reason"] == "CrashLoopBackOff");
    CHECK(c["lastState"]["terminated"]["exitCode"] == 3);
    CHECK(c["lastState"]["terminated"]["reason"] == "Error");
    CHECK(f.Status("crash")["phase"] == "Running");
    // Nothing happens before the back-off ends...
    f.sup->Tick(9'999);
    CHECK(f.Container("crash")["restartCount"] == 1);
    // ... then it runs again, and the next wait is 20 s.
    REQUIRE(f.TickUntil(10'000, [&] { return f.Container("crash")["restartCount"] == 2; }));
    REQUIRE(f.TickUntil(10'000, [&] { return f.Container("crash")["state"].contains("waiting"); }));
    f.sup->Tick(29'999);
    CHECK(f.Container("crash")["restartCount"] == 2);
    REQUIRE(f.TickUntil(30'000, [&] { return f.Container("crash")["restartCount"] == 3; }));
  }
  SECTION("OnFailure: a clean exit completes the pod") {
    f.sup->SetAssigned({Pod("job", Shell("exit 0"), {{"restartPolicy", "OnFailure"}})}, 0);
    REQUIRE(f.TickUntil(0, [&] { return f.Status("job")["phase"] == "Succeeded"; }));
    json c = f.Container("job");
    CHECK(c["state"]["terminated"]["exitCode"] == 0);
    CHECK(c["state"]["terminated"]["reason"] == "Completed");
    CHECK(c["restartCount"] == 0);
    CHECK(f.Status("job")["conditions"][2]["reason"] == "PodCompleted");
  }
  SECTION("OnFailure: a failed exit is restarted") {
    f.sup->SetAssigned({Pod("retry", Shell("exit 1"), {{"restartPolicy", "OnFailure"}})}, 0);
    REQUIRE(f.TickUntil(0, [&] { return f.Container("retry")["restartCount"] == 1; }));
  }
  SECTION("Never: a failed exit fails the pod, with the exit code") {
    f.sup->SetAssigned({Pod("once", Shell("exit 7"), {{"restartPolicy", "Never"}})}, 0);
    REQUIRE(f.TickUntil(0, [&] { return f.Status("once")["phase"] == "Failed"; }));
    CHECK(f.Container("once")["state"]["terminated"]["exitCode"] == 7);
    f.sup->Tick(1'000'000);
    CHECK(f.Container("once")["restartCount"] == 0);
  }
  SECTION("a killed process is exit code 128 + signal") {
    f.sup->SetAssigned(
        {Pod("victim", Shell("echo $$ > pid; exec sleep 600"), {{"restartPolicy", "Never"}})}, 0);
    REQUIRE(f.TickUntil(0, [&] { return PidIn(f.WorkFile("victim", "pid")) > 0; }));
    ::kill(PidIn(f.WorkFile("victim", "pid")), SIGKILL);
    REQUIRE(f.TickUntil(0, [&] { return f.Status("victim")["phase"] == "Failed"; }));
    CHECK(f.Container("victim")["state"]["terminated"]["exitCode"] == 137);
  }
  SECTION("a command that does not exist is a start error, retried with back-off") {
    json c = {{"name", "main"}, {"command", {"no-such-program-xyz"}}};
    f.sup->SetAssigned({Pod("typo", c)}, 0);
    REQUIRE(f.TickUntil(0, [&] {
      json s = f.Container("typo");
      return s.is_object() && s["state"].contains("waiting") &&
             s["state"]["waiting"].value("reason", "") == "CrashLoopBackOff";
    }));
    json s = f.Container("typo");
    CHECK(s["state"]["waiting"]["message"].get<std::string>().find("no-such-program-xyz") !=
          std::string::npos);
    CHECK(s["lastState"]["terminated"]["reason"] == "StartError");
  }
}

TEST_CASE("stopping sends SIGTERM to the group, then SIGKILL after the grace period",
          "[agent][supervisor]") {
  Fixture f;
  // Ignores SIGTERM; its background child (started before the trap) does not.
  json c =
      Shell("sleep 600 & echo $! > child; trap '' TERM; echo $$ > pid; while :; do sleep 1; done");
  f.sup->SetAssigned({Pod("stubborn", c, {{"terminationGracePeriodSeconds", 5}})}, 0);
  REQUIRE(f.TickUntil(0, [&] {
    return PidIn(f.WorkFile("stubborn", "pid")) > 0 && PidIn(f.WorkFile("stubborn", "child")) > 0;
  }));
  pid_t pid = PidIn(f.WorkFile("stubborn", "pid"));
  pid_t child = PidIn(f.WorkFile("stubborn", "child"));
  f.sup->SetAssigned({}, 1000);
  f.sup->Tick(1000);
  // The background child took the SIGTERM (the whole group got it); the shell ignored it.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (Alive(child) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  CHECK_FALSE(Alive(child));
  f.sup->Tick(5'999);
  CHECK(Alive(pid));
  CHECK(f.sup->pods() == 1);
  // Grace over: SIGKILL.
  REQUIRE(f.TickUntil(6'000, [&] { return f.sup->pods() == 0; }));
  CHECK_FALSE(Alive(pid));
}

TEST_CASE("an image without a command fails the pod with the reason", "[agent][supervisor]") {
  Fixture f;
  json c = {{"name", "db"}, {"image", "postgres:16"}};
  f.sup->SetAssigned({Pod("db", c)}, 0);
  f.sup->Tick(0);
  json st = f.Status("db");
  CHECK(st["phase"] == "Failed");
  CHECK(st["reason"] == "UnsupportedImage");
  std::string message = st["message"];
  CHECK(message.find("postgres:16") != std::string::npos);
  CHECK(message.find("no runtime on this node can run image") != std::string::npos);
  CHECK(st["containerStatuses"][0]["state"]["waiting"]["reason"] == "UnsupportedImage");
  CHECK(f.sup->running() == 0);
  bool warned = false;
  for (const auto& e : f.sup->TakeEvents())
    warned = warned || (e.reason == "Failed" && e.type == "Warning");
  CHECK(warned);
}

TEST_CASE("probes: readiness sets Ready, failing liveness restarts the container",
          "[agent][supervisor]") {
  Fixture f;
  json c = Shell("echo $$ > pid; exec sleep 600");
  c["readinessProbe"] = {{"tcpSocket", {{"port", 1}}}, {"periodSeconds", 2}};
  c["livenessProbe"] = {
      {"exec", {{"command", {"true"}}}}, {"initialDelaySeconds", 5}, {"failureThreshold", 2}};
  f.sup->SetAssigned({Pod("probed", c, {{"terminationGracePeriodSeconds", 1}})}, 0);
  // Started as the supervisor sees it (the runtime's start event), not only as the process
  // does: probes begin then. (Waiting for the pid file alone raced with the event under ASan.)
  REQUIRE(f.TickUntil(0, [&] {
    return PidIn(f.WorkFile("probed", "pid")) > 0 &&
           f.Container("probed")["state"].contains("running");
  }));
  pid_t first = PidIn(f.WorkFile("probed", "pid"));
  // Not ready until the readiness probe passes; liveness waits for its initial delay.
  CHECK(f.Container("probed")["ready"] == false);
  CHECK(f.Status("probed")["conditions"][2]["status"] == "False");
  auto ready = f.probes.Take(false);
  REQUIRE(ready);
  CHECK_FALSE(f.probes.Take(true));
  f.sup->ProbeDone(*ready, {true, ""}, 100);
  CHECK(f.Container("probed")["ready"] == true);
  CHECK(f.Status("probed")["conditions"][2]["type"] == "Ready");
  CHECK(f.Status("probed")["conditions"][2]["status"] == "True");
  // One readiness probe at a time: none while it is in flight, the next after the period.
  f.sup->Tick(2'000);
  auto again = f.probes.Take(false);
  REQUIRE(again);
  f.sup->ProbeDone(*again, {false, "connection refused"}, 2'000);
  CHECK(f.Container("probed")["ready"] == true);  // one failure is under the threshold (3)

  f.sup->Tick(5'000);
  auto live = f.probes.Take(true);
  REQUIRE(live);
  f.sup->ProbeDone(*live, {false, "exit 1"}, 5'000);
  CHECK(Alive(first));  // 1 of 2
  f.sup->Tick(15'000);
  live = f.probes.Take(true);
  REQUIRE(live);
  f.sup->ProbeDone(*live, {false, "exit 1"}, 15'000);
  // Killed (SIGTERM ends sleep) and restarted: restartCount 1, not ready again.
  REQUIRE(f.TickUntil(15'000, [&] {
    pid_t now = PidIn(f.WorkFile("probed", "pid"));
    return f.Container("probed")["restartCount"] == 1 && now > 0 && now != first;
  }));
  CHECK_FALSE(Alive(first));
  CHECK(f.Container("probed")["ready"] == false);
  CHECK(f.Container("probed")["lastState"]["terminated"]["exitCode"] == 143);
  // A result about the old run is ignored.
  f.sup->ProbeDone(*ready, {true, ""}, 15'000);
  CHECK(f.Container("probed")["ready"] == false);
  bool unhealthy = false;
  for (const auto& e : f.sup->TakeEvents())
    unhealthy = unhealthy || e.reason == "Unhealthy";
  CHECK(unhealthy);
  f.sup->SetAssigned({}, 20'000);
  REQUIRE(f.TickUntil(20'000, [&] { return f.sup->pods() == 0; }));
}

TEST_CASE("a restarted agent takes its running containers over, never twice",
          "[agent][supervisor]") {
  Fixture f;
  json c = Shell("echo $$ >> pids; echo port=$PORT; exec sleep 600");
  c["ports"] = {{{"containerPort", 80}}};
  f.sup->SetAssigned({Pod("kept", c)}, 0);
  REQUIRE(f.TickUntil(0, [&] { return PidIn(f.WorkFile("kept", "pids")) > 0; }));
  json before = f.Container("kept");
  pid_t pid = PidIn(f.WorkFile("kept", "pids"));

  // The agent process goes away (its state stays on disk, its containers keep running).
  f.sup.reset();
  CHECK(Alive(pid));
  f.sup = std::make_unique<Supervisor>(f.opts(), f.runtime, f.probes);
  f.sup->Recover(50'000);
  for (int i = 0; i < 20; ++i) {
    f.sup->Tick(50'000);
    std::this_thread::sleep_for(10ms);
  }
  json after = f.Container("kept");
  CHECK(after["restartCount"] == 0);
  CHECK(after["containerID"] == before["containerID"]);
  CHECK(after["ports"] == before["ports"]);
  CHECK(f.WorkFile("kept", "pids") == std::to_string(pid) + "\n");  // started once only
  CHECK(f.sup->running() == 1);
  // The API's list agrees: still nothing new.
  f.sup->SetAssigned({Pod("kept", c)}, 50'000);
  f.sup->Tick(50'000);
  CHECK(f.sup->running() == 1);

  // Its exit is still seen, with the exit code, though this supervisor did not start it.
  ::kill(pid, SIGKILL);
  REQUIRE(f.TickUntil(50'000, [&] { return f.Container("kept")["restartCount"] == 1; }));
  CHECK(f.Container("kept")["lastState"]["terminated"]["exitCode"] == 137);
  CHECK(f.Container("kept")["ports"] == before["ports"]);  // same host port after restart
  f.sup->SetAssigned({}, 60'000);
  REQUIRE(f.TickUntil(60'000, [&] { return f.sup->pods() == 0; }));
}

TEST_CASE("a saved PID that now belongs to another process is not taken for the container",
          "[agent][supervisor]") {
  Fixture f;
  f.sup->SetAssigned({Pod("gone", Shell("echo $$ >> pids; exec sleep 600"))}, 0);
  REQUIRE(f.TickUntil(0, [&] { return PidIn(f.WorkFile("gone", "pids")) > 0; }));
  pid_t pid = PidIn(f.WorkFile("gone", "pids"));
  f.sup.reset();
  // While no agent ran, the container's whole group died and its PID went to someone else:
  // here, a process of ours that leads a group of its own, started a few clock ticks later
  // (start times count in 10 ms ticks).
  std::string state_path = f.dir.path + "/pods/default_gone_uid-gone/state.json";
  std::string text;
  REQUIRE(tug::ReadWholeFile(state_path, &text).ok());
  json state = json::parse(text);
  pid_t shim = state["containers"][0]["running"]["state"]["pid"];
  ::kill(-shim, SIGKILL);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (Alive(pid) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  REQUIRE_FALSE(Alive(pid));
  std::filesystem::remove(f.dir.path + "/pods/default_gone_uid-gone/main/exit");
  std::this_thread::sleep_for(50ms);
  pid_t other = ::fork();
  if (other == 0) {
    ::setpgid(0, 0);
    ::pause();
    ::_exit(0);
  }
  ::setpgid(other, other);
  state["containers"][0]["running"]["state"]["pid"] = other;
  {
    FILE* out = std::fopen(state_path.c_str(), "w");
    std::fputs(state.dump().c_str(), out);
    std::fclose(out);
  }
  f.sup = std::make_unique<Supervisor>(f.opts(), f.runtime, f.probes);
  f.sup->Recover(0);
  REQUIRE(f.TickUntil(0, [&] { return f.Container("gone")["restartCount"] == 1; }));
  CHECK(f.Container("gone")["lastState"]["terminated"]["reason"] == "ContainerStatusUnknown");
  CHECK(Alive(other));  // and it was not signalled
  ::kill(other, SIGKILL);
  ::waitpid(other, nullptr, 0);
  f.sup->SetAssigned({}, 0);
  REQUIRE(f.TickUntil(0, [&] { return f.sup->pods() == 0; }));
}

TEST_CASE("a pod the control plane failed while the agent was away is stopped",
          "[agent][supervisor]") {
  Fixture f;
  json pod = Pod("lost", Shell("echo $$ > pid; exec sleep 600"));
  f.sup->SetAssigned({pod}, 0);
  REQUIRE(f.TickUntil(0, [&] { return PidIn(f.WorkFile("lost", "pid")) > 0; }));
  pid_t pid = PidIn(f.WorkFile("lost", "pid"));
  pod["status"] = {{"phase", "Failed"}, {"reason", "NodeLost"}};
  f.sup->SetAssigned({pod}, 100);
  REQUIRE(f.TickUntil(100, [&] { return !Alive(pid) && f.sup->running() == 0; }));
  CHECK(f.Status("lost").is_null());  // no more reports: the server's word stands
  f.sup->Tick(1'000'000);
  CHECK(f.sup->running() == 0);  // and it is not started again
}

TEST_CASE("a memory limit is enforced where the machine has memory cgroups",
          "[agent][supervisor]") {
  auto groups = MemoryCgroups::Detect("supervisor-test");
  if (!groups.ok()) {
    WARN("memory limits are not enforced on this machine: " << groups.status().message());
    ProcessRuntime rt(tug::testing::Program("tug-shim"), std::nullopt, groups.status().message());
    CHECK(rt.MemoryEnforcement() == groups.status().message());
    return;
  }
  TempDir dir{"tug-sup"};
  ProcessRuntime runtime(tug::testing::Program("tug-shim"), groups.value(), "");
  CHECK(runtime.MemoryEnforcement().empty());
  ManualProbes probes;
  SupervisorOptions o;
  o.node_name = "node-a";
  o.pods_dir = dir.path + "/pods";
  Supervisor sup(o, runtime, probes);
  // Holds 200 MB in a shell variable under a 32 MiB limit.
  json c = Shell("x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived");
  c["resources"] = {{"limits", {{"memory", "32Mi"}}}};
  sup.SetAssigned({Pod("hog", c, {{"restartPolicy", "Never"}})}, 0);
  json st;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    sup.Tick(0);
    st = sup.Reports()[0].status;
    if (st["phase"] == "Failed" || st["phase"] == "Succeeded") break;
    std::this_thread::sleep_for(20ms);
  }
  CHECK(st["phase"] == "Failed");
  CHECK(st["containerStatuses"][0]["state"]["terminated"]["reason"] == "OOMKilled");
  sup.SetAssigned({}, 0);
  sup.Tick(0);
  MemoryCgroups::Remove(groups->base());
}

TEST_CASE("a stop right after a start is not lost", "[agent][supervisor]") {
  // The SIGTERM may reach the container's group before the container's process exists; it
  // must still end it (the grace period here is 30 s and the clock never moves).
  Fixture f;
  for (int i = 0; i < 5; ++i) {
    f.sup->SetAssigned({Pod("quick", Shell("exec sleep 600"))}, 0);
    f.sup->Tick(0);
    REQUIRE(f.sup->running() == 1);
    f.sup->SetAssigned({}, 0);
    REQUIRE(f.TickUntil(0, [&] { return f.sup->pods() == 0; }));
  }
}

TEST_CASE("after an agent restart a container that was not running waits for the API's word",
          "[agent][supervisor]") {
  Fixture f;
  json pod = Pod("waiting", Shell("echo $$ >> pids; exit 3"));
  f.sup->SetAssigned({pod}, 0);
  // Crashes, restarts at once, crashes again: now in back-off.
  REQUIRE(f.TickUntil(0, [&] {
    json c = f.Container("waiting");
    return c.is_object() && c["restartCount"] == 1 && c["state"].contains("waiting");
  }));
  f.sup.reset();
  f.sup = std::make_unique<Supervisor>(f.opts(), f.runtime, f.probes);
  f.sup->Recover(0);
  // The pod may have been deleted meanwhile: nothing runs before the API has been asked...
  for (int i = 0; i < 10; ++i) {
    f.sup->Tick(1'000'000);
    std::this_thread::sleep_for(10ms);
  }
  CHECK(f.sup->running() == 0);
  CHECK(f.Container("waiting")["restartCount"] == 1);
  // ... and once it says the pod is still here, it runs (restart count kept).
  f.sup->SetAssigned({pod}, 1'000'000);
  REQUIRE(f.TickUntil(1'000'000, [&] { return f.Container("waiting")["restartCount"] == 2; }));
  f.sup->SetAssigned({}, 1'000'000);
  REQUIRE(f.TickUntil(1'000'000, [&] { return f.sup->pods() == 0; }));
}

TEST_CASE("where cgroups exist, a container's daemon in its own session is stopped with it",
          "[agent][supervisor]") {
  auto groups = MemoryCgroups::Detect("supervisor-daemon-test");
  if (!groups.ok()) {
    WARN("no cgroups on this machine: a process that leaves its group escapes a stop ("
         << groups.status().message() << ")");
    return;
  }
  TempDir dir{"tug-sup"};
  ProcessRuntime runtime(tug::testing::Program("tug-shim"), groups.value(), "");
  ManualProbes probes;
  SupervisorOptions o;
  o.node_name = "node-a";
  o.pods_dir = dir.path + "/pods";
  Supervisor sup(o, runtime, probes);
  // `setsid` puts the daemon in a session (and process group) of its own.
  sup.SetAssigned({Pod("daemon", Shell("setsid sleep 600 & echo $! > daemon; exec sleep 600"))}, 0);
  std::string file = dir.path + "/pods/default_daemon_uid-daemon/main/work/daemon";
  pid_t daemon = 0;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (daemon == 0 && std::chrono::steady_clock::now() < deadline) {
    sup.Tick(0);
    std::string text;
    if (tug::ReadWholeFile(file, &text).ok() && !text.empty()) daemon = PidIn(text);
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE(daemon > 0);
  deadline = std::chrono::steady_clock::now() + 10s;
  while (::getsid(daemon) != daemon && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);  // until setsid has run
  CHECK(::getsid(daemon) == daemon);
  sup.SetAssigned({}, 0);
  deadline = std::chrono::steady_clock::now() + 10s;
  while (sup.pods() > 0 && std::chrono::steady_clock::now() < deadline) {
    sup.Tick(0);
    std::this_thread::sleep_for(10ms);
  }
  CHECK(sup.pods() == 0);
  CHECK_FALSE(Alive(daemon));
  if (Alive(daemon)) ::kill(daemon, SIGKILL);
  MemoryCgroups::Remove(groups->base());
}
