// The runc runtime (agent/runtime/runc_runtime.h) for real: a busybox image built here from
// Debian's busybox-static, pushed to a real docker-registry on loopback, pulled, and run by
// the real runc, as root. Where runc, the registry or root is missing, the tests say so and
// stop (CI has all three).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <boost/asio/io_context.hpp>

#include "agent/image/image_store.h"
#include "agent/network/pod_network.h"
#include "agent/probe.h"
#include "agent/runtime/container_rootfs.h"
#include "agent/runtime/memory_cgroup.h"
#include "agent/runtime/runc_runtime.h"
#include "base/command.h"
#include "net/http_client.h"
#include "net/tcp_forwarder.h"
#include "test/support/oci_builder.h"
#include "test/support/programs.h"
#include "test/support/registry_process.h"
#include "test/support/temp_dir.h"

using namespace tug::agent;
using namespace tug::testing;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr const char* kRunc = "/usr/sbin/runc";
constexpr const char* kBusybox = "/bin/busybox";

#define REQUIRE_RUNC()                                                                   \
  if (::geteuid() != 0 || !RuncRuntime::Unavailable(kRunc).empty() || !HaveRegistry() || \
      ::access(kBusybox, X_OK) != 0) {                                                   \
    WARN(                                                                                \
        "skipped: needs root, runc, docker-registry and busybox-static "                 \
        "(scripts/install-deps.sh installs them; CI runs as root)");                     \
    return;                                                                              \
  }

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// busybox with its applets as links, a passwd with an "app" user, an entrypoint-less image
// whose Cmd prints where and who it is.
BuiltImage BusyboxImage() {
  std::vector<TarEntry> base = {Dir("bin"),
                                File("bin/busybox", Slurp(kBusybox), 0755),
                                Dir("etc"),
                                File("etc/passwd",
                                     "root:x:0:0:root:/root:/bin/sh\n"
                                     "app:x:1000:1000:app:/home/app:/bin/sh\n"),
                                File("etc/group", "root:x:0:\napp:x:1000:\nextra:x:2000:app\n"),
                                Dir("tmp", 01777),
                                Dir("srv")};
  for (const char* applet : {"sh", "echo", "sleep", "cat", "id", "pwd", "hostname", "tail", "env",
                             "ls", "true", "grep", "httpd", "wget", "ip", "false", "test"})
    base.push_back(Symlink(std::string("bin/") + applet, "busybox"));
  ImageOptions o;
  o.config = {{"Cmd", {"sh", "-c", "echo image-cmd $A; id -u; pwd; hostname"}},
              {"Env", {"PATH=/bin", "A=from-image", "B=image-only"}},
              {"WorkingDir", "/srv"}};
  return BuildImage({MakeTar(base)}, o);
}

struct Rig {
  TempDir dir{"tug-runc"};
  RegistryProcess registry;
  std::unique_ptr<image::ImageStore> images;
  std::optional<MemoryCgroups> cgroups;
  std::unique_ptr<RuncRuntime> runtime;
  std::string ref;
  uint64_t next_run = 1;

  Rig() {
    REQUIRE(registry.ready());
    auto img = BusyboxImage();
    REQUIRE(PushImage(registry.HostPort(), "test/busybox", "1", img).ok());
    ref = registry.HostPort() + "/test/busybox:1";
    auto store = image::ImageStore::Open(dir.path + "/images", {}, image::NewNetworkTransport());
    REQUIRE(store.ok());
    images = std::move(store).value();
    auto cg = MemoryCgroups::Detect("runc-test-" + std::to_string(::getpid()));
    if (cg.ok()) cgroups = *cg;
    runtime = NewRuntime();
  }
  ~Rig() {
    runtime.reset();
    // Whatever a failed check left running under this rig's runc root: killed and deleted, so
    // that it neither outlives the test nor keeps the machine busy.
    auto listed = tug::RunCommand({kRunc, "--root", dir.path + "/runc", "list", "--quiet"});
    if (listed.ok() && listed->exit_code == 0) {
      std::istringstream ids(listed->output);
      for (std::string id; std::getline(ids, id);) {
        if (id.empty()) continue;
        (void)tug::RunCommand({kRunc, "--root", dir.path + "/runc", "kill", "--all", id, "KILL"});
        (void)tug::RunCommand({kRunc, "--root", dir.path + "/runc", "delete", "--force", id});
      }
    }
    std::error_code ec;
    for (const auto& pod : fs::directory_iterator(dir.path + "/pods", ec))
      (void)ReleaseRootfs(pod.path().string() + "/bundle");
    if (!cgroups) return;
    if (cgroups->v2()) {
      ::rmdir(cgroups->base().c_str());
      return;
    }
    // The node's group, and the paths runc made for it in the other v1 hierarchies.
    std::string rel = cgroups->base().substr(std::string("/sys/fs/cgroup/memory").size());
    ::rmdir(cgroups->base().c_str());
    for (auto& h : fs::directory_iterator("/sys/fs/cgroup"))
      ::rmdir((h.path().string() + rel).c_str());
  }

