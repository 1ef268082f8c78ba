#include "agent/runtime/process_runtime.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "agent/log_file.h"
#include "base/file.h"

namespace tug::agent {

namespace {

bool Executable(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
}

// The exit code the supervisor process recorded, or -1.
int ReadExitCode(const std::string& state_dir) {
  std::string text;
  if (!ReadWholeFile(state_dir + "/exit", &text)) return -1;
  try {
    return std::stoi(text);
  } catch (...) {
    return -1;
  }
}

// Whether a process other than a zombie is in process group `pgid`.
bool GroupHasLiveMember(pid_t pgid) {
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return false;
  bool found = false;
  while (dirent* e = ::readdir(d)) {
    if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
    std::string stat;
    if (!ReadWholeFile(std::string("/proc/") + e->d_name + "/stat", &stat)) continue;
    size_t close = stat.rfind(')');
    if (close == std::string::npos || close + 2 >= stat.size()) continue;
    char state = stat[close + 2];
    int ppid = 0, pgrp = 0;
    if (std::sscanf(stat.c_str() + close + 3, " %d %d", &ppid, &pgrp) == 2 && pgrp == pgid &&
        state != 'Z' && state != 'X') {
      found = true;
      break;
    }
  }
  ::closedir(d);
  return found;
}

bool SameProcess(const ProcessIdentity& id) {
  auto now = IdentifyProcess(id.pid);
  return now && now->start_ticks == id.start_ticks;
}

}  // namespace

Result<pid_t> SpawnProcess(const std::string& exe, std::vector<std::string> argv_s,
                           std::vector<std::string> env_s, const SpawnOptions& o) {
  std::vector<char*> argv, envp;
  for (auto& a : argv_s)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_s)
    envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);  // not the agent's sockets and files
  if (!o.work_dir.empty()) posix_spawn_file_actions_addchdir_np(&fa, o.work_dir.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t mask, defaults;
  if (o.block_signals) {
    sigfillset(&mask);
  } else {
    sigemptyset(&mask);
  }
  sigemptyset(&defaults);  // not the agent's ignored SIGPIPE
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaddset(&defaults, sig);
  }
  posix_spawnattr_setsigmask(&attr, &mask);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (o.new_session) flags |= POSIX_SPAWN_SETSID;
  if (o.new_group) {
    flags |= POSIX_SPAWN_SETPGROUP;
    posix_spawnattr_setpgroup(&attr, 0);
  }
  posix_spawnattr_setflags(&attr, flags);
  pid_t pid = 0;
  int err = ::posix_spawn(&pid, exe.c_str(), &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (err != 0) return Status::Error(exe + ": " + std::strerror(err));
  return pid;
}

Result<std::string> ResolveExecutable(const std::string& name, const std::vector<std::string>& env,
                                      const std::string& work_dir) {
  if (name.empty()) return Status::Invalid("the command is empty");
  if (name.find('/') != std::string::npos) {
    std::string p = name[0] == '/' ? name : work_dir + "/" + name;
    if (!Executable(p)) return Status::Invalid("executable " + name + " not found");
    return p;
  }
  std::string path = kDefaultPath;
  for (const auto& e : env) {
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (dir.empty()) dir = work_dir;
    if (Executable(dir + "/" + name)) return dir + "/" + name;
    start = end + 1;
  }
  return Status::Invalid("executable file \"" + name + "\" not found in $PATH (" + path + ")");
}

nlohmann::json RunningContainer::ToJson() const {
  return {{"pid", process.pid},
          {"startTicks", process.start_ticks},
          {"stateDir", state_dir},
          {"cgroup", cgroup},
          {"bootId", boot_id}};
}

Result<RunningContainer> RunningContainer::FromJson(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("pid") || !j["pid"].is_number_integer() ||
      !j.contains("startTicks") || !j["startTicks"].is_number_unsigned() ||
      !j.contains("stateDir") || !j["stateDir"].is_string())
    return Status::Invalid("not a running-container record");
  RunningContainer c;
  c.process.pid = j["pid"].get<pid_t>();
  c.process.start_ticks = j["startTicks"].get<uint64_t>();
  c.state_dir = j["stateDir"].get<std::string>();
  if (j.contains("cgroup") && j["cgroup"].is_string()) c.cgroup = j["cgroup"].get<std::string>();
  if (j.contains("bootId") && j["bootId"].is_string()) c.boot_id = j["bootId"].get<std::string>();
  return c;
}

