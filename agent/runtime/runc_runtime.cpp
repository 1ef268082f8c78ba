#include "agent/runtime/runc_runtime.h"

#include "agent/dns/cluster_dns.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "agent/log_file.h"
#include "agent/runtime/container_rootfs.h"
#include "agent/runtime/oci_spec.h"
#include "base/command.h"
#include "base/file.h"

namespace tug::agent {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kCgroupRoot = "/sys/fs/cgroup";
constexpr const char* kRuncPath =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// A group's path as runc's cgroupsPath wants it: from the root of its hierarchy.
std::string HierarchyPath(const std::string& group, bool v2) {
  std::string root = std::string(kCgroupRoot) + (v2 ? "" : "/memory");
  return group.rfind(root, 0) == 0 ? group.substr(root.size()) : "";
}

// A small file from the image, read only if neither it nor /etc is a link (a link could
// point at the host's files: the image's word about its users is not worth following it).
std::string ImageFile(const std::string& rootfs, const std::string& rel) {
  struct stat st;
  if (::lstat((rootfs + "/etc").c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return "";
  std::string path = rootfs + "/" + rel;
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 20)) return "";
  std::string out;
  (void)ReadWholeFile(path, &out);
  return out;
}

std::string Seconds(std::chrono::milliseconds ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3fs", static_cast<double>(ms.count()) / 1000.0);
  return buf;
}

}  // namespace

RuncRuntime::RuncRuntime(RuncOptions o, image::ImageStore& images,
                         std::optional<MemoryCgroups> cgroups, std::string no_cgroup_reason)
    : o_(std::move(o)),
      images_(images),
      cgroups_(std::move(cgroups)),
      no_cgroup_reason_(std::move(no_cgroup_reason)),
      shims_(o_.shim, std::nullopt, "") {
  std::error_code ec;
  fs::create_directories(o_.state_root, ec);
}

RuncRuntime::~RuncRuntime() {
  for (auto& w : workers_)
    w.thread.join();
}

std::string RuncRuntime::Unavailable(const std::string& runc) {
  if (::access(runc.c_str(), X_OK) != 0)
    return runc + " is not installed (Debian's package runc; scripts/install-deps.sh installs it)";
  if (::geteuid() != 0) return "runc needs root, and tug-agent does not run as root";
  return "";
}

std::optional<Refusal> RuncRuntime::CanRun(const ContainerLaunch& c) const {
  if (c.runtime_class == "process")
    return Refusal{"UnsupportedRuntimeClass", "the pod asks for the process runtime"};
  if (!c.runtime_class.empty() && c.runtime_class != "runc")
    return Refusal{"UnsupportedRuntimeClass",
                   "no runtime on this node is called \"" + c.runtime_class + "\""};
  if (c.image.empty()) return Refusal{"CreateContainerConfigError", "the container names no image"};
  return std::nullopt;
}

void RuncRuntime::SetWake(std::function<void()> wake) {
  std::lock_guard<std::mutex> l(mu_);
  wake_ = std::move(wake);
}

void RuncRuntime::Queue(RuntimeEvent e) {
  std::function<void()> wake;
  {
    std::lock_guard<std::mutex> l(mu_);
    events_.push_back(std::move(e));
    wake = wake_;
  }
  if (wake) wake();
}

void RuncRuntime::Start(uint64_t run, const ContainerLaunch& c) {
  std::lock_guard<std::mutex> l(mu_);
  auto done = std::make_shared<std::atomic<bool>>(false);
  workers_.push_back({std::thread([this, run, c, done] {
                        Work(run, c);
                        done->store(true);
                      }),
                      done});
}

