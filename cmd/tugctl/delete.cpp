// tugctl delete: by file, by TYPE NAME..., by label selector or --all.
#include <iostream>
#include <memory>

#include "api/json_access.h"
#include "api/printers.h"
#include "cmd/tugctl/manifest.h"
#include "cmd/tugctl/selection.h"
#include "cmd/tugctl/verbs.h"

namespace tug::ctl {

using json = nlohmann::json;

namespace {

struct DeleteOptions {
  std::vector<std::string> args, files;
  bool recursive = false, all = false, ignore_not_found = false;
  std::string selector;
};

struct Target1 {
  const api::ResourceInfo* r;
  std::string ns, name;
};

int RunDelete(Ctl& ctl, const DeleteOptions& o) {
  if (!o.files.empty() && !o.args.empty())
    return ctl.Fail("give either -f FILE or TYPE NAME, not both");
  if (!o.files.empty() && (o.all || !o.selector.empty()))
    return ctl.Fail("-f deletes the objects in the files; -l and --all go with a TYPE");
  if (Status s = ctl.Connect(); !s.ok()) return ctl.Fail(s.message());
  std::vector<Target1> targets;
  if (!o.files.empty()) {
    auto objs = ReadManifests(o.files, o.recursive, ctl.ns(), ctl.target().ns_from_flag, std::cin);
    if (!objs.ok()) return ctl.Fail(objs.status().message());
    for (const auto& m : objs.value())
      targets.push_back({m.resource, m.ns, m.name});
  } else {
    auto sel = ParseSelection(o.args);
    if (!sel.ok()) return ctl.Fail(sel.status().message());
    for (const auto& s : sel.value()) {
      if (!s.names.empty()) {
        if (o.all || !o.selector.empty())
          return ctl.Fail("names cannot be given together with --all or -l");
        for (const auto& n : s.names)
          targets.push_back({s.resource, s.resource->namespaced ? ctl.ns() : "", n});
        continue;
      }
      if (!o.all && o.selector.empty()) {
        return ctl.Fail("name the " + s.resource->name +
                        " to delete, or select them with -l SELECTOR or --all");
      }
      std::string q = o.selector.empty() ? "" : "?labelSelector=" + QueryEscape(o.selector);
      auto list = ctl.GetJson(ResourcePath(*s.resource, ctl.ns()) + q);
      if (!list.ok()) return ctl.Fail(list.status().message());
      for (const auto& it : api::AtArray(list.value(), {"items"})) {
        std::string name = api::AtString(it, {"metadata", "name"});
        if (!name.empty())
          targets.push_back({s.resource, s.resource->namespaced ? ctl.ns() : "", name});
      }
    }
    if (targets.empty()) {
      ctl.err << "No resources found\n";
      return 0;
    }
  }
  int rc = 0;
  for (const auto& t : targets) {
    auto r = ctl.Request("DELETE", ResourcePath(*t.r, t.ns, t.name));
    if (!r.ok()) return ctl.Fail(r.status().message());
    if (r.value().status == 404 && o.ignore_not_found) continue;
    if (r.value().status != 200 && r.value().status != 202) {
      rc = ctl.Fail(ServerMessage(r.value()));
      continue;
    }
    std::string ref = api::ObjectRef(*t.r, t.name);
    ctl.out << ref.substr(0, ref.find('/')) << " \"" << t.name << "\" deleted\n" << std::flush;
  }
  return rc;
}

}  // namespace

void AddDelete(CLI::App& app, Ctl& ctl) {
  auto o = std::make_shared<DeleteOptions>();
  auto* cmd = app.add_subcommand("delete", "Delete objects by file, by name, or by label");
  cmd->add_option("resources", o->args, "TYPE NAME... or TYPE/NAME ...");
  cmd->add_option("-f,--filename", o->files, "Delete the objects a file or directory describes")
      ->allow_extra_args(false);
  cmd->add_flag("-R,--recursive", o->recursive, "Also read the subdirectories of a directory");
  cmd->add_option("-l,--selector", o->selector, "Delete the objects with these labels");
  cmd->add_flag("--all", o->all, "Delete every object of the type in the namespace");
  cmd->add_flag("--ignore-not-found", o->ignore_not_found,
                "An object that is not there is no error");
  cmd->footer(R"(Examples:
  tugctl delete -f manifests/web-server.yaml
  tugctl delete deployment web-server
  tugctl delete pod/web-server-7f9c4-abcde
  tugctl delete pods -l app=web-server)");
  cmd->callback([&ctl, o] { ctl.exit_code = RunDelete(ctl, *o); });
}

}  // namespace tug::ctl
