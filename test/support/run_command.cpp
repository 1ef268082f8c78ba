#include "test/support/run_command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

extern char** environ;
#include <fstream>
#include <sstream>
#include <thread>

namespace tug::testing {

namespace {

using Clock = std::chrono::steady_clock;

// argv and envp built before fork: the child only calls async-signal-safe functions.
struct Exec {
  Exec(const std::vector<std::string>& args, const CommandOptions& o) : args_(args) {
    for (char** e = environ; *e; ++e) {
      std::string kv = *e;
      std::string k = kv.substr(0, kv.find('='));
      if (!o.env.count(k)) env_.push_back(kv);
    }
    for (const auto& [k, v] : o.env)
      if (v) env_.push_back(k + "=" + *v);
    for (auto& a : args_)
      argv_.push_back(a.data());
    argv_.push_back(nullptr);
    for (auto& e : env_)
      envp_.push_back(e.data());
    envp_.push_back(nullptr);
  }
  [[noreturn]] void Run() {
    // A name without a '/' is looked up on PATH, as a shell would.
    ::execvpe(argv_[0], argv_.data(), envp_.data());
    ::_exit(127);
  }

 private:
  std::vector<std::string> args_, env_;
  std::vector<char*> argv_, envp_;
};

// Exit code of a reaped child, -1 for a signal.
int CodeOf(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

CommandResult RunCommand(const std::vector<std::string>& args, const CommandOptions& o) {
  CommandResult res;
  int in[2], out[2], err[2];
  if (::pipe(in) != 0 || ::pipe(out) != 0 || ::pipe(err) != 0) return res;
  Exec exec(args, o);
  auto start = Clock::now();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]})
      ::close(fd);
    exec.Run();
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  // Small inputs: the pipe holds them; then the child sees end of input.
  if (!o.stdin_text.empty()) {
    ssize_t n = ::write(in[1], o.stdin_text.data(), o.stdin_text.size());
    (void)n;
  }
  ::close(in[1]);
  auto deadline = start + o.timeout;
  bool out_open = true, err_open = true, killed = false;
  char buf[4096];
  while (out_open || err_open) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0 && !killed) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
    pollfd fds[2] = {{out_open ? out[0] : -1, POLLIN, 0}, {err_open ? err[0] : -1, POLLIN, 0}};
    ::poll(fds, 2, killed ? 1000 : static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        (i == 0 ? out_open : err_open) = false;
      } else {
        (i == 0 ? res.out : res.err).append(buf, static_cast<size_t>(n));
      }
    }
  }
  ::close(out[0]);
  ::close(err[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  res.exit_code = killed ? -1 : CodeOf(status);
  res.took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  return res;
}

BackgroundCommand::BackgroundCommand(const std::vector<std::string>& args, const CommandOptions& o,
                                     const std::string& dir) {
  static int seq = 0;
  std::string base = dir + "/bg" + std::to_string(::getpid()) + "_" + std::to_string(seq++);
  out_path_ = base + ".out";
  err_path_ = base + ".err";
  Exec exec(args, o);
  pid_ = ::fork();
  if (pid_ == 0) {
    int fd_in = ::open("/dev/null", O_RDONLY);
    int fd_out = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fd_err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd_in, 0);
    ::dup2(fd_out, 1);
    ::dup2(fd_err, 2);
    exec.Run();
  }
}

BackgroundCommand::~BackgroundCommand() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

std::string BackgroundCommand::Out() const {
  return ReadAll(out_path_);
}
std::string BackgroundCommand::Err() const {
  return ReadAll(err_path_);
}

std::optional<int> BackgroundCommand::Wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = 0;
      return CodeOf(status);
    }
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string l; std::getline(ss, l);)
    out.push_back(l);
  return out;
}

std::vector<std::string> Cells(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  for (std::string w; ss >> w;)
    out.push_back(w);
  return out;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

}  // namespace tug::testing
