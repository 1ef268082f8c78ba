#include "agent/process_runtime.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "agent/log_file.h"
#include "raftstore/file_util.h"

namespace tug::agent {

namespace {

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

bool Executable(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
}

// Async-signal-safe helpers for the forked supervisor process: no allocation, no locks.
void WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void WriteStr(int fd, const char* s) {
  WriteAll(fd, s, std::strlen(s));
}

// Decimal digits of v into buf (at least 24 bytes); returns the length.
size_t FormatInt(long v, char* buf) {
  char tmp[24];
  size_t n = 0;
  bool neg = v < 0;
  unsigned long u = neg ? 0UL - static_cast<unsigned long>(v) : static_cast<unsigned long>(v);
  do {
    tmp[n++] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u > 0);
  size_t len = 0;
  if (neg) buf[len++] = '-';
  while (n > 0)
    buf[len++] = tmp[--n];
  buf[len] = '\0';
  return len;
}

void CloseFrom(int lowest) {
  if (::close_range(static_cast<unsigned>(lowest), ~0U, 0) == 0) return;
  for (int fd = lowest; fd < 65536; ++fd)
    ::close(fd);
}

// Everything the forked processes need, prepared before fork (they must not allocate).
struct Prepared {
  std::string exe, work_dir, log_path, exit_path, exit_tmp, procs_path;
  std::vector<std::string> argv_s, env_s;
  std::vector<char*> argv, envp;
};

[[noreturn]] void RunSupervisor(const Prepared& p) {
  sigset_t all;
  sigfillset(&all);
  ::sigprocmask(SIG_SETMASK, &all, nullptr);  // nothing interrupts the setup
  ::setsid();
  CloseFrom(3);  // the agent's sockets and files are not the container's
  if (!p.procs_path.empty()) {
    int fd = ::open(p.procs_path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      char buf[24];
      WriteAll(fd, buf, FormatInt(static_cast<long>(::getpid()), buf));
      ::close(fd);
    }
  }
  int log = ::open(p.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  // Nor are the agent's stdin, stdout and stderr (a pipe held open here would never end).
  if (null >= 0) {
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
  }
  pid_t child = ::fork();
  if (child == 0) {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig)
      ::sigaction(sig, &dfl, nullptr);
    if (null >= 0) ::dup2(null, 0);
    if (log >= 0) {
      ::dup2(log, 1);
      ::dup2(log, 2);
    }
    if (::chdir(p.work_dir.c_str()) != 0) {
      WriteStr(2, "tug-agent: cannot enter the working directory ");
      WriteStr(2, p.work_dir.c_str());
      WriteStr(2, "\n");
      ::_exit(127);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(p.exe.c_str(), p.argv.data(), p.envp.data());
    WriteStr(2, "tug-agent: cannot execute ");
    WriteStr(2, p.exe.c_str());
    WriteStr(2, ": ");
    WriteStr(2, ::strerror(errno));  // not async-signal-safe in theory; glibc's is in practice
    WriteStr(2, "\n");
    ::_exit(127);
  }
  // The container is signalled as a group; this process outlives it to record how it ended.
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGUSR1, SIGUSR2})
    ::sigaction(sig, &ign, nullptr);
  if (log >= 0) ::close(log);
  if (null >= 0) ::close(null);
  int code = 127;
  if (child > 0) {
    int st = 0;
    pid_t r;
    while ((r = ::waitpid(child, &st, 0)) < 0 && errno == EINTR) {
    }
    if (r == child) code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  int fd = ::open(p.exit_tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    char buf[24];
    size_t n = FormatInt(code, buf);
    buf[n++] = '\n';
    WriteAll(fd, buf, n);
    ::close(fd);
    ::rename(p.exit_tmp.c_str(), p.exit_path.c_str());
  }
  ::_exit(0);
}

// The exit code the supervisor process recorded, or -1.
int ReadExitCode(const std::string& state_dir) {
  std::string text;
  if (!store::ReadWholeFile(state_dir + "/exit", &text)) return -1;
  try {
    return std::stoi(text);
  } catch (...) {
    return -1;
  }
}

bool SameProcess(const ProcessIdentity& id) {
  auto now = IdentifyProcess(id.pid);
  return now && now->start_ticks == id.start_ticks;
}

}  // namespace

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
          {"cgroup", cgroup}};
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
  return c;
}

