// tugctl scale: sets a deployment's replicas through its /scale subresource.
#include <memory>

#include "api/json_access.h"
#include "api/printers.h"
#include "cmd/tugctl/selection.h"
#include "cmd/tugctl/verbs.h"

namespace tug::ctl {

using json = nlohmann::json;

namespace {

struct ScaleOptions {
  std::vector<std::string> args;
  int64_t replicas = -1;
  int64_t current_replicas = -1;
};

int RunScale(Ctl& ctl, const ScaleOptions& o) {
  if (o.replicas < 0) return ctl.Fail("--replicas must be 0 or more");
  auto sel = ParseSelection(o.args);
  if (!sel.ok()) return ctl.Fail(sel.status().message());
  if (Status s = ctl.Connect(); !s.ok()) return ctl.Fail(s.message());
  // Everything named is checked before the first write.
  for (const auto& s : sel.value()) {
    if (!s.resource->has_scale)
      return ctl.Fail("cannot scale " + s.resource->name + ": only deployments have replicas");
    if (s.names.empty()) return ctl.Fail("name the deployment to scale");
  }
  int rc = 0;
  for (const auto& s : sel.value()) {
    for (const auto& name : s.names) {
      std::string path = ResourcePath(*s.resource, ctl.ns(), name, "scale");
      json patch = {{"spec", {{"replicas", o.replicas}}}};
      if (o.current_replicas >= 0) {
        // A precondition, as kubectl's: the write carries the resourceVersion it checked.
        auto cur = ctl.GetJson(path);
        if (!cur.ok()) {
          rc = ctl.Fail(cur.status().message());
          continue;
        }
        int64_t now = api::AtInt(cur.value(), {"spec", "replicas"});
        if (now != o.current_replicas) {
          rc = ctl.Fail("expected replicas to be " + std::to_string(o.current_replicas) + ", was " +
                        std::to_string(now));
          continue;
        }
        patch["metadata"] = {
            {"resourceVersion", api::AtString(cur.value(), {"metadata", "resourceVersion"})}};
      }
      auto r = ctl.Request("PATCH", path, patch.dump(), "application/merge-patch+json");
      if (!r.ok()) return ctl.Fail(r.status().message());
      if (r.value().status != 200) {
        rc = ctl.Fail(ServerMessage(r.value()));
        continue;
      }
      ctl.out << api::ObjectRef(*s.resource, name) << " scaled\n";
    }
  }
  return rc;
}

}  // namespace

void AddScale(CLI::App& app, Ctl& ctl) {
  auto o = std::make_shared<ScaleOptions>();
  auto* cmd = app.add_subcommand("scale", "Set the number of replicas of a deployment");
  cmd->add_option("resources", o->args, "deployment NAME or deployment/NAME")->required();
  cmd->add_option("--replicas", o->replicas, "The number of replicas wanted")->required();
  cmd->add_option("--current-replicas", o->current_replicas,
                  "Only scale if the deployment has this many replicas now");
  cmd->footer(R"(Examples:
  tugctl scale deployment web-server --replicas 5
  tugctl scale deploy/web-server --replicas 0
  tugctl scale deployment web-server --current-replicas 3 --replicas 4)");
  cmd->callback([&ctl, o] { ctl.exit_code = RunScale(ctl, *o); });
}

}  // namespace tug::ctl
