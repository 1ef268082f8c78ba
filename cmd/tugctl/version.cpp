// tugctl version: this program's version and the server's.
#include <memory>
#include <ostream>

#include "api/json_access.h"
#include "cmd/tugctl/verbs.h"

namespace tug::ctl {

using json = nlohmann::json;

void AddVersion(CLI::App& app, Ctl& ctl) {
  auto client_only = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("version", "Print the client's and the server's versions");
  cmd->add_flag("--client", *client_only, "Only the client's version");
  cmd->footer(R"(Examples:
  tugctl version
  tugctl version --client)");
  cmd->callback([&ctl, client_only] {
    ctl.out << "Client Version: v" << TUG_VERSION << "\n" << std::flush;
    if (*client_only) return;
    if (Status s = ctl.Connect(); !s.ok()) {
      ctl.exit_code = ctl.Fail(s.message());
      return;
    }
    auto v = ctl.GetJson("/version");
    if (!v.ok()) {
      ctl.exit_code = ctl.Fail(v.status().message());
      return;
    }
    ctl.out << "Server Version: " << api::AtString(v.value(), {"gitVersion"}, "<unknown>") << "\n";
  });
}

}  // namespace tug::ctl
