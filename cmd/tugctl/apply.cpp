// tugctl apply: creates what does not exist and brings what does to the file's content,
// the way `kubectl apply` does (client-side, with the last-applied annotation).
#include <iostream>
#include <memory>

#include "api/apply_patch.h"
#include "api/printers.h"
#include "cmd/tugctl/manifest.h"
#include "cmd/tugctl/verbs.h"

namespace tug::ctl {

using json = nlohmann::json;

namespace {

struct ApplyOptions {
  std::vector<std::string> files;
  bool recursive = false;
  std::string output;
};

// What a user's apply can change: the object without its status and resourceVersion (which
// controllers move on their own, even between our read and our patch).
json Applied(json obj) {
  if (!obj.is_object()) return obj;
  obj.erase("status");
  if (obj.contains("metadata") && obj["metadata"].is_object())
    obj["metadata"].erase("resourceVersion");
  return obj;
}

// "created", "configured" or "unchanged"; an error's message otherwise.
Result<std::string> ApplyOne(Ctl& ctl, const ManifestObject& m) {
  json desired = api::WithLastApplied(m.object);
  std::string path = ResourcePath(*m.resource, m.ns, m.name);
  // Twice at most: a create that loses a race with another creator becomes an update.
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto cur = ctl.Request("GET", path);
    if (!cur.ok()) return cur.status();
    if (cur.value().status == 404) {
      auto r = ctl.Request("POST", ResourcePath(*m.resource, m.ns), desired.dump());
      if (!r.ok()) return r.status();
      if (r.value().status == 201 || r.value().status == 200) return std::string("created");
      if (r.value().status == 409 && attempt == 0) continue;
      return Status::Error(ServerMessage(r.value()));
    }
    if (cur.value().status != 200) return Status::Error(ServerMessage(cur.value()));
    json current = json::parse(cur.value().body, nullptr, false);
    if (!current.is_object())
      return Status::Error("the server's answer to GET " + path + " is not JSON");
    json patch = api::ThreeWayMergePatch(api::LastApplied(current), desired, current);
    if (patch.empty()) return std::string("unchanged");
    auto r = ctl.Request("PATCH", path, patch.dump(), "application/merge-patch+json");
    if (!r.ok()) return r.status();
    if (r.value().status != 200) return Status::Error(ServerMessage(r.value()));
    json after = json::parse(r.value().body, nullptr, false);
    // A patch can change nothing: the fields differed from the file only by the server's
    // defaults.
    return std::string(Applied(after) == Applied(current) ? "unchanged" : "configured");
  }
  return Status::Error("the object kept changing while it was applied; try again");
}

int RunApply(Ctl& ctl, const ApplyOptions& o) {
  if (!o.output.empty() && o.output != "name")
    return ctl.Fail("unknown output format \"" + o.output + "\": apply prints -o name only");
  if (Status s = ctl.Connect(); !s.ok()) return ctl.Fail(s.message());
  // Every document is read and checked before anything is sent.
  auto objs = ReadManifests(o.files, o.recursive, ctl.ns(), ctl.target().ns_from_flag, std::cin);
  if (!objs.ok()) return ctl.Fail(objs.status().message());
  int rc = 0;
  for (const auto& m : objs.value()) {
    auto what = ApplyOne(ctl, m);
    std::string ref = api::ObjectRef(*m.resource, m.name);
    if (!what.ok()) {
      rc = ctl.Fail(m.source + ": " + ref + ": " + what.status().message());
      if (what.status().code() == Status::Code::kUnavailable) break;  // the rest would fail too
      continue;
    }
    ctl.out << ref << (o.output == "name" ? "" : " " + what.value()) << "\n" << std::flush;
  }
  return rc;
}

}  // namespace

void AddApply(CLI::App& app, Ctl& ctl) {
  auto o = std::make_shared<ApplyOptions>();
  auto* cmd = app.add_subcommand("apply", "Create or update objects from files (YAML or JSON)");
  cmd->add_option("-f,--filename", o->files,
                  "A file, a directory of .yaml/.yml/.json files, or - for stdin")
      ->required()
      ->allow_extra_args(false);
  cmd->add_flag("-R,--recursive", o->recursive, "Also read the subdirectories of a directory");
  cmd->add_option("-o,--output", o->output, "name: print only TYPE/NAME of each object");
  cmd->footer(
      R"(Every document is read and checked first: a mistake in any of them (a missing file, broken
YAML, a kind Tug does not serve) changes nothing. Each object is then created, or patched to
the file's content: fields removed from the file since the last apply are removed, fields
nobody applied (defaults, status, replicas set by `tugctl scale` when the file has none) stay.

Examples:
  tugctl apply -f manifests/web-server.yaml
  tugctl apply -f manifests/
  cat web.yaml | tugctl apply -f -)");
  cmd->callback([&ctl, o] { ctl.exit_code = RunApply(ctl, *o); });
}

}  // namespace tug::ctl
