// Images and runc: how fast the agent's image store pulls an image (against `skopeo copy` of
// the same image from the same registry to a local directory), and how fast a pod of a cached
// image runs on a real agent with runc: bind to Running one pod at a time, then a burst of
// pods on one node. A real docker-registry and a one-member tugd on 127.0.0.1; the agent runs
// as root with a pod range and bridge of the benchmark's own, removed at the end.
//
//   image_bench [--image-mb 120] [--runs 5] [--serial 20] [--pods 100]
//
// The pulled image is files of this machine (/usr/lib, /usr/bin: compressible as real images
// are) in four gzip layers, about --image-mb MiB unpacked. Tug's pull also unpacks every layer
// (and checks its diff_id); skopeo's copy to an OCI layout only downloads and checks digests.
// Bind to Running is measured from the create's acknowledgement (the pod is created already
// bound, spec.nodeName) to the first poll (every 10 ms) that sees phase Running.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/image/image_store.h"
#include "base/command.h"
#include "test/support/agent_fleet.h"
#include "test/support/oci_builder.h"
#include "test/support/registry_process.h"
#include "test/support/temp_dir.h"
#include "test/support/tugd_cluster.h"

using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;
namespace image = tug::agent::image;
using namespace tug::testing;

namespace {

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// About `mb` MiB of this machine's files, in four layers.
BuiltImage BigImage(int64_t mb) {
  std::vector<std::vector<TarEntry>> layers(4);
  int64_t total = 0, limit = mb << 20;
  size_t n = 0;
  for (const char* top : {"/usr/lib", "/usr/bin", "/usr/share"}) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(top, ec);
         !ec && it != fs::recursive_directory_iterator() && total < limit; it.increment(ec)) {
      if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
      auto size = static_cast<int64_t>(it->file_size(ec));
      if (ec || size == 0 || size > (16 << 20)) continue;
      std::string data = Slurp(it->path().string());
      total += static_cast<int64_t>(data.size());
      layers[n++ % 4].push_back(File(it->path().string().substr(1), std::move(data), 0644));
    }
  }
  std::vector<std::string> tars;
  for (const auto& l : layers)
    tars.push_back(MakeTar(l));
  return BuildImage(tars);
}

BuiltImage SmallImage() {
  std::vector<TarEntry> e = {Dir("bin"), File("bin/busybox", Slurp("/bin/busybox"), 0755),
                             Symlink("bin/sh", "busybox"), Symlink("bin/sleep", "busybox")};
  ImageOptions o;
  o.config = {{"Cmd", {"sleep", "100000"}}, {"Env", {"PATH=/bin"}}};
  return BuildImage({MakeTar(e)}, o);
}

json PodFor(const std::string& name, const std::string& image) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec",
           {{"nodeName", "bench-node"},
            {"terminationGracePeriodSeconds", 0},
            {"containers",
             {{{"name", "main"}, {"image", image}, {"imagePullPolicy", "IfNotPresent"}}}}}}};
}

bool Running(const json& pod) {
  return pod.is_object() && pod.contains("status") && pod["status"].value("phase", "") == "Running";
}

}  // namespace

