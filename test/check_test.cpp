// Crash-only invariants: TUG_CHECK stops the process, with a line that says what broke, when
// the Raft core finds its own state impossible, instead of going on from a half-updated core.
// Each case runs in a child process and the parent checks how the child died.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <functional>
#include <string>

#include "base/check.h"
#include "raftstore/raft_log.h"

namespace {

struct Death {
  bool aborted = false;
  std::string stderr_text;
};

// Runs `f` in a child with stderr captured; returns whether it died of SIGABRT and what it
// printed. A child that returns exits 0.
Death RunInChild(const std::function<void()>& f) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(fds[1], STDERR_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    // Catch's own SIGABRT handler would report the abort as this test's failure.
    std::signal(SIGABRT, SIG_DFL);
    f();
    ::_exit(0);
  }
  ::close(fds[1]);
  Death d;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0)
    d.stderr_text.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  d.aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
  return d;
}

tug::raftpb::Entry E(uint64_t index, uint64_t term) {
  tug::raftpb::Entry e;
  e.set_index(index);
  e.set_term(term);
  return e;
}

}  // namespace

TEST_CASE("TUG_CHECK aborts with the condition and the message, and is silent when it holds",
          "[check]") {
  Death d = RunInChild([] { TUG_CHECK(1 + 1 == 3, "arithmetic is " + std::string("broken")); });
  CHECK(d.aborted);
  CHECK_THAT(d.stderr_text, Catch::Contains("invariant (1 + 1 == 3) broken: arithmetic is broken"));
  CHECK_THAT(d.stderr_text, Catch::Contains("check_test.cpp"));

  Death ok = RunInChild([] { TUG_CHECK(2 + 2 == 4, "never printed"); });
  CHECK(!ok.aborted);
  CHECK(ok.stderr_text.empty());
}

TEST_CASE("raft log: an append that would drop committed entries stops the process", "[check]") {
  Death d = RunInChild([] {
    tug::raft::RaftLog log;
    log.Append({E(1, 1), E(2, 1), E(3, 1)});
    log.CommitTo(3);
    log.Append({E(2, 2)});  // a bug in the caller: entries 2 and 3 are committed
  });
  CHECK(d.aborted);
  CHECK_THAT(d.stderr_text, Catch::Contains("append at 2 (committed 3, last 3) would truncate "
                                            "committed entries"));

  // The same log accepts a legal append (after the committed entries) without a word.
  Death ok = RunInChild([] {
    tug::raft::RaftLog log;
    log.Append({E(1, 1), E(2, 1), E(3, 1)});
    log.CommitTo(2);
    log.Append({E(3, 2), E(4, 2)});
  });
  CHECK(!ok.aborted);
  CHECK(ok.stderr_text.empty());
}