ProcessRuntime::ProcessRuntime(std::optional<MemoryCgroups> cgroups, std::string no_cgroup_reason)
    : cgroups_(std::move(cgroups)), no_cgroup_reason_(std::move(no_cgroup_reason)) {}

Status ProcessRuntime::CanRun(const ContainerLaunch& c) const {
  if (!c.argv.empty()) return Status::Ok();
  if (c.image.empty()) return Status::Invalid("the container has neither a command nor an image");
  return Status::Invalid("no runtime on this node can run image \"" + c.image +
                         "\": tug-agent runs containers as processes on the host, from their "
                         "command and args; give the container a command");
}

Result<RunningContainer> ProcessRuntime::Start(const ContainerLaunch& c) {
  if (Status s = CanRun(c); !s) return s;
  auto exe = ResolveExecutable(c.argv[0], c.env, c.work_dir);
  if (!exe.ok()) return exe.status();
  Prepared p;
  p.exe = exe.value();
  p.work_dir = c.work_dir;
  p.log_path = c.log_path;
  p.exit_path = c.state_dir + "/exit";
  p.exit_tmp = c.state_dir + "/exit.tmp";
  RunningContainer rc;
  rc.state_dir = c.state_dir;
  if (cgroups_ && (c.memory_limit_bytes > 0 || c.memory_request_bytes > 0)) {
    auto procs = cgroups_->Create(c.id, c.memory_limit_bytes, c.memory_request_bytes);
    if (!procs.ok()) return procs.status();
    p.procs_path = procs.value();
    rc.cgroup = MemoryCgroups::GroupOf(p.procs_path);
  }
  p.argv_s = c.argv;
  p.env_s = c.env;
  for (auto& a : p.argv_s)
    p.argv.push_back(a.data());
  p.argv.push_back(nullptr);
  for (auto& e : p.env_s)
    p.envp.push_back(e.data());
  p.envp.push_back(nullptr);
  std::remove(p.exit_path.c_str());
  pid_t pid = ::fork();
  if (pid < 0) return Status::Error("cannot start " + c.id + ": fork: " + store::Errno());
  if (pid == 0) RunSupervisor(p);
  auto id = IdentifyProcess(pid);
  // The child exists until we reap it, so it can always be identified.
  rc.process = id ? *id : ProcessIdentity{pid, 0};
  return rc;
}

std::optional<ContainerExit> ProcessRuntime::Inspect(const RunningContainer& c) {
  const pid_t pid = c.process.pid;
  int shim_status = -1;
  bool ours = SameProcess(c.process);
  if (ours) {
    int st = 0;
    pid_t r = ::waitpid(pid, &st, WNOHANG);
    if (r == 0) return std::nullopt;  // our child, running
    if (r == pid) {
      shim_status = st;
    } else if (StillRunning(c.process)) {
      return std::nullopt;  // started by an earlier agent: not ours to wait for
    }
  }
  // Ended. Whatever is left of the group (a background child, or everything if only the
  // supervisor process was killed) goes too, so a restart never runs beside an old copy.
  // The group's ID is the supervisor's PID, which the kernel does not hand out again while
  // the group lives; but if a process has that PID now and is not ours, the group is gone
  // and the PID belongs to someone else.
  if (ours || !IdentifyProcess(pid)) ::kill(-pid, SIGKILL);
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

void ProcessRuntime::Stop(const RunningContainer& c, bool force) {
  // Only while the group leader is still the process we started: its PID (the group's ID)
  // may belong to someone else once it is gone.
  if (!SameProcess(c.process)) return;
  ::kill(-c.process.pid, force ? SIGKILL : SIGTERM);
}

Result<std::string> ProcessRuntime::Logs(const std::string& log_path, int tail_lines) {
  return TailLog(log_path, tail_lines, kLogKeep);
}

std::string ProcessRuntime::MemoryEnforcement() const {
  return cgroups_ ? "" : no_cgroup_reason_;
}

}  // namespace tug::agent