  std::unique_ptr<RuncRuntime> NewRuntime(bool overlay = true, PodNetwork* network = nullptr) {
    RuncOptions o;
    o.network = network;
    o.runc = kRunc;
    o.state_root = dir.path + "/runc";
    o.shim = Program("tug-shim");
    o.allow_overlay = overlay;
    return std::make_unique<RuncRuntime>(o, *images, cgroups, "no cgroups here");
  }

  ContainerLaunch Launch(const std::string& name) {
    ContainerLaunch c;
    c.id = "default/" + name + "/main";
    c.image = ref;
    c.hostname = name;
    c.state_dir = dir.path + "/pods/" + name;
    c.log_path = c.state_dir + "/log";
    c.cgroup_name = "default_" + name + "_" + std::to_string(next_run);
    fs::create_directories(c.state_dir);
    return c;
  }

  // Events of `run` until one of type `until` (returned), within the deadline.
  std::vector<RuntimeEvent> Until(uint64_t run, RuntimeEvent::Type until,
                                  std::chrono::milliseconds within = 30s) {
    std::vector<RuntimeEvent> seen;
    auto deadline = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < deadline) {
      for (auto& e : runtime->Poll()) {
        if (e.run != run) continue;
        seen.push_back(e);
        if (e.type == until || e.type == RuntimeEvent::Type::kStartFailed ||
            (until != RuntimeEvent::Type::kExited && e.type == RuntimeEvent::Type::kExited))
          return seen;
      }
      std::this_thread::sleep_for(20ms);  // polling interval, bounded by the deadline
    }
    FAIL("no event of the expected type for run " << run << " within the deadline");
    return seen;
  }

  // Starts and runs to its exit.
  ContainerExit RunToExit(const ContainerLaunch& c, uint64_t* run_out = nullptr) {
    uint64_t run = next_run++;
    if (run_out) *run_out = run;
    runtime->Start(run, c);
    auto started = Until(run, RuntimeEvent::Type::kStarted);
    REQUIRE(!started.empty());
    INFO(started.back().message);
    REQUIRE(started.back().type == RuntimeEvent::Type::kStarted);
    auto exited = Until(run, RuntimeEvent::Type::kExited);
    REQUIRE(exited.back().type == RuntimeEvent::Type::kExited);
    return exited.back().exit;
  }
};

bool Mounted(const std::string& under) {
  return Slurp("/proc/self/mountinfo").find(under) != std::string::npos;
}

}  // namespace

