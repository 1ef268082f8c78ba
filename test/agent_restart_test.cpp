// The agent's restart decisions: restartPolicy as Kubernetes means it, exponential back-off,
// and forgiveness after a long run. Pure: a fake timeline, no processes, no waiting.
#include <catch2/catch.hpp>

#include "agent/restart_policy.h"

using namespace tug::agent;

namespace {

ExitFacts Exit(int code, int64_t started, int64_t exited, int step) {
  ExitFacts f;
  f.exit_code = code;
  f.started_ms = started;
  f.exited_ms = exited;
  f.backoff_step = step;
  return f;
}

}  // namespace

TEST_CASE("restartPolicy decides whether an exited container runs again", "[agent]") {
  struct Case {
    RestartPolicy policy;
    int code;
    bool restart;
  };
  for (const auto& c : std::vector<Case>{{RestartPolicy::kAlways, 0, true},
                                         {RestartPolicy::kAlways, 1, true},
                                         {RestartPolicy::kOnFailure, 0, false},
                                         {RestartPolicy::kOnFailure, 2, true},
                                         {RestartPolicy::kOnFailure, 137, true},  // SIGKILL
                                         {RestartPolicy::kNever, 1, false},
                                         {RestartPolicy::kNever, 0, false}}) {
    INFO("policy " << static_cast<int>(c.policy) << ", exit " << c.code);
    CHECK(DecideRestart(c.policy, Exit(c.code, 0, 1000, 0)).restart == c.restart);
  }
  CHECK(ParseRestartPolicy("OnFailure") == RestartPolicy::kOnFailure);
  CHECK(ParseRestartPolicy("Never") == RestartPolicy::kNever);
  CHECK(ParseRestartPolicy("Always") == RestartPolicy::kAlways);
  CHECK(ParseRestartPolicy("") == RestartPolicy::kAlways);
}

TEST_CASE("a crash loop backs off exponentially up to five minutes", "[agent]") {
  // Crashes right after starting, again and again: immediate, then 10 s, 20 s, 40 s, ...
  int64_t now = 0;
  int step = 0;
  std::vector<int64_t> delays;
  std::vector<std::string> reasons;
  for (int i = 0; i < 10; ++i) {
    auto d = DecideRestart(RestartPolicy::kAlways, Exit(1, now, now + 100, step));
    REQUIRE(d.restart);
    delays.push_back(d.at_ms - (now + 100));
    reasons.push_back(d.waiting_reason);
    step = d.next_backoff_step;
    now = d.at_ms;
  }
  CHECK(delays == std::vector<int64_t>{0, 10000, 20000, 40000, 80000, 160000, 300000, 300000,
                                       300000, 300000});
  CHECK(reasons[0].empty());
  CHECK(reasons[1] == "CrashLoopBackOff");
  CHECK(reasons[9] == "CrashLoopBackOff");
}

TEST_CASE("a long healthy run forgives earlier crashes", "[agent]") {
  // Deep in back-off, then a run of 10 minutes: the next restart is immediate again.
  auto d = DecideRestart(RestartPolicy::kAlways, Exit(1, 0, 600'000, 6));
  CHECK(d.at_ms == 600'000);
  CHECK(d.waiting_reason.empty());
  CHECK(d.next_backoff_step == 1);
  // Just short of it: still backing off.
  d = DecideRestart(RestartPolicy::kAlways, Exit(1, 0, 599'999, 6));
  CHECK(d.at_ms == 599'999 + 300'000);
  // Options are honoured (tests of the supervisor use short ones).
  BackoffOptions fast{10, 80, 1000};
  d = DecideRestart(RestartPolicy::kAlways, Exit(1, 0, 5, 9), fast);
  CHECK(d.at_ms == 5 + 80);
}