void RuncRuntime::Work(uint64_t run, ContainerLaunch c) {
  auto fail = [&](const std::string& reason, const std::string& message, bool image) {
    RuntimeEvent e;
    e.type = RuntimeEvent::Type::kStartFailed;
    e.run = run;
    e.reason = reason;
    e.message = message;
    e.image_failure = image;
    Queue(std::move(e));
  };
  auto progress = [&](const std::string& reason, const std::string& message) {
    RuntimeEvent e;
    e.type = RuntimeEvent::Type::kProgress;
    e.run = run;
    e.reason = reason;
    e.message = message;
    Queue(std::move(e));
  };

  // The image.
  if (!image::ParseReference(c.image).ok())
    return fail("InvalidImageName",
                "Failed to apply default image tag \"" + c.image +
                    "\": couldn't parse image name \"" + c.image +
                    "\": " + image::ParseReference(c.image).status().message(),
                true);
  auto policy = image::ParsePullPolicy(c.pull_policy, c.image);
  if (!policy.ok()) return fail("CreateContainerConfigError", policy.status().message(), false);
  bool present = images_.Find(c.image).has_value();
  if (*policy == image::PullPolicy::kAlways || (!present && *policy != image::PullPolicy::kNever))
    progress("Pulling", "Pulling image \"" + c.image + "\"");
  auto pulled = images_.Pull(c.image, *policy);
  if (!pulled.ok()) {
    if (*policy == image::PullPolicy::kNever)
      return fail("ErrImageNeverPull", pulled.status().message(), true);
    return fail("ErrImagePull",
                "Failed to pull image \"" + c.image + "\": " + pulled.status().message(), true);
  }
  const image::Image& img = pulled->image;
  if (pulled->pulled) {
    progress("Pulled", "Successfully pulled image \"" + c.image + "\" in " + Seconds(pulled->took) +
                           ". Image size: " + std::to_string(img.size) + " bytes.");
  } else {
    progress("Pulled", "Container image \"" + c.image + "\" already present on machine");
  }

  // The bundle: a root file system, the pod's files, config.json.
  const std::string runc_id = FileSafe(c.cgroup_name.empty() ? c.id : c.cgroup_name);
  const std::string bundle = c.state_dir + "/bundle";
  (void)ReleaseRootfs(bundle);  // what an earlier run of this container left
  auto made = PrepareRootfs(img.layer_dirs, bundle, o_.allow_overlay);
  if (!made.ok()) return fail("CreateContainerError", made.status().message(), false);
  auto failed = [&](const std::string& why) {
    (void)ReleaseRootfs(bundle);
    fail("CreateContainerError", why, false);
  };
  const std::string rootfs = bundle + "/rootfs";
  OciContainer oc;
  oc.hostname = c.hostname;
  oc.rootfs = rootfs;
  oc.image_entrypoint = img.config.entrypoint;
  oc.image_cmd = img.config.cmd;
  oc.image_env = img.config.env;
  oc.image_working_dir = img.config.working_dir;
  oc.image_user = img.config.user;
  oc.passwd = ImageFile(rootfs, "etc/passwd");
  oc.group = ImageFile(rootfs, "etc/group");
  oc.command = c.command;
  oc.args = c.args;
  oc.env = c.pod_env;
  oc.working_dir = c.working_dir;
  oc.run_as_user = c.run_as_user;
  oc.run_as_group = c.run_as_group;
  oc.host_network = c.host_network;
  oc.cpu_limit_millis = c.cpu_limit_millis;
  oc.cpu_request_millis = c.cpu_request_millis;
  oc.pids_limit = o_.pids_limit;
  struct rlimit nofile;
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_max != RLIM_INFINITY)
    oc.nofile_limit = std::min<int64_t>(oc.nofile_limit, static_cast<int64_t>(nofile.rlim_max));
  std::string pod_ip;
  if (c.pod_network && o_.network) {
    // The pod's namespace, made by the first of its containers to get here.
    auto netns = o_.network->Attach(c.pod_uid);
    if (!netns.ok()) return failed(netns.status().message());
    oc.netns_path = *netns;
    pod_ip = o_.network->AddressOf(c.pod_uid).value_or("");
  }
  // As the kubelet writes it: the pod's name resolves to its address.
  std::string hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
  if (!c.hostname.empty())
    hosts += (pod_ip.empty() ? std::string("127.0.1.1") : pod_ip) + "\t" + c.hostname + "\n";
  std::string resolv;
  std::optional<Ipv4Range> range = o_.network ? o_.network->range() : std::nullopt;
  if (c.pod_network && o_.cluster_dns && range) {
    resolv = dns::ResolvConf(c.pod_namespace.empty() ? "default" : c.pod_namespace,
                             range->Gateway(), o_.cluster_domain);
  } else {
    (void)ReadWholeFile(o_.resolv_conf, &resolv);
  }
  for (const auto& [name, text] : {std::pair<std::string, std::string>{"hosts", hosts},
                                   {"resolv.conf", resolv},
                                   {"hostname", c.hostname + "\n"}}) {
    if (auto s = WriteFileAtomically(bundle + "/" + name, text, {0644, false}); !s.ok())
      return failed("cannot write " + name + ": " + s.message());
    oc.mounts.push_back({bundle + "/" + name, "/etc/" + name, false});
  }
  for (const auto& m : c.mounts)
    oc.mounts.push_back({m.source, m.destination, m.read_only});
  std::string group;
  if (cgroups_) {
    // The limit on a group of ours, runc's groups below it: see the header.
    auto procs = cgroups_->Create(runc_id, c.memory_limit_bytes, c.memory_request_bytes);
    if (!procs.ok()) return failed(procs.status().message());
    group = MemoryCgroups::GroupOf(*procs);
    std::string rel = HierarchyPath(group, cgroups_->v2());
    if (rel.empty()) {
      MemoryCgroups::Remove(group);
      return failed("the memory cgroup " + group + " is not under " + kCgroupRoot);
    }
    oc.cgroups_path = rel + "/ctr";
  } else {
    oc.cgroups_path = "/tug/" + runc_id;
  }
  auto spec = BuildOciSpec(oc);
  if (!spec.ok()) {
    MemoryCgroups::Remove(group);
    return failed(spec.status().message());
  }
  if (auto s = WriteFileAtomically(bundle + "/config.json", spec->dump(2), {0644, false});
      !s.ok()) {
    MemoryCgroups::Remove(group);
    return failed("cannot write config.json: " + s.message());
  }
  images_.Touch(img.name);
  progress("Created", "Created container " + c.id.substr(c.id.rfind('/') + 1));
  std::function<void()> wake;
  {
    std::lock_guard<std::mutex> l(mu_);
    prepared_.push_back({run, std::move(c), runc_id, bundle, group, img.ImageId()});
    wake = wake_;
  }
  if (wake) wake();
}