TEST_CASE(
    "runc runs an image: entrypoint and cmd as Kubernetes overrides them, env, user, "
    "working dir, hostname, exit code and log",
    "[image][runc]") {
  REQUIRE_RUNC();
  Rig rig;
  // The image's own Cmd, env and working dir; the pod's env after the image's.
  auto c = rig.Launch("web-1");
  c.pod_env = {"A=from-pod"};
  uint64_t run = rig.next_run++;
  rig.runtime->Start(run, c);
  auto events = rig.Until(run, RuntimeEvent::Type::kStarted);
  std::vector<std::string> reasons;
  for (const auto& e : events)
    if (e.type == RuntimeEvent::Type::kProgress) reasons.push_back(e.reason);
  CHECK(reasons == std::vector<std::string>{"Pulling", "Pulled", "Created"});
  REQUIRE(events.back().type == RuntimeEvent::Type::kStarted);
  CHECK(events.back().handle.runtime == "runc");
  auto exit = rig.Until(run, RuntimeEvent::Type::kExited).back().exit;
  CHECK(exit.exit_code == 0);
  CHECK(exit.reason == "Completed");
  CHECK(Slurp(c.log_path) == "image-cmd from-pod\n0\n/srv\nweb-1\n");

  // args replace Cmd; command replaces the entrypoint; runAsUser, workingDir from the pod.
  auto d = rig.Launch("job-2");
  d.command = {"sh", "-c"};
  d.args = {"echo $B; id -u; id -G; pwd; cat /etc/hostname; exit 3"};
  d.run_as_user = 1000;
  d.working_dir = "/tmp";
  exit = rig.RunToExit(d);
  CHECK(exit.exit_code == 3);
  CHECK(exit.reason == "Error");
  CHECK(Slurp(d.log_path) == "image-only\n1000\n1000 2000\n/tmp\njob-2\n");

  // Only args: the image's entrypoint (none) with them.
  auto e = rig.Launch("args-3");
  e.args = {"echo", "just", "args"};
  CHECK(rig.RunToExit(e).exit_code == 0);
  CHECK(Slurp(e.log_path) == "just args\n");

  // Everything it made is gone once it exited: bundle, mounts, runc's record.
  CHECK(!fs::exists(c.state_dir + "/bundle"));
  CHECK(!Mounted(rig.dir.path));
  CHECK(!fs::exists(rig.dir.path + "/runc/" + c.cgroup_name));
}

