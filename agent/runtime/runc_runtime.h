// The OCI runtime: a container is its image, pulled into the agent's image store, run by runc
// (Debian's package) from a bundle of its own.
//
// A start, off the supervisor's thread (a worker per start, so that a slow pull never stalls
// the other pods): the image as the pull policy asks (Pulling, Pulled events), the root file
// system (overlayfs over the image's layers, or a copy), config.json (oci_spec.h), then a
// Created event. Back on the supervisor's thread, Poll launches `runc run` under tug-shim,
// which keeps the log and the exit code exactly as for the process runtime (runc's exit code
// is the container's). A failed pull is a start failure with reason ErrImagePull (or
// InvalidImageName, ErrImageNeverPull), marked as an image failure so that the supervisor
// backs off as the kubelet does (ImagePullBackOff) without counting a restart.
//
// Control groups: the container's memory limit sits on a group of the agent's making, with
// runc's own groups below it (cgroupsPath), so that an OOM kill is seen on that group after
// runc has removed its own (OOMKilled); CPU quota and shares and the pids limit are runc's.
//
// Stop: SIGTERM through the shim's group reaches `runc run`, which passes it to the
// container's init; force is `runc kill --all KILL`. After an exit, the container is deleted
// from runc, its root file system unmounted and its bundle and groups removed. An agent
// restarted while containers run adopts them through their shims, as the process runtime does.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/image/image_store.h"
#include "agent/network/pod_network.h"
#include "agent/runtime/memory_cgroup.h"
#include "agent/runtime/process_runtime.h"
#include "agent/runtime/runtime.h"

namespace tug::agent {

struct RuncOptions {
  std::string runc = "/usr/sbin/runc";
  std::string state_root;                        // runc --root: <data-dir>/runc
  std::string shim;                              // tug-shim
  std::string resolv_conf = "/etc/resolv.conf";  // copied into each pod on the host's network
  // Pods with a network of their own ask the agent's cluster DNS (dns/dns_server.h) on their
  // gateway address, with Kubernetes' search path for `cluster_domain`.
  bool cluster_dns = true;
  std::string cluster_domain = "cluster.local";
  bool allow_overlay = true;
  int64_t pids_limit = 4096;  // per container, as a fork-bomb guard
  // The node's pod network: a container not on the host's network joins its pod's namespace
  // there. nullptr: each container gets a namespace with only a loopback interface.
  PodNetwork* network = nullptr;
};

class RuncRuntime : public Runtime {
 public:
  // `images` outlives the runtime. `cgroups` nullopt: limits are not enforced (and said so).
  RuncRuntime(RuncOptions o, image::ImageStore& images, std::optional<MemoryCgroups> cgroups,
              std::string no_cgroup_reason);
  ~RuncRuntime() override;

  std::string name() const override { return "runc"; }
  // Containers with an image, unless the pod asks for the process runtime by its
  // runtimeClassName ("process").
  std::optional<Refusal> CanRun(const ContainerLaunch& c) const override;
  void Start(uint64_t run, const ContainerLaunch& c) override;
  Status Adopt(uint64_t run, const ContainerHandle& h) override;
  // Every runc container under the state root that is not known is killed and deleted, with
  // its root file system and groups.
  void RemoveUnknown(const std::vector<ContainerHandle>& known) override;
  void Stop(const ContainerHandle& h, bool force) override;
  std::vector<RuntimeEvent> Poll() override;
  void SetWake(std::function<void()> wake) override;
  Result<std::string> Logs(const std::string& log_path, int tail_lines) override;
  std::string MemoryEnforcement() const override;
  bool GivesPodNetwork(const ContainerLaunch& c) const override {
    return o_.network != nullptr && !c.host_network;
  }
  // `runc exec <id>`: an exec probe runs in the container, as the kubelet's does.
  std::vector<std::string> ExecPrefix(const ContainerHandle& h) const override;

  // Whether runc is on this machine and usable (the agent offers this runtime only then).
  static std::string Unavailable(const std::string& runc);

 private:
  struct Prepared {  // what a worker made, for Poll to launch
    uint64_t run = 0;
    ContainerLaunch launch;
    std::string runc_id, bundle, group, image_id;
  };
  struct Tracked {  // a container from launch to cleanup
    std::string runc_id, bundle, group, image_id, log_path;
    bool oom_checked = false;
  };
  void Work(uint64_t run, ContainerLaunch c);
  void Queue(RuntimeEvent e);
  void Cleanup(const Tracked& t);
  Status RunRunc(const std::vector<std::string>& args);

  RuncOptions o_;
  image::ImageStore& images_;
  std::optional<MemoryCgroups> cgroups_;
  std::string no_cgroup_reason_;
  ProcessRuntime shims_;  // runs `runc run` under tug-shim, outside any limit of its own

  std::mutex mu_;  // guards what follows (workers write, the supervisor's thread reads)
  std::vector<RuntimeEvent> events_;
  std::deque<Prepared> prepared_;
  std::function<void()> wake_;
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::list<Worker> workers_;  // a pull in progress delays the runtime's destruction

  std::map<uint64_t, Tracked> tracked_;    // supervisor's thread only: by run
  std::map<std::string, uint64_t> by_id_;  // runc id -> run
};

}  // namespace tug::agent
