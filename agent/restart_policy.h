// When a container that exited is started again: Kubernetes' restartPolicy with exponential
// back-off, as a pure function of what happened (no clock of its own, no processes), so the
// supervisor's decisions are tested without waiting.
//
// - Always: restart after any exit; OnFailure: after a non-zero exit (or a kill); Never: no.
// - The delay before restart k (k = restarts so far) is 10 s x 2^k, at most 5 minutes; a
//   container that ran for 10 minutes before exiting starts the series again.
// - While waiting to restart after repeated failures the container is in CrashLoopBackOff.
#pragma once

#include <cstdint>
#include <string>

namespace tug::agent {

enum class RestartPolicy { kAlways, kOnFailure, kNever };

// "Always", "OnFailure", "Never" (Kubernetes' spelling); anything else is Always, the default.
RestartPolicy ParseRestartPolicy(const std::string& s);

struct BackoffOptions {
  int64_t initial_ms = 10'000;
  int64_t max_ms = 300'000;
  int64_t reset_after_ms = 600'000;  // a run this long forgives earlier crashes
};

struct ExitFacts {
  int exit_code = 0;       // 128 + signal for a container killed by a signal
  int64_t started_ms = 0;  // when this run started
  int64_t exited_ms = 0;   // when it ended
  int restarts = 0;        // restarts so far (the pod's restartCount)
  int backoff_step = 0;    // consecutive quick failures so far (resets after a long run)
};

struct RestartDecision {
  bool restart = false;
  int64_t at_ms = 0;  // when to start it again
  int next_backoff_step = 0;
  // The waiting reason to report until then ("CrashLoopBackOff"), or "" (restart at once, or
  // not at all: then the container stays terminated and the reason is its exit's).
  std::string waiting_reason;
};

RestartDecision DecideRestart(RestartPolicy policy, const ExitFacts& facts,
                              const BackoffOptions& o = {});

}  // namespace tug::agent