TEST_CASE("a container over its memory limit is OOMKilled, and a stop is SIGTERM then SIGKILL",
          "[image][runc]") {
  REQUIRE_RUNC();
  Rig rig;
  if (!rig.cgroups) {
    WARN("memory cgroups are not writable here: the OOM part is skipped");
  } else {
    auto hog = rig.Launch("hog");
    hog.command = {"tail", "/dev/zero"};  // holds one endless line in memory
    hog.memory_limit_bytes = 32 << 20;
    auto exit = rig.RunToExit(hog);
    CHECK(exit.reason == "OOMKilled");
    CHECK(exit.exit_code == 137);
  }

  // SIGTERM reaches the container's init, which traps it.
  auto polite = rig.Launch("polite");
  polite.command = {"sh", "-c",
                    "trap 'echo bye; exit 7' TERM; echo up; while true; do sleep 0.05; done"};
  uint64_t run = rig.next_run++;
  rig.runtime->Start(run, polite);
  auto started = rig.Until(run, RuntimeEvent::Type::kStarted).back();
  REQUIRE(started.type == RuntimeEvent::Type::kStarted);
  // Stop only once it is listening for the signal (its "up" line).
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (Slurp(polite.log_path).find("up") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  rig.runtime->Stop(started.handle, false);
  auto exit = rig.Until(run, RuntimeEvent::Type::kExited).back().exit;
  CHECK(exit.exit_code == 7);
  CHECK(Slurp(polite.log_path) == "up\nbye\n");

  // An init that ignores SIGTERM (PID 1 without a handler) goes with force.
  auto stubborn = rig.Launch("stubborn");
  stubborn.command = {"sleep", "1000"};
  run = rig.next_run++;
  rig.runtime->Start(run, stubborn);
  started = rig.Until(run, RuntimeEvent::Type::kStarted).back();
  REQUIRE(started.type == RuntimeEvent::Type::kStarted);
  rig.runtime->Stop(started.handle, true);
  exit = rig.Until(run, RuntimeEvent::Type::kExited, 15s).back().exit;
  CHECK(exit.exit_code == 137);
}

TEST_CASE("an image that cannot be had is an image failure with the kubelet's reason",
          "[image][runc]") {
  REQUIRE_RUNC();
  Rig rig;
  auto c = rig.Launch("missing");
  c.image = rig.registry.HostPort() + "/test/nothere:1";
  rig.runtime->Start(1000, c);
  auto failed = rig.Until(1000, RuntimeEvent::Type::kStartFailed).back();
  REQUIRE(failed.type == RuntimeEvent::Type::kStartFailed);
  CHECK(failed.reason == "ErrImagePull");
  CHECK(failed.image_failure);
  CHECK_THAT(failed.message, Catch::Contains("nothere"));

  c.image = "Not/Valid";
  rig.runtime->Start(1001, c);
  failed = rig.Until(1001, RuntimeEvent::Type::kStartFailed).back();
  CHECK(failed.reason == "InvalidImageName");

  c.image = rig.ref;
  c.pull_policy = "Never";
  rig.runtime->Start(1002, c);
  failed = rig.Until(1002, RuntimeEvent::Type::kStartFailed).back();
  CHECK(failed.reason == "ErrImageNeverPull");

  // A container that names no command, in an image with none: CreateContainerError.
  ImageOptions o;
  auto bare = BuildImage({MakeTar({File("x", "1")})}, o);
  REQUIRE(PushImage(rig.registry.HostPort(), "test/bare", "1", bare).ok());
  c.image = rig.registry.HostPort() + "/test/bare:1";
  c.pull_policy = "";
  rig.runtime->Start(1003, c);
  failed = rig.Until(1003, RuntimeEvent::Type::kStartFailed).back();
  CHECK(failed.reason == "CreateContainerError");
  CHECK(!failed.image_failure);
  CHECK_THAT(failed.message, Catch::Contains("no command specified"));
}

TEST_CASE(
    "a restarted agent's runc runtime adopts a running container, and hundreds of "
    "starts leave nothing behind",
    "[image][runc]") {
  REQUIRE_RUNC();
  Rig rig;
  auto c = rig.Launch("long");
  c.command = {"sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.05; done"};
  rig.runtime->Start(1, c);
  auto started = rig.Until(1, RuntimeEvent::Type::kStarted).back();
  REQUIRE(started.type == RuntimeEvent::Type::kStarted);
  auto saved = started.handle.ToJson();
  // A second one whose handle never reached a checkpoint (the agent died right after it
  // started).
  auto orphan = rig.Launch("orphan");
  orphan.command = {"sh", "-c", "echo up; while true; do sleep 0.05; done"};
  rig.runtime->Start(2, orphan);
  auto orphan_started = rig.Until(2, RuntimeEvent::Type::kStarted).back();
  REQUIRE(orphan_started.type == RuntimeEvent::Type::kStarted);
  // (Started means `runc run` runs; the container exists once it prints.)
  for (auto end = std::chrono::steady_clock::now() + 10s;
       Slurp(orphan.log_path).empty() && std::chrono::steady_clock::now() < end;)
    std::this_thread::sleep_for(20ms);
  rig.runtime = rig.NewRuntime();  // the agent restarts; the containers keep running
  auto handle = ContainerHandle::FromJson(saved);
  REQUIRE(handle.ok());
  REQUIRE(rig.runtime->Adopt(7, *handle).ok());
  // The one nobody knows goes, with its root file system; the adopted one runs on.
  rig.runtime->RemoveUnknown({*handle});
  auto listed = tug::RunCommand({kRunc, "--root", rig.dir.path + "/runc", "list", "--quiet"});
  REQUIRE(listed.ok());
  CHECK(listed->output == handle->id + "\n");
  CHECK(!fs::exists(orphan.state_dir + "/bundle"));
  CHECK(rig.runtime->Poll().empty());  // still running
  rig.runtime->Stop(*handle, true);
  auto exit = rig.Until(7, RuntimeEvent::Type::kExited, 15s).back();
  CHECK(exit.type == RuntimeEvent::Type::kExited);
  CHECK(!fs::exists(c.state_dir + "/bundle"));

  // Many short containers, by overlay and by copy: no mount, bundle, runc record or cgroup
  // outlives its container.
  for (bool overlay : {true, false}) {
    rig.runtime = rig.NewRuntime(overlay);
    for (int i = 0; i < 25; ++i) {
      auto s = rig.Launch("short-" + std::to_string(i));
      s.command = {"true"};
      s.memory_limit_bytes = 64 << 20;
      REQUIRE(rig.RunToExit(s).exit_code == 0);
    }
  }
  CHECK(!Mounted(rig.dir.path));
  for (auto& p : fs::directory_iterator(rig.dir.path + "/pods"))
    CHECK(!fs::exists(p.path() / "bundle"));
  if (fs::exists(rig.dir.path + "/runc")) CHECK(fs::is_empty(rig.dir.path + "/runc"));
  if (rig.cgroups) {
    std::vector<std::string> left;
    for (auto& g : fs::directory_iterator(rig.cgroups->base()))
      if (g.is_directory()) left.push_back(g.path().string());
    INFO("groups left: " << left.size());
    CHECK(left.empty());
  }
}

namespace {

// What an HTTP GET of http://addr/path answers ("" if nothing did).
std::string HttpGet(const std::string& addr, const std::string& path) {
  tug::net::HttpClient c({addr});
  tug::net::RequestOptions o;
  o.timeout = 3s;
  o.max_unreachable_rounds = 1;
  auto r = c.Get(path, o);
  return r.ok() && r->status == 200 ? r->body : "";
}

bool LinkExists(const std::string& name) {
  auto r = tug::RunCommand({"ip", "link", "show", "dev", name});
  return r.ok() && r->exit_code == 0;
}

}  // namespace

TEST_CASE(
    "a pod's containers share a network namespace of their own at an address from the node's "
    "range, reached from the node, through a hostPort relay, and by exec probes inside",
    "[image][runc]") {
  REQUIRE_RUNC();
  Rig rig;
  // A range and bridge of this test's own, removed at the end.
  const std::string bridge = "tugt" + std::to_string(::getpid() % 100000);
  PodNetworkOptions no;
  no.cidr = "10.251." + std::to_string(::getpid() % 250) + ".0/24";
  no.bridge = bridge;
  no.state_dir = rig.dir.path + "/network";
  auto opened = PodNetwork::Open(no);
  REQUIRE(opened.ok());
  auto network = std::move(opened).value();
  const std::string uid = "uid-net-" + std::to_string(::getpid());
  struct Cleanup {  // whatever a failed check left: the pods' namespaces, then the bridge
    std::string bridge, uid;
    ~Cleanup() {
      for (const auto& ns : {PodNetwork::NetnsName(uid), PodNetwork::NetnsName("another")})
        (void)tug::RunCommand({"ip", "netns", "del", ns});
      (void)tug::RunCommand({"ip", "link", "del", bridge});
    }
  } cleanup{bridge, uid};
  rig.runtime = rig.NewRuntime(true, network.get());

  auto ip = network->Assign(uid);
  REQUIRE(ip.ok());
  CHECK(*ip == network->range()->Pod(0));
  auto server = rig.Launch("netpod");
  server.pod_uid = uid;
  server.pod_network = true;
  REQUIRE(rig.runtime->GivesPodNetwork(server));
  server.command = {"sh", "-c",
                    "echo hello from $(hostname) > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"};
  const uint64_t run = rig.next_run++;
  rig.runtime->Start(run, server);
  auto started = rig.Until(run, RuntimeEvent::Type::kStarted);
  INFO(started.back().message);
  REQUIRE(started.back().type == RuntimeEvent::Type::kStarted);
  const ContainerHandle handle = started.back().handle;

  // From the node, at podIP:containerPort.
  std::string answer;
  for (auto end = std::chrono::steady_clock::now() + 10s;
       answer.empty() && std::chrono::steady_clock::now() < end;)
    if ((answer = HttpGet(*ip + ":8080", "/index.html")).empty())
      std::this_thread::sleep_for(50ms);  // until httpd listens
  CHECK(answer == "hello from netpod\n");

  // A second container of the pod reaches the first on 127.0.0.1 and sees the pod's address.
  auto side = rig.Launch("netpod-side");
  side.pod_uid = uid;
  side.pod_network = true;
  side.command = {"sh", "-c",
                  "wget -qO- http://127.0.0.1:8080/index.html; ip -4 -o addr show eth0"};
  CHECK(rig.RunToExit(side).exit_code == 0);
  std::string log = Slurp(side.log_path);
  CHECK(log.find("hello from netpod") != std::string::npos);
  CHECK(log.find("inet " + *ip + "/24") != std::string::npos);

  // A hostPort: the node's port relayed to the pod.
  boost::asio::io_context io;
  tug::net::TcpForwarder forward(io);
  REQUIRE(forward.Listen("127.0.0.1:0", *ip + ":8080").ok());
  std::thread io_thread([&] { io.run(); });
  CHECK(HttpGet("127.0.0.1:" + std::to_string(forward.port()), "/index.html") ==
        "hello from netpod\n");
  forward.Stop();
  io_thread.join();

  // Exec probes run inside the container (the file exists only there).
  ProbeSpec probe;
  probe.kind = ProbeSpec::Kind::kExec;
  probe.timeout_ms = 5000;
  ProbeTarget target;
  target.exec_prefix = rig.runtime->ExecPrefix(handle);
  probe.command = {"test", "-f", "/tmp/index.html"};
  auto ok = RunProbe(probe, target);
  INFO(ok.message);
  CHECK(ok.success);
  probe.command = {"test", "-f", "/no/such/file"};
  CHECK(!RunProbe(probe, target).success);

  // Stopped and detached: no namespace, veth or record is left; the address is free again.
  rig.runtime->Stop(handle, true);
  CHECK(rig.Until(run, RuntimeEvent::Type::kExited, 15s).back().type ==
        RuntimeEvent::Type::kExited);
  CHECK(fs::exists(PodNetwork::NetnsPath(uid)));
  REQUIRE(network->Detach(uid).ok());
  CHECK(!fs::exists(PodNetwork::NetnsPath(uid)));
  CHECK(!LinkExists(PodNetwork::VethName(uid)));
  CHECK(fs::is_empty(no.state_dir));
  CHECK(*network->Assign("another") == network->range()->Pod(0));

  // A restarted agent finds the addresses it gave (records on disk) and prunes the pods gone.
  REQUIRE(network->Attach("another").ok());
  auto again = PodNetwork::Open(no);
  REQUIRE(again.ok());
  CHECK((*again)->AddressOf("another") == network->range()->Pod(0));
  (*again)->Prune({});
  CHECK(!fs::exists(PodNetwork::NetnsPath("another")));
  CHECK(fs::is_empty(no.state_dir));

  // Many pods come and go: no namespace, veth or record outlives its pod.
  for (int i = 0; i < 40; ++i) {
    std::string pod = uid + "-" + std::to_string(i);
    REQUIRE((*again)->Attach(pod).ok());
    REQUIRE((*again)->Detach(pod).ok());
    CHECK(!fs::exists(PodNetwork::NetnsPath(pod)));
    CHECK(!LinkExists(PodNetwork::VethName(pod)));
  }
  CHECK(fs::is_empty(no.state_dir));
}

TEST_CASE("volumes are mounted where volumeMounts say, readOnly honoured", "[image][runc]") {
  REQUIRE_RUNC();
  Rig rig;
  const std::string empty_dir = rig.dir.path + "/pod/.volumes/scratch";
  const std::string host_path = rig.dir.path + "/host-config";
  fs::create_directories(empty_dir);
  fs::create_directories(host_path);
  std::ofstream(host_path + "/setting") << "from the host\n";
  auto c = rig.Launch("vols");
  c.mounts = {{empty_dir, "/data", false}, {host_path, "/config", true}};
  c.command = {"sh", "-c",
               "echo written > /data/out; cat /config/setting; "
               "if echo x > /config/nope; then echo wrote; else echo refused; fi"};
  CHECK(rig.RunToExit(c).exit_code == 0);
  std::string log = Slurp(c.log_path);
  CHECK(Slurp(empty_dir + "/out") == "written\n");  // the pod's emptyDir, on the node
  CHECK(log.find("from the host\n") != std::string::npos);
  CHECK(log.find("refused\n") != std::string::npos);  // readOnly
  CHECK(!fs::exists(host_path + "/nope"));
}

TEST_CASE("a command that cannot be started is a StartError with runc's reason, not an exit code",
          "[image][runc]") {
  REQUIRE_RUNC();
  Rig rig;
  auto c = rig.Launch("nostart");
  c.command = {"/no/such/program"};
  auto exit = rig.RunToExit(c);
  INFO(exit.message);
  CHECK(exit.exit_code == 128);
  CHECK(exit.reason == "StartError");
  CHECK_THAT(exit.message, Catch::Contains("/no/such/program"));
  // A container that exits 1 on its own is an Error, as before.
  auto d = rig.Launch("fails");
  d.command = {"sh", "-c", "exit 1"};
  auto own = rig.RunToExit(d);
  CHECK(own.exit_code == 1);
  CHECK(own.reason == "Error");
}
