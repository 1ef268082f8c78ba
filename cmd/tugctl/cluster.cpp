// tugctl cluster status: every control-plane member's view (role, term, commit and applied
// index) and health, asked of each member directly.
#include <memory>
#include <ostream>

#include "api/json_access.h"
#include "api/table.h"
#include "cmd/tugctl/verbs.h"

namespace tug::ctl {

using json = nlohmann::json;

namespace {

struct ClusterOptions {
  std::string output;
};

int RunClusterStatus(Ctl& ctl, const ClusterOptions& o) {
  if (!o.output.empty() && o.output != "json")
    return ctl.Fail("unknown output format \"" + o.output + "\": use -o json or a table");
  if (Status s = ctl.Connect(); !s.ok()) return ctl.Fail(s.message());
  auto first = ctl.GetJson("/cluster/status");
  if (!first.ok()) return ctl.Fail(first.status().message());
  const json& members = api::AtArray(first.value(), {"members"});
  json report = json::array();
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> unhealthy;
  std::string leader;
  int64_t leader_term = 0;
  for (const auto& m : members) {
    std::string name = api::AtString(m, {"name"}), addr = api::AtString(m, {"apiAddr"});
    json entry = {{"name", name}, {"endpoint", addr.empty() ? "" : "http://" + addr}};
    std::string health;
    if (addr.empty()) {
      health = "unknown address (not heard from since the answering member started)";
    } else {
      // Each member on its own: no failover, a short timeout.
      net::HttpClient one({addr}, ctl.target().token);
      net::RequestOptions ro;
      ro.timeout = std::chrono::seconds(2);
      ro.max_unreachable_rounds = 1;
      auto st = one.Get("/cluster/status", ro);
      if (!st.ok() || st.value().status != 200) {
        health =
            "unreachable: " + (st.ok() ? ServerMessage(st.value().body) : st.status().message());
      } else {
        json s = json::parse(st.value().body, nullptr, false);
        if (!s.is_object()) {
          health = "bad answer";
        } else {
          using api::AtInt;
          using api::AtString;
          entry["role"] = AtString(s, {"role"});
          entry["term"] = AtInt(s, {"term"});
          entry["commitIndex"] = AtInt(s, {"commitIndex"});
          entry["appliedIndex"] = AtInt(s, {"appliedIndex"});
          entry["leader"] = AtString(s, {"leader"});
          health = AtString(s, {"leader"}).empty() ? "no leader" : "healthy";
          if (AtString(s, {"role"}) == "leader" && AtInt(s, {"term"}) >= leader_term) {
            leader = name;
            leader_term = AtInt(s, {"term"});
          }
        }
      }
    }
    entry["health"] = health;
    if (health != "healthy") unhealthy.push_back(name + " (" + health + ")");
    report.push_back(entry);
    auto num = [&](const char* f) {
      return entry.contains(f) ? std::to_string(entry[f].get<int64_t>()) : std::string("-");
    };
    rows.push_back(
        {name,
         entry["endpoint"].get<std::string>().empty() ? "<unknown>"
                                                      : entry["endpoint"].get<std::string>(),
         entry.value("role", "-"), num("term"), num("commitIndex"), num("appliedIndex"), health});
  }
  if (o.output == "json") {
    ctl.out << json{{"leader", leader}, {"term", leader_term}, {"members", report}}.dump(4) << "\n";
  } else {
    ctl.out << "Leader: "
            << (leader.empty() ? "<none>" : leader + " (term " + std::to_string(leader_term) + ")")
            << "\n"
            << api::FormatTable(
                   {"MEMBER", "ENDPOINT", "ROLE", "TERM", "COMMIT", "APPLIED", "HEALTH"}, rows);
  }
  ctl.out << std::flush;
  if (!unhealthy.empty()) {
    std::string list;
    for (const auto& u : unhealthy)
      list += (list.empty() ? "" : ", ") + u;
    return ctl.Fail(std::to_string(unhealthy.size()) + " of " + std::to_string(members.size()) +
                    " members unhealthy: " + list);
  }
  return 0;
}

}  // namespace

void AddCluster(CLI::App& app, Ctl& ctl) {
  auto* cluster = app.add_subcommand("cluster", "The control plane itself");
  cluster->require_subcommand(1);
  auto o = std::make_shared<ClusterOptions>();
  auto* cmd = cluster->add_subcommand(
      "status", "Members, leader, term, commit and applied index, and each member's health");
  cmd->add_option("-o,--output", o->output, "json: the same as JSON");
  cmd->footer(R"(Asks every member for its own view. Exits 1 if any member is unreachable or
has no leader (the others are still listed).

Examples:
  tugctl cluster status
  tugctl cluster status -o json)");
  cmd->callback([&ctl, o] { ctl.exit_code = RunClusterStatus(ctl, *o); });
}

}  // namespace tug::ctl
