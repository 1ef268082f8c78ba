// tugctl cluster status: every control-plane member's view (role, term, commit and applied
// index) and health, asked of each member directly.
#include <memory>
#include <ostream>

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
  json members = first.value().value("members", json::array());
  json report = json::array();
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> unhealthy;
  std::string leader;
  uint64_t leader_term = 0;
  for (const auto& m : members) {
    std::string name = m.value("name", ""), addr = m.value("apiAddr", "");
    json entry = {{"name", name}, {"endpoint", addr.empty() ? "" : "http://" + addr}};
    std::string health;
    if (addr.empty()) {
      health = "unknown address (not heard from since the answering member started)";
    } else {
      // Each member on its own: no failover, a short timeout.
      api::HttpClient one({addr}, ctl.target().token);
      api::RequestOptions ro;
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
          entry["role"] = s.value("role", "");
          entry["term"] = s.value("term", uint64_t{0});
          entry["commitIndex"] = s.value("commitIndex", uint64_t{0});
          entry["appliedIndex"] = s.value("appliedIndex", uint64_t{0});
          entry["leader"] = s.value("leader", "");
          health = s.value("leader", "").empty() ? "no leader" : "healthy";
          if (s.value("role", "") == "leader" && s.value("term", uint64_t{0}) >= leader_term) {
            leader = name;
            leader_term = s.value("term", uint64_t{0});
          }
        }
      }
    }
    entry["health"] = health;
    if (health != "healthy") unhealthy.push_back(name + " (" + health + ")");
    report.push_back(entry);
    auto num = [&](const char* f) {
      return entry.contains(f) ? std::to_string(entry[f].get<uint64_t>()) : std::string("-");
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
