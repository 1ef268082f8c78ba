// tugctl get: tables like kubectl's, -o wide|json|yaml|name, selectors, all namespaces, and
// -w to keep printing changes.
#include <chrono>
#include <ostream>
#include <thread>

#include "api/document.h"
#include "api/json_access.h"
#include "api/printers.h"
#include "api/table.h"
#include "cmd/tugctl/get.h"
#include "cmd/tugctl/selection.h"
#include "cmd/tugctl/verbs.h"

namespace tug::ctl {

using json = nlohmann::json;

namespace {

struct GetOptions {
  std::vector<std::string> args;
  std::string output, selector, field_selector;
  bool all_namespaces = false, watch = false, watch_only = false, no_headers = false,
       show_labels = false;
};

std::string ListQuery(const GetOptions& o, const std::string& extra_field = "") {
  std::vector<std::string> q;
  if (!o.selector.empty()) q.push_back("labelSelector=" + QueryEscape(o.selector));
  std::string fields = o.field_selector;
  if (!extra_field.empty()) fields += (fields.empty() ? "" : ",") + extra_field;
  if (!fields.empty()) q.push_back("fieldSelector=" + QueryEscape(fields));
  std::string out;
  for (const auto& p : q)
    out += (out.empty() ? "?" : "&") + p;
  return out;
}

std::string NamespaceText(const Ctl& ctl, const GetOptions& o) {
  return o.all_namespaces ? "" : ctl.ns();
}

// Prints watch events until the deadline (or forever), re-watching from the last revision
// when the server ends a stream and relisting when it has expired.
int Watch(Ctl& ctl, const GetOptions& o, const Selection& s, std::string rv) {
  const api::ResourceInfo& r = *s.resource;
  std::string ns = NamespaceText(ctl, o);
  std::string field = s.names.empty() ? "" : "metadata.name=" + s.names[0];
  bool user_deadline = ctl.request_timeout_given();
  auto deadline = std::chrono::steady_clock::now() +
                  (user_deadline ? ctl.request_timeout() : std::chrono::hours(24 * 365));
  api::PrintOptions po{o.output == "wide", o.all_namespaces, o.show_labels, false, 0};
  while (std::chrono::steady_clock::now() < deadline) {
    std::string q = ListQuery(o, field);
    std::string target = ResourcePath(r, ns) + q + (q.empty() ? "?" : "&") +
                         "watch=true&resourceVersion=" + QueryEscape(rv);
    std::string buffer;
    bool expired = false;
    std::string failure;
    auto on_data = [&](const std::string& chunk) {
      buffer += chunk;
      size_t nl;
      while ((nl = buffer.find('\n')) != std::string::npos) {
        std::string line = buffer.substr(0, nl);
        buffer.erase(0, nl + 1);
        if (line.empty()) continue;
        json ev = json::parse(line, nullptr, false);
        if (!ev.is_object() || !ev.contains("object")) continue;
        std::string type = api::AtString(ev, {"type"});
        const json& obj = ev["object"];
        if (type == "ERROR") {
          if (api::AtInt(obj, {"code"}) == 410) {
            expired = true;
          } else {
            failure = ServerMessage(obj.dump());
          }
          return false;
        }
        if (type == "BOOKMARK") continue;
        if (!obj.is_object()) continue;
        rv = api::AtString(obj, {"metadata", "resourceVersion"}, rv);
        po.now = ctl.Now();
        ctl.out << RenderObjects(r, {obj}, o.output, po, /*headers=*/false) << std::flush;
      }
      return true;
    };
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    Status st = ctl.client().Stream("GET", target, "", on_data, left);
    if (!failure.empty()) return ctl.Fail(failure);
    if (expired) {
      // The revision is compacted away: start again from a fresh list.
      auto list = ctl.GetJson(ResourcePath(r, ns) + ListQuery(o, field));
      if (!list.ok()) return ctl.Fail(list.status().message());
      rv = api::AtString(list.value(), {"metadata", "resourceVersion"});
      continue;
    }
    if (!st.ok()) {
      if (st.code() == Status::Code::kUnavailable) {
        // A member went away mid-stream: carry on from the last revision on another.
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      return ctl.Fail(ServerMessage(st.message()));
    }
  }
  return 0;
}

int RunGet(Ctl& ctl, const GetOptions& o) {
  if (!o.output.empty() && o.output != "wide" && o.output != "json" && o.output != "yaml" &&
      o.output != "name") {
    return ctl.Fail("unknown output format \"" + o.output +
                    "\": use -o wide, -o json, -o yaml or -o name");
  }
  auto sel = ParseSelection(o.args);
  if (!sel.ok()) return ctl.Fail(sel.status().message());
  bool watching = o.watch || o.watch_only;
  size_t named = 0;
  for (const auto& s : sel.value())
    named += s.names.size();
  if (watching && (sel.value().size() > 1 || named > 1))
    return ctl.Fail("-w watches one resource type or one object at a time");
  if (Status s = ctl.Connect(); !s.ok()) return ctl.Fail(s.message());

  std::string ns = NamespaceText(ctl, o);
  std::vector<std::string> errors;
  std::vector<std::pair<const api::ResourceInfo*, std::vector<json>>> groups;
  std::string list_rv;
  for (const auto& s : sel.value()) {
    std::vector<json> objs;
    if (!s.names.empty()) {
      auto found = ctl.GetNamed(*s.resource, s.names, &errors);
      if (!found.ok()) return ctl.Fail(found.status().message());
      objs = std::move(found).value();
      if (!objs.empty()) list_rv = api::AtString(objs.back(), {"metadata", "resourceVersion"});
    } else {
      auto list = ctl.GetJson(ResourcePath(*s.resource, ns) + ListQuery(o));
      if (!list.ok()) return ctl.Fail(list.status().message());
      for (const auto& it : api::AtArray(list.value(), {"items"})) {
        if (!it.is_object()) continue;
        json obj = it;
        // Items of a list carry no type; printing them alone needs it.
        obj["apiVersion"] = s.resource->api_version();
        obj["kind"] = s.resource->kind;
        objs.push_back(std::move(obj));
      }
      list_rv = api::AtString(list.value(), {"metadata", "resourceVersion"});
    }
    groups.emplace_back(s.resource, std::move(objs));
  }

  size_t total = 0;
  for (const auto& g : groups)
    total += g.second.size();
  if (!o.watch_only) {
    if (o.output == "json" || o.output == "yaml") {
      json doc;
      if (named == 1 && total == 1 && sel.value().size() == 1) {
        doc = groups[0].second[0];
      } else {
        doc = {{"apiVersion", "v1"},
               {"kind", "List"},
               {"items", json::array()},
               {"metadata", {{"resourceVersion", ""}}}};
        for (const auto& g : groups)
          for (const auto& obj : g.second)
            doc["items"].push_back(obj);
      }
      if (total > 0 || named == 0)
        ctl.out << (o.output == "json"
                        ? doc.dump(4, ' ', false, json::error_handler_t::replace) + "\n"
                        : api::ToYaml(doc));
    } else {
      api::PrintOptions po{o.output == "wide", o.all_namespaces, o.show_labels, groups.size() > 1,
                           ctl.Now()};
      bool first = true;
      for (const auto& [r, objs] : groups) {
        if (objs.empty()) continue;
        if (!first && o.output != "name") ctl.out << "\n";
        first = false;
        ctl.out << RenderObjects(*r, objs, o.output, po, !o.no_headers);
      }
    }
    if (total == 0 && named == 0 && o.output != "json" && o.output != "yaml" && !watching) {
      bool cluster_scoped = !sel.value()[0].resource->namespaced;
      ctl.err << (o.all_namespaces || cluster_scoped
                      ? std::string("No resources found\n")
                      : "No resources found in " + ctl.ns() + " namespace.\n");
    }
  }
  for (const auto& e : errors)
    ctl.Fail(e);
  ctl.out << std::flush;
  if (!errors.empty()) return 1;
  if (watching) return Watch(ctl, o, sel.value()[0], list_rv);
  return 0;
}

}  // namespace

std::string RenderObjects(const api::ResourceInfo& r, const std::vector<json>& objs,
                          const std::string& output, const api::PrintOptions& po, bool headers) {
  if (output == "name") {
    std::string out;
    for (const auto& obj : objs)
      out += api::ObjectRef(r, api::AtString(obj, {"metadata", "name"})) + "\n";
    return out;
  }
  if (output == "json") {
    std::string out;
    for (const auto& obj : objs)
      out += obj.dump(4, ' ', false, json::error_handler_t::replace) + "\n";
    return out;
  }
  if (output == "yaml") {
    std::string out;
    for (const auto& obj : objs)
      out += "---\n" + api::ToYaml(obj);
    return out;
  }
  api::PrintedTable t = api::PrintObjects(r, objs, po);
  return api::FormatTable(headers ? t.headers : std::vector<std::string>{}, t.rows);
}

void AddGet(CLI::App& app, Ctl& ctl) {
  auto o = std::make_shared<GetOptions>();
  auto* cmd = app.add_subcommand("get", "Show one or many objects");
  cmd->add_option("resources", o->args, "TYPE[,TYPE...] [NAME...] or TYPE/NAME ...");
  cmd->add_option("-o,--output", o->output, "Output format: wide, json, yaml or name");
  cmd->add_option("-l,--selector", o->selector, "Label selector (e.g. app=web,tier!=db)");
  cmd->add_option("--field-selector", o->field_selector,
                  "Field selector (e.g. spec.nodeName=node-a)");
  cmd->add_flag("-A,--all-namespaces", o->all_namespaces, "List across all namespaces");
  cmd->add_flag("-w,--watch", o->watch, "After listing, keep printing changes");
  cmd->add_flag("--watch-only", o->watch_only, "Print changes only, without the list first");
  cmd->add_flag("--no-headers", o->no_headers, "Print tables without their header line");
  cmd->add_flag("--show-labels", o->show_labels, "Add a LABELS column");
  cmd->footer(R"(Examples:
  # Deployments, pods with their nodes and host ports, nodes
  tugctl get deployments
  tugctl get pods -o wide
  tugctl get nodes

  # One deployment as YAML; pods of one app in every namespace
  tugctl get deployment web -o yaml
  tugctl get pods -l app=web -A

  # Several kinds at once, and watching pods change
  tugctl get deploy,pods
  tugctl get pods -w)");
  cmd->callback([&ctl, o] { ctl.exit_code = RunGet(ctl, *o); });
}

}  // namespace tug::ctl