ProcessRuntime::ProcessRuntime(std::string shim, std::optional<MemoryCgroups> cgroups,
                               std::string no_cgroup_reason)
    : shim_(std::move(shim)),
      cgroups_(std::move(cgroups)),
      no_cgroup_reason_(std::move(no_cgroup_reason)) {}

std::optional<Refusal> ProcessRuntime::CanRun(const ContainerLaunch& c) const {
  if (!c.runtime_class.empty() && c.runtime_class != "process")
    return Refusal{"UnsupportedRuntimeClass",
                   "no runtime on this node is called \"" + c.runtime_class + "\""};
  // A container that names an image runs as a host process only when its pod asks for that
  // (runtimeClassName: process): never silently instead of its image.
  if (!c.image.empty() && c.runtime_class != "process")
    return Refusal{"UnsupportedImage",
                   "no runtime on this node can run image \"" + c.image +
                       "\" (runc is not available here); to run the container's command on "
                       "the host instead, set the pod's runtimeClassName: process"};
  if (c.argv.empty())
    return Refusal{"CreateContainerConfigError",
                   c.image.empty() ? "the container has neither a command nor an image"
                                   : "the process runtime runs a container's command, and this "
                                     "one has none"};
  return std::nullopt;
}

void ProcessRuntime::Start(uint64_t run, const ContainerLaunch& c) {
  RuntimeEvent e;
  e.run = run;
  auto launched = Launch(c);
  if (!launched.ok()) {
    e.type = RuntimeEvent::Type::kStartFailed;
    e.message = launched.status().message();
  } else {
    e.type = RuntimeEvent::Type::kStarted;
    e.handle = {name(), std::to_string(launched->process.pid), launched->ToJson(), ""};
    followed_[run] = launched.value();
  }
  events_.push_back(std::move(e));
}

Status ProcessRuntime::Adopt(uint64_t run, const ContainerHandle& h) {
  auto rc = RunningContainer::FromJson(h.state);
  if (!rc.ok()) return rc.status();
  // A record from before a reboot names a PID that now belongs to someone else.
  if (rc->boot_id != CurrentBootId())
    return Status::NotFound("the container was started before this machine rebooted");
  followed_[run] = rc.value();
  return Status::Ok();
}

std::vector<RuntimeEvent> ProcessRuntime::Poll() {
  for (auto it = followed_.begin(); it != followed_.end();) {
    if (auto exit = Inspect(it->second)) {
      RuntimeEvent e;
      e.type = RuntimeEvent::Type::kExited;
      e.run = it->first;
      e.exit = *exit;
      events_.push_back(std::move(e));
      it = followed_.erase(it);
    } else {
      ++it;
    }
  }
  return std::exchange(events_, {});
}

Result<RunningContainer> ProcessRuntime::Launch(const ContainerLaunch& c) {
  if (auto refused = CanRun(c)) return Status::Invalid(refused->message);
  auto exe = ResolveExecutable(c.argv[0], c.env, c.work_dir);
  if (!exe.ok()) return exe.status();
  std::string procs = "-";
  RunningContainer rc;
  rc.state_dir = c.state_dir;
  // Every container gets a group where the machine has them, limit or not: it also finds the
  // container's processes that left its process group (a daemon in a session of its own).
  if (cgroups_) {
    auto made = cgroups_->Create(c.cgroup_name.empty() ? c.id : c.cgroup_name, c.memory_limit_bytes,
                                 c.memory_request_bytes);
    if (!made.ok()) return made.status();
    procs = made.value();
    rc.cgroup = MemoryCgroups::GroupOf(procs);
  }
  std::string exit_path = c.state_dir + "/exit";
  std::remove(exit_path.c_str());
  std::vector<std::string> args = {shim_, exit_path, c.log_path, c.work_dir, procs, exe.value()};
  args.insert(args.end(), c.argv.begin(), c.argv.end());
  // A new session (the container's process group), every signal blocked until the shim is
  // ready to pass them on.
  SpawnOptions so;
  so.new_session = true;
  so.block_signals = true;
  auto spawned = SpawnProcess(shim_, std::move(args), c.env, so);
  if (!spawned.ok()) {
    MemoryCgroups::Remove(rc.cgroup);
    return Status::Error("cannot start " + c.id + ": " + spawned.status().message());
  }
  pid_t pid = spawned.value();
  auto id = IdentifyProcess(pid);
  if (!id) {
    // Our child exists until we reap it; if /proc cannot tell its start time it could never
    // be told from a stranger later: give up on this start rather than run it blind.
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    MemoryCgroups::Remove(rc.cgroup);
    return Status::Error("cannot start " + c.id + ": cannot read /proc/" + std::to_string(pid) +
                         "/stat");
  }
  rc.process = *id;
  rc.boot_id = CurrentBootId();
  return rc;
}

