#include "agent/restart_policy.h"

#include <algorithm>

namespace tug::agent {

RestartPolicy ParseRestartPolicy(const std::string& s) {
  if (s == "OnFailure") return RestartPolicy::kOnFailure;
  if (s == "Never") return RestartPolicy::kNever;
  return RestartPolicy::kAlways;
}

RestartDecision DecideRestart(RestartPolicy policy, const ExitFacts& f, const BackoffOptions& o) {
  RestartDecision d;
  bool failed = f.exit_code != 0;
  d.restart = policy == RestartPolicy::kAlways || (policy == RestartPolicy::kOnFailure && failed);
  if (!d.restart) return d;
  // A long, healthy run forgives what came before it.
  int step = f.exited_ms - f.started_ms >= o.reset_after_ms ? 0 : f.backoff_step;
  // The first restart after a long run is immediate; then 10 s, 20 s, 40 s, ... up to 5 min.
  int64_t delay = 0;
  if (step > 0) {
    delay = o.initial_ms;
    for (int i = 1; i < step && delay < o.max_ms; ++i)
      delay *= 2;
    delay = std::min(delay, o.max_ms);
  }
  d.at_ms = f.exited_ms + delay;
  d.next_backoff_step = step + 1;
  if (delay > 0) d.waiting_reason = "CrashLoopBackOff";
  return d;
}

}  // namespace tug::agent
