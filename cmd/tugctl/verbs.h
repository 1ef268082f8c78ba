// The verbs, one file each; every Add* registers its subcommand (flags, help, examples) on
// `app` and runs against `ctl` when chosen, leaving the exit code in ctl.exit_code.
#pragma once

#include <CLI/CLI.hpp>

#include "cmd/tugctl/ctl.h"

namespace tug::ctl {

void AddApply(CLI::App& app, Ctl& ctl);
void AddGet(CLI::App& app, Ctl& ctl);
void AddDescribe(CLI::App& app, Ctl& ctl);
void AddDelete(CLI::App& app, Ctl& ctl);
void AddScale(CLI::App& app, Ctl& ctl);
void AddLogs(CLI::App& app, Ctl& ctl);
void AddRollout(CLI::App& app, Ctl& ctl);
void AddCluster(CLI::App& app, Ctl& ctl);
void AddConfig(CLI::App& app, Ctl& ctl);
void AddVersion(CLI::App& app, Ctl& ctl);

// The program: every verb and the global flags. Returns the exit code; output goes to
// ctl.out and ctl.err. `in` is what "-f -" reads.
int RunTugctl(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace tug::ctl
