#include "base/command.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

extern char** environ;

namespace tug {

namespace {

constexpr size_t kMaxOutput = 64 * 1024;

std::string CommandLine(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv)
    s += (s.empty() ? "" : " ") + a;
  return s;
}

}  // namespace

Result<CommandOutput> RunCommand(const std::vector<std::string>& argv) {
  if (argv.empty()) return Status::Invalid("no command to run");
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return Status::Error(std::string("cannot make a pipe: ") + std::strerror(errno));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // The caller may block signals on its thread; the helper should not inherit that.
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  std::vector<char*> args;
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, argv[0].c_str(), &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return Status::Error("cannot run " + argv[0] + ": " + std::strerror(rc));
  }
  CommandOutput r;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    size_t keep =
        std::min(static_cast<size_t>(n), kMaxOutput - std::min(kMaxOutput, r.output.size()));
    r.output.append(buf, keep);
  }
  ::close(fds[0]);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  return r;
}

Status RunChecked(const std::vector<std::string>& argv) {
  auto r = RunCommand(argv);
  if (!r.ok()) return r.status();
  if (r->exit_code == 0) return Status::Ok();
  std::string out = r->output;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' '))
    out.pop_back();
  return Status::Error(CommandLine(argv) + " failed (exit " + std::to_string(r->exit_code) + ")" +
                       (out.empty() ? "" : ": " + out));
}

}  // namespace tug
