// tug-shim: the small process that sits between tug-agent and one container.
//
//   tug-shim EXIT_FILE LOG_FILE WORK_DIR CGROUP_PROCS|- EXECUTABLE ARGV0 [ARGS...]
//
// tug-agent starts it (in a new session: it leads the container's process group) with the
// container's environment. It joins the memory cgroup, starts the container with stdout and
// stderr appended to LOG_FILE and WORK_DIR as its working directory, waits for it, and writes
// its exit code (128 + signal if killed) to EXIT_FILE. So the exit code is known even when the
// agent restarted while the container ran (a new agent is not its parent and cannot wait for
// it), and the log keeps filling while no agent runs.
//
// It is its own small program, not a fork of the agent, so that it does not share the agent's
// memory: a forked copy would make every page the agent writes afterwards a copy-on-write
// fault, for as long as the container runs.
//
// It ignores SIGTERM and the like (they are for the container, sent to the whole group) and
// starts with every signal blocked, so none arrives before it is ready.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

extern char** environ;

namespace {

void Say(const std::string& s) {
  (void)!::write(2, s.data(), s.size());
}

void WriteExit(const char* path, int code) {
  std::string tmp = std::string(path) + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  std::string text = std::to_string(code) + "\n";
  (void)!::write(fd, text.data(), text.size());
  ::close(fd);
  ::rename(tmp.c_str(), path);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 7) {
    Say("usage: tug-shim EXIT_FILE LOG_FILE WORK_DIR CGROUP_PROCS|- EXECUTABLE ARGV0 [ARGS...]\n");
    return 2;
  }
  const char* exit_file = argv[1];
  const char* log_file = argv[2];
  const char* work_dir = argv[3];
  const char* procs = argv[4];
  const char* exe = argv[5];
  char** child_argv = argv + 6;
  sigset_t all;
  sigfillset(&all);
  ::sigprocmask(SIG_SETMASK, &all, nullptr);
  int log = ::open(log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (std::strcmp(procs, "-") != 0) {
    int fd = ::open(procs, O_WRONLY | O_CLOEXEC);
    std::string pid = std::to_string(::getpid());
    if (fd < 0 || ::write(fd, pid.data(), pid.size()) < 0) {
      // Running without the limit would be a silent lie: fail the start, saying why.
      std::string why = std::string("tug-shim: cannot join the memory cgroup ") + procs + ": " +
                        std::strerror(errno) + "\n";
      if (log >= 0) (void)!::write(log, why.data(), why.size());
      WriteExit(exit_file, 126);
      return 0;
    }
    ::close(fd);
  }
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  pid_t child = ::fork();
  if (child == 0) {
    if (null >= 0) ::dup2(null, 0);
    if (log >= 0) {
      ::dup2(log, 1);
      ::dup2(log, 2);
    }
    if (::chdir(work_dir) != 0) {
      Say(std::string("tug-shim: cannot enter the working directory ") + work_dir + ": " +
          std::strerror(errno) + "\n");
      ::_exit(127);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(exe, child_argv, environ);
    Say(std::string("tug-shim: cannot execute ") + exe + ": " + std::strerror(errno) + "\n");
    ::_exit(127);
  }
  // A signal sent to the group before the container existed is pending here only (blocked):
  // pass it on before ignoring it, or a stop right after a start would be lost. One sent from
  // now on reaches the container directly.
  sigset_t pending;
  sigemptyset(&pending);
  ::sigpending(&pending);
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGUSR1, SIGUSR2}) {
    if (child > 0 && sig != SIGPIPE && sigismember(&pending, sig)) ::kill(child, sig);
    ::sigaction(sig, &ign, nullptr);
  }
  if (log >= 0) ::close(log);
  int code = 127;
  if (child > 0) {
    int st = 0;
    pid_t r;
    while ((r = ::waitpid(child, &st, 0)) < 0 && errno == EINTR) {
    }
    if (r == child) code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  } else {
    Say(std::string("tug-shim: cannot fork: ") + std::strerror(errno) + "\n");
  }
  WriteExit(exit_file, code);
  return 0;
}