Status RuncRuntime::RunRunc(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {o_.runc, "--root", o_.state_root};
  argv.insert(argv.end(), args.begin(), args.end());
  auto pid = SpawnProcess(o_.runc, argv, {kRuncPath}, {});
  if (!pid.ok()) return pid.status();
  int st = 0;
  ::waitpid(*pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return Status::Error("runc " + args[0] + " failed");
  return Status::Ok();
}

void RuncRuntime::Cleanup(const Tracked& t) {
  (void)RunRunc({"delete", "--force", t.runc_id});
  (void)ReleaseRootfs(t.bundle);
  if (!t.group.empty()) {
    // runc removed its own groups when `runc run` ended (unless it was killed); ours, and the
    // paths runc made in the other hierarchies (cgroup v1), go now. Best effort: rmdir
    // refuses a group that still has processes, and a later cleanup will not find it again.
    std::string rel = HierarchyPath(t.group, cgroups_ && cgroups_->v2());
    std::vector<std::string> roots = {kCgroupRoot};
    std::error_code ec;
    if (!(cgroups_ && cgroups_->v2()))
      for (auto it = fs::directory_iterator(kCgroupRoot, ec); !ec && it != fs::directory_iterator();
           it.increment(ec))
        roots.push_back(it->path().string());
    for (const auto& root : roots) {
      ::rmdir((root + rel + "/ctr").c_str());
      ::rmdir((root + rel).c_str());
    }
    MemoryCgroups::Remove(t.group);
  }
}

Status RuncRuntime::Adopt(uint64_t run, const ContainerHandle& h) {
  if (!h.state.is_object() || !h.state.contains("shim"))
    return Status::Invalid("not a runc container's record");
  auto shim = ContainerHandle::FromJson(h.state["shim"]);
  if (!shim.ok()) return shim.status();
  if (auto s = shims_.Adopt(run, *shim); !s.ok()) return s;
  tracked_[run] = {h.id, h.state.value("bundle", ""), h.state.value("group", ""), h.image_id, ""};
  by_id_[h.id] = run;
  return Status::Ok();
}

void RuncRuntime::RemoveUnknown(const std::vector<ContainerHandle>& known) {
  std::set<std::string> ids;
  for (const auto& h : known)
    ids.insert(h.id);
  auto listed = RunCommand({o_.runc, "--root", o_.state_root, "list", "--quiet"});
  if (!listed.ok() || listed->exit_code != 0) return;  // no state root yet: nothing ran
  std::istringstream lines(listed->output);
  for (std::string id; std::getline(lines, id);) {
    if (id.empty() || ids.count(id) || by_id_.count(id)) continue;
    auto state = RunCommand({o_.runc, "--root", o_.state_root, "state", id});
    json st = state.ok() ? json::parse(state->output, nullptr, false) : json();
    Tracked t;
    t.runc_id = id;
    t.bundle = st.is_object() ? st.value("bundle", "") : "";
    // The group it was given is named as the container is (see Work).
    if (cgroups_) t.group = cgroups_->base() + "/" + id;
    (void)RunRunc({"kill", "--all", id, "KILL"});
    Cleanup(t);
  }
}

void RuncRuntime::Stop(const ContainerHandle& h, bool force) {
  if (!h.state.is_object() || !h.state.contains("shim")) return;
  auto shim = ContainerHandle::FromJson(h.state["shim"]);
  if (!shim.ok()) return;
  // SIGTERM through the shim's group reaches `runc run`, which hands it to the container's
  // init. SIGKILL cannot be handed on: runc kills every process of the container itself.
  if (force) (void)RunRunc({"kill", "--all", h.id, "KILL"});
  shims_.Stop(*shim, force);
}

std::vector<RuntimeEvent> RuncRuntime::Poll() {
  std::deque<Prepared> ready;
  std::vector<RuntimeEvent> out;
  {
    std::lock_guard<std::mutex> l(mu_);
    ready.swap(prepared_);
    out.swap(events_);
  }
  for (auto& p : ready) {
    ContainerLaunch shim;
    shim.id = p.launch.id;
    // --pid-file: written once the container's process runs, so that an exit without it is
    // runc failing to start it (StartError), not the container's own exit code.
    (void)::unlink((p.bundle + "/init.pid").c_str());
    shim.argv = {o_.runc,  "--root",     o_.state_root,          "run",    "--bundle",
                 p.bundle, "--pid-file", p.bundle + "/init.pid", p.runc_id};
    shim.env = {kRuncPath};
    shim.work_dir = p.bundle;
    shim.state_dir = p.launch.state_dir;
    shim.log_path = p.launch.log_path;
    tracked_[p.run] = {p.runc_id, p.bundle, p.group, p.image_id, p.launch.log_path};
    by_id_[p.runc_id] = p.run;
    shims_.Start(p.run, shim);
  }
  for (auto& e : shims_.Poll()) {
    auto t = tracked_.find(e.run);
    if (t == tracked_.end()) {
      out.push_back(std::move(e));
      continue;
    }
    switch (e.type) {
      case RuntimeEvent::Type::kStarted: {
        json state = {
            {"shim", e.handle.ToJson()}, {"bundle", t->second.bundle}, {"group", t->second.group}};
        e.handle = ContainerHandle{name(), t->second.runc_id, state, t->second.image_id};
        break;
      }
      case RuntimeEvent::Type::kStartFailed:
        e.reason = "CreateContainerError";
        Cleanup(t->second);
        by_id_.erase(t->second.runc_id);
        tracked_.erase(t);
        break;
      case RuntimeEvent::Type::kExited:
        if (e.exit.exit_code > 0 && e.exit.exit_code < 128 &&
            ::access((t->second.bundle + "/init.pid").c_str(), F_OK) != 0) {
          // (runc's own failure; a stop that killed runc before the container began is an
          // exit by that signal, as it was asked.)
          // As the kubelet reports a container whose process could not be started: exit code
          // 128, reason StartError, and runc's own words (the last line it wrote to the log).
          e.exit.exit_code = 128;
          e.exit.reason = "StartError";
          auto tail = TailLog(t->second.log_path, 1);
          std::string line = tail.ok() ? *tail : "";
          while (!line.empty() && line.back() == '\n')
            line.pop_back();
          e.exit.message = line.empty() ? "runc could not start the container" : line;
        } else if (MemoryCgroups::OomKilled(t->second.group) ||
                   (e.exit.exit_code == 137 && MemoryCgroups::LimitReached(t->second.group))) {
          e.exit.reason = "OOMKilled";
          e.exit.exit_code = 137;
        }
        Cleanup(t->second);
        by_id_.erase(t->second.runc_id);
        tracked_.erase(t);
        break;
      case RuntimeEvent::Type::kProgress:
        break;
    }
    out.push_back(std::move(e));
  }
  // Workers that are done are joined here, so that hundreds of starts leave no threads.
  std::lock_guard<std::mutex> l(mu_);
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (it->done->load()) {
      it->thread.join();
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::vector<std::string> RuncRuntime::ExecPrefix(const ContainerHandle& h) const {
  return {o_.runc, "--root", o_.state_root, "exec", h.id};
}

Result<std::string> RuncRuntime::Logs(const std::string& log_path, int tail_lines) {
  return shims_.Logs(log_path, tail_lines);
}

std::string RuncRuntime::MemoryEnforcement() const {
  return cgroups_ ? "" : no_cgroup_reason_;
}

}  // namespace tug::agent
