// Runs a helper program (ip, runc) to its end and keeps what it printed, so that a failure
// can say why in the helper's own words instead of "exit status 1".
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace tug {

struct CommandOutput {
  int exit_code = 0;   // 128 + signal when killed by one
  std::string output;  // stdout and stderr together, the first 64 KiB
};

// Runs `argv[0]` (a path, or a name looked up on PATH) with `argv`, stdin from /dev/null and
// stdout and stderr captured, and waits for it. Thread-safe. An error only when it could not
// be started.
Result<CommandOutput> RunCommand(const std::vector<std::string>& argv);

// Ok when the command ran and exited 0; else an error that quotes the command line and its
// output ("ip link add … failed (exit 2): RTNETLINK answers: File exists").
Status RunChecked(const std::vector<std::string>& argv);

}  // namespace tug