int main(int argc, char** argv) {
  int64_t image_mb = 120;
  int runs = 5, serial = 20, pods = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--image-mb") image_mb = std::atoll(argv[i + 1]);
    if (a == "--runs") runs = std::atoi(argv[i + 1]);
    if (a == "--serial") serial = std::atoi(argv[i + 1]);
    if (a == "--pods") pods = std::atoi(argv[i + 1]);
  }
  if (::geteuid() != 0 || !HaveRegistry() || ::access("/usr/bin/skopeo", X_OK) != 0 ||
      ::access("/usr/sbin/runc", X_OK) != 0) {
    std::fprintf(stderr,
                 "image_bench needs root, runc, skopeo and docker-registry "
                 "(scripts/install-deps.sh installs them)\n");
    return 1;
  }
  RegistryProcess registry;
  if (!registry.ready()) {
    std::fprintf(stderr, "the registry did not start\n");
    return 1;
  }

  // 1. Pull against skopeo copy.
  BuiltImage big = BigImage(image_mb);
  int64_t compressed = 0;
  for (const auto& d : big.layer_digests)
    compressed += static_cast<int64_t>(big.blobs[d].size());
  if (!PushImage(registry.HostPort(), "bench/big", "1", big).ok()) {
    std::fprintf(stderr, "cannot push the image\n");
    return 1;
  }
  const std::string ref = registry.HostPort() + "/bench/big:1";
  std::printf("image_bench: pull of %s (%.1f MiB compressed in %zu layers), %d runs each\n",
              ref.c_str(), static_cast<double>(compressed) / (1 << 20), big.layer_digests.size(),
              runs);
  std::vector<double> tug_ms, skopeo_ms;
  for (int r = 0; r < runs; ++r) {
    {
      TempDir d{"tug-bench-pull"};
      auto store = image::ImageStore::Open(d.path + "/images", {}, image::NewNetworkTransport());
      if (!store.ok()) return 1;
      auto t0 = Clock::now();
      auto pulled = (*store)->Pull(ref, image::PullPolicy::kAlways);
      if (!pulled.ok()) {
        std::fprintf(stderr, "pull failed: %s\n", pulled.status().message().c_str());
        return 1;
      }
      tug_ms.push_back(Ms(Clock::now() - t0));
    }
    {
      TempDir d{"tug-bench-skopeo"};
      auto t0 = Clock::now();
      auto s = tug::RunChecked({"skopeo", "copy", "--quiet", "--src-tls-verify=false",
                                "docker://" + ref, "oci:" + d.path + "/layout:big"});
      if (!s.ok()) {
        std::fprintf(stderr, "%s\n", s.message().c_str());
        return 1;
      }
      skopeo_ms.push_back(Ms(Clock::now() - t0));
    }
  }
  double tug50 = Percentile(tug_ms, 0.5), sk50 = Percentile(skopeo_ms, 0.5);
  std::printf(
      "  tug-agent pull (download, verify, unpack): median %.0f ms (min %.0f, max %.0f)\n"
      "  skopeo copy to a directory (download, verify): median %.0f ms (min %.0f, max %.0f)\n"
      "  ratio tug/skopeo: %.2f\n",
      tug50, Percentile(tug_ms, 0), Percentile(tug_ms, 1), sk50, Percentile(skopeo_ms, 0),
      Percentile(skopeo_ms, 1), sk50 > 0 ? tug50 / sk50 : 0);

  // 2. Pods of a cached image on a real agent.
  if (!PushImage(registry.HostPort(), "bench/sleep", "1", SmallImage()).ok()) return 1;
  const std::string small = registry.HostPort() + "/bench/sleep:1";
  ClusterOptions co;
  co.members = 1;
  TugdCluster c(co);
  c.StartAll();
  if (c.WaitLeader() < 0) {
    std::fprintf(stderr, "no leader\n");
    return 1;
  }
  AgentFleet agents(c);
  const std::string bridge = "tugbench" + std::to_string(::getpid() % 10000);
  agents.Start("bench-node", {"--pod-cidr", "10.252.0.0/22", "--pod-bridge", bridge});
  struct BridgeGone {
    std::string name;
    ~BridgeGone() { (void)tug::RunCommand({"ip", "link", "del", name}); }
  } bridge_gone{bridge};
  tug::net::HttpClient api(c.Apis(), c.Token());
  const std::string kPods = "/api/v1/namespaces/default/pods";
  auto get = [&](const std::string& path) {
    auto r = api.Get(path);
    return r.ok() && r->status == 200 ? json::parse(r->body, nullptr, false) : json();
  };
  if (!WaitFor([&] { return get("/api/v1/nodes/bench-node").is_object(); }, 30s)) {
    std::fprintf(stderr, "the agent did not register:\n%s\n", agents.Logs().c_str());
    return 1;
  }
  // The image cached by a first pod.
  api.Post(kPods, PodFor("warm", small).dump());
  if (!WaitFor([&] { return Running(get(kPods + "/warm")); }, 60s)) {
    std::fprintf(stderr, "the first pod did not run:\n%s\n", agents.Logs().c_str());
    return 1;
  }
  std::vector<double> one;
  for (int i = 0; i < serial; ++i) {
    std::string name = "one-" + std::to_string(i);
    auto r = api.Post(kPods, PodFor(name, small).dump());
    auto t0 = Clock::now();
    if (!r.ok() || r->status != 201) return 1;
    while (!Running(get(kPods + "/" + name)) && Clock::now() - t0 < 30s)
      std::this_thread::sleep_for(10ms);
    one.push_back(Ms(Clock::now() - t0));
  }
  std::printf(
      "bind to Running, one pod at a time, cached image (ms) over %d pods: p50 %.0f  p99 %.0f  "
      "max %.0f\n",
      serial, Percentile(one, 0.5), Percentile(one, 0.99), Percentile(one, 1));

  // A burst: `pods` created at once by four clients.
  std::mutex mu;
  std::map<std::string, Clock::time_point> acked;
  std::atomic<int> next{0};
  auto burst_start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      tug::net::HttpClient client(c.Apis(), c.Token());
      for (int i; (i = next++) < pods;) {
        std::string name = "burst-" + std::to_string(i);
        auto r = client.Post(kPods, PodFor(name, small).dump());
        if (r.ok() && r->status == 201) {
          std::lock_guard<std::mutex> l(mu);
          acked[name] = Clock::now();
        }
      }
    });
  }
  for (auto& t : threads)
    t.join();
  std::map<std::string, Clock::time_point> running;
  while (running.size() < acked.size() && Clock::now() - burst_start < 300s) {
    json list = get(kPods);
    auto now = Clock::now();
    if (list.is_object())
      for (const auto& p : list["items"]) {
        std::string name = p["metadata"].value("name", "");
        if (acked.count(name) && !running.count(name) && Running(p)) running[name] = now;
      }
    std::this_thread::sleep_for(50ms);
  }
  std::vector<double> burst;
  Clock::time_point last = burst_start;
  for (const auto& [name, t] : running) {
    burst.push_back(Ms(t - acked[name]));
    last = std::max(last, t);
  }
  std::printf(
      "%zu of %d pods created at once Running after %.1f s; bind to Running (ms): p50 %.0f  p99 "
      "%.0f  max %.0f\n",
      running.size(), pods, Ms(last - burst_start) / 1000, Percentile(burst, 0.5),
      Percentile(burst, 0.99), Percentile(burst, 1));

  // Everything deleted, and the agent's containers and pod networks gone before it stops.
  json all = get(kPods);
  if (all.is_object())
    for (const auto& p : all["items"])
      api.Do("DELETE", kPods + "/" + p["metadata"].value("name", ""));
  const std::string net_dir = agents.DataDir("bench-node") + "/network";
  bool clean = WaitFor(
      [&] {
        std::error_code ec;
        return agents.ContainerPids("bench-node").empty() &&
               (!fs::exists(net_dir) || fs::is_empty(net_dir, ec));
      },
      120s);
  if (!clean) std::fprintf(stderr, "the agent had not cleaned up within 120 s\n");
  return clean ? 0 : 1;
}