std::optional<ContainerExit> ProcessRuntime::Inspect(const RunningContainer& c) {
  const pid_t pid = c.process.pid;
  int shim_status = -1;
  bool ours = SameProcess(c.process);
  if (ours) {
    siginfo_t info{};
    // Look without reaping: while the exited supervisor is a zombie its PID (the group's ID)
    // cannot be reused, so the group can be killed safely before it is reaped.
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0) {
      if (info.si_pid == 0) return std::nullopt;  // our child, running
      ::kill(-pid, SIGKILL);
      int st = 0;
      if (::waitpid(pid, &st, WNOHANG) == pid) shim_status = st;
    } else if (StillRunning(c.process)) {
      return std::nullopt;  // started by an earlier agent: not ours to wait for
    }
  }
  // Ended. Whatever is left of the group (a background child, or everything if only the
  // supervisor process was killed) goes too, so a restart never runs beside an old copy.
  // The group's ID is the supervisor's PID, which the kernel does not hand out again while
  // the group lives; but if a process has that PID now and is not ours, the group is gone
  // and the PID belongs to someone else.
  if (ours || !IdentifyProcess(pid)) {
    ::kill(-pid, SIGKILL);
    // SIGKILL is delivered asynchronously: give what is left of the group a moment to go, so
    // that a restart does not meet the old copy on its port (bounded; zombies never go).
    for (int i = 0; i < 50 && ::kill(-pid, 0) == 0 && GroupHasLiveMember(pid); ++i)
      ::usleep(2000);
  }
  for (int i = 0; i < 50 && MemoryCgroups::SignalAll(c.cgroup, SIGKILL) > 0; ++i)
    ::usleep(2000);
  ContainerExit e;
  int code = ReadExitCode(c.state_dir);
  if (code >= 0) {
    e.exit_code = code;
  } else if (shim_status >= 0 && WIFSIGNALED(shim_status)) {
    e.exit_code = 128 + WTERMSIG(shim_status);  // killed with its supervisor (SIGKILL)
  } else {
    e.exit_code = 137;
    e.reason = "ContainerStatusUnknown";
    e.message = "the container ended while no agent watched it, and its exit code was lost";
  }
  if (e.reason.empty()) {
    if (MemoryCgroups::OomKilled(c.cgroup)) {
      e.reason = "OOMKilled";
    } else {
      e.reason = e.exit_code == 0 ? "Completed" : "Error";
    }
  }
  MemoryCgroups::Remove(c.cgroup);
  return e;
}

void ProcessRuntime::Stop(const ContainerHandle& h, bool force) {
  auto parsed = RunningContainer::FromJson(h.state);
  if (!parsed.ok()) return;
  const RunningContainer& c = parsed.value();
  // Only while the group leader is still the process we started: its PID (the group's ID)
  // may belong to someone else once it is gone.
  if (SameProcess(c.process)) ::kill(-c.process.pid, force ? SIGKILL : SIGTERM);
  // And those that left the process group but not the cgroup (cgroup members are ours).
  MemoryCgroups::SignalAll(c.cgroup, force ? SIGKILL : SIGTERM);
}

Result<std::string> ProcessRuntime::Logs(const std::string& log_path, int tail_lines) {
  return TailLog(log_path, tail_lines, kLogKeep);
}

std::string ProcessRuntime::MemoryEnforcement() const {
  return cgroups_ ? "" : no_cgroup_reason_;
}

}  // namespace tug::agent
