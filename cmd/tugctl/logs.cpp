// tugctl logs: a container's output, through the API server (which asks the pod's agent).
#include <chrono>
#include <memory>
#include <ostream>

#include "api/json_access.h"
#include "cmd/tugctl/selection.h"
#include "cmd/tugctl/verbs.h"

namespace tug::ctl {

using json = nlohmann::json;

namespace {

struct LogsOptions {
  std::vector<std::string> args;
  std::string container;
  bool follow = false;
  int64_t tail = -1;
};

// A pod name from "POD", "pod/POD" or "deployment/NAME" (its first pod, as kubectl picks one).
Result<std::string> PodName(Ctl& ctl, const std::vector<std::string>& args) {
  if (args.size() != 1) return Status::Invalid("name one pod: tugctl logs POD [-c CONTAINER]");
  const std::string& a = args[0];
  auto slash = a.find('/');
  if (slash == std::string::npos) return a;
  auto r = ResolveType(a.substr(0, slash));
  if (!r.ok()) return r.status();
  std::string name = a.substr(slash + 1);
  if (r.value()->name == "pods") return name;
  if (r.value()->name != "deployments")
    return Status::Invalid("logs come from pods, or a deployment's pod (got " + a + ")");
  auto d = ctl.GetJson(ResourcePath(*r.value(), ctl.ns(), name));
  if (!d.ok()) return d.status();
  std::string selector;
  const json& ml = api::At(d.value(), {"spec", "selector", "matchLabels"});
  if (ml.is_object())
    for (const auto& [k, v] : ml.items())
      selector +=
          (selector.empty() ? "" : ",") + k + "=" + (v.is_string() ? v.get<std::string>() : "");
  if (selector.empty()) return Status::Invalid("deployment " + name + " has no selector");
  auto pods = ctl.GetJson(ResourcePath(*api::ResolveResource("pods"), ctl.ns()) +
                          "?labelSelector=" + QueryEscape(selector));
  if (!pods.ok()) return pods.status();
  std::string first;
  for (const auto& p : api::AtArray(pods.value(), {"items"})) {
    std::string n = api::AtString(p, {"metadata", "name"});
    if (n.empty()) continue;
    bool running = api::AtString(p, {"status", "phase"}) == "Running";
    if (first.empty() || running) first = n;
    if (running) break;
  }
  if (first.empty()) return Status::NotFound("deployment " + name + " has no pods");
  return first;
}

int RunLogs(Ctl& ctl, const LogsOptions& o) {
  if (Status s = ctl.Connect(); !s.ok()) return ctl.Fail(s.message());
  auto pod = PodName(ctl, o.args);
  if (!pod.ok()) return ctl.Fail(pod.status().message());
  std::string target = ResourcePath(*api::ResolveResource("pods"), ctl.ns(), pod.value(), "log");
  std::string q;
  if (!o.container.empty()) q += "&container=" + QueryEscape(o.container);
  if (o.tail >= 0) q += "&tailLines=" + std::to_string(o.tail);
  if (o.follow) q += "&follow=true";
  if (!q.empty()) target += "?" + q.substr(1);
  if (!o.follow) {
    auto r = ctl.Request("GET", target);
    if (!r.ok()) return ctl.Fail(r.status().message());
    if (r.value().status != 200) return ctl.Fail(ServerMessage(r.value()));
    ctl.out << r.value().body << std::flush;
    return 0;
  }
  bool user_deadline = ctl.request_timeout_given();
  auto timeout = user_deadline ? ctl.request_timeout()
                               : std::chrono::milliseconds(std::chrono::hours(24 * 365));
  Status st = ctl.client().Stream(
      "GET", target, "",
      [&](const std::string& chunk) {
        ctl.out << chunk << std::flush;
        return true;
      },
      timeout);
  if (!st.ok()) {
    std::string m = st.message();
    auto brace = m.find('{');
    return ctl.Fail(brace == std::string::npos ? m : ServerMessage(m.substr(brace)));
  }
  return 0;
}

}  // namespace

void AddLogs(CLI::App& app, Ctl& ctl) {
  auto o = std::make_shared<LogsOptions>();
  auto* cmd = app.add_subcommand("logs", "Print the output of a pod's container");
  cmd->add_option("pod", o->args, "POD, pod/POD, or deployment/NAME (one of its pods)");
  cmd->add_option("-c,--container", o->container, "The container (when the pod has several)");
  cmd->add_flag("-f,--follow", o->follow, "Keep printing what the container writes");
  cmd->add_option("--tail", o->tail, "Only the last N lines");
  cmd->footer(R"(Examples:
  tugctl logs web-server-7f9c4-abcde
  tugctl logs web-server-7f9c4-abcde -c web --tail 20
  tugctl logs -f deployment/web-server)");
  cmd->callback([&ctl, o] { ctl.exit_code = RunLogs(ctl, *o); });
}

}  // namespace tug::ctl
