// tugctl rollout status: waits until a deployment's replicas are all updated and ready.
#include <chrono>
#include <memory>
#include <ostream>
#include <thread>

#include "cmd/tugctl/rollout.h"

#include "api/json_access.h"
#include "cmd/tugctl/selection.h"
#include "cmd/tugctl/verbs.h"

namespace tug::ctl {

using json = nlohmann::json;

RolloutState RolloutStatus(const json& d) {
  using api::AtInt;
  std::string name = api::AtString(d, {"metadata", "name"});
  int64_t generation = AtInt(d, {"metadata", "generation"});
  int64_t observed = AtInt(d, {"status", "observedGeneration"});
  int64_t want = AtInt(d, {"spec", "replicas"}, 1);
  int64_t updated = AtInt(d, {"status", "updatedReplicas"});
  int64_t total = AtInt(d, {"status", "replicas"});
  int64_t available = AtInt(d, {"status", "availableReplicas"});
  std::string prefix = "Waiting for deployment \"" + name + "\" rollout to finish: ";
  if (generation > observed) return {false, "Waiting for deployment spec update to be observed..."};
  if (updated < want)
    return {false, prefix + std::to_string(updated) + " out of " + std::to_string(want) +
                       " new replicas have been updated..."};
  if (total > updated)
    return {false,
            prefix + std::to_string(total - updated) + " old replicas are pending termination..."};
  if (available < updated)
    return {false, prefix + std::to_string(available) + " of " + std::to_string(updated) +
                       " updated replicas are available..."};
  return {true, "deployment \"" + name + "\" successfully rolled out"};
}

namespace {

struct RolloutOptions {
  std::vector<std::string> args;
  std::string timeout = "5m";
  bool watch = true;
};

int RunRolloutStatus(Ctl& ctl, const RolloutOptions& o) {
  auto timeout = ParseDuration(o.timeout);
  if (!timeout.ok()) return ctl.Fail("--timeout: " + timeout.status().message());
  auto sel = ParseSelection(o.args);
  if (!sel.ok()) return ctl.Fail(sel.status().message());
  if (sel.value().size() != 1 || sel.value()[0].names.size() != 1)
    return ctl.Fail("name one deployment: tugctl rollout status deployment NAME");
  const Selection& s = sel.value()[0];
  if (s.resource->name != "deployments")
    return ctl.Fail("rollout status watches deployments, not " + s.resource->name);
  if (Status st = ctl.Connect(); !st.ok()) return ctl.Fail(st.message());
  auto start = std::chrono::steady_clock::now();
  std::string path = ResourcePath(*s.resource, ctl.ns(), s.names[0]);
  std::string last;
  for (;;) {
    auto d = ctl.GetJson(path);
    if (!d.ok()) return ctl.Fail(d.status().message());
    RolloutState state = RolloutStatus(d.value());
    if (state.message != last) {
      ctl.out << state.message << "\n" << std::flush;
      last = state.message;
    }
    if (state.done) return 0;
    if (!o.watch) return 0;
    if (timeout.value().count() > 0 && std::chrono::steady_clock::now() - start >= timeout.value())
      return ctl.Fail("timed out after " + o.timeout + " waiting for deployment \"" + s.names[0] +
                      "\" to roll out: " + state.message);
    // A CLI's poll: the deployment's status changes a few times a second at most.
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

}  // namespace

void AddRollout(CLI::App& app, Ctl& ctl) {
  auto* rollout = app.add_subcommand("rollout", "Follow a deployment's rollout");
  rollout->require_subcommand(1);
  auto o = std::make_shared<RolloutOptions>();
  auto* cmd = rollout->add_subcommand(
      "status", "Wait until every replica of a deployment is updated and ready");
  cmd->add_option("resources", o->args, "deployment NAME or deployment/NAME")->required();
  cmd->add_option("--timeout", o->timeout, "Give up after this long (e.g. 90s, 5m; 0: never)")
      ->capture_default_str();
  cmd->add_flag("-w,--watch", o->watch, "Wait (the default); --watch=false prints the state once");
  cmd->footer(R"(Exits 0 once the rollout is complete, 1 on timeout.

Examples:
  tugctl rollout status deployment web-server
  tugctl rollout status deploy/web-server --timeout 2m)");
  cmd->callback([&ctl, o] { ctl.exit_code = RunRolloutStatus(ctl, *o); });
}

}  // namespace tug::ctl
