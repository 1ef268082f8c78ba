#include "cmd/tugctl/selection.h"

namespace tug::ctl {

Status CheckName(const std::string& name) {
  if (name.empty()) return Status::Invalid("resource name may not be empty");
  if (name.find_first_of("/?#% \t\n") != std::string::npos)
    return Status::Invalid("invalid resource name \"" + name +
                           "\": it may not contain '/', '?', '#', '%' or spaces");
  return Status::Ok();
}

Result<const api::ResourceInfo*> ResolveType(const std::string& typed) {
  const api::ResourceInfo* r = api::ResolveResource(typed);
  if (!r) {
    std::string known;
    for (const auto& k : api::Resources())
      known += (known.empty() ? "" : ", ") + k.name;
    return Status::NotFound("the server doesn't have a resource type \"" + typed +
                            "\" (Tug serves " + known + ")");
  }
  return r;
}

Result<std::vector<Selection>> ParseSelection(const std::vector<std::string>& args) {
  if (args.empty()) {
    return Status::Invalid(
        "name a resource type: deployments (deploy), pods (po), nodes (no) or events (ev)");
  }
  std::vector<Selection> out;
  if (args[0].find('/') != std::string::npos) {
    for (const auto& a : args) {
      auto slash = a.find('/');
      if (slash == std::string::npos || slash == 0 || slash + 1 == a.size() ||
          a.find('/', slash + 1) != std::string::npos) {
        return Status::Invalid(
            "there is no need to give a resource type as a separate "
            "argument when passing arguments in TYPE/NAME form (got \"" +
            a + "\")");
      }
      auto r = ResolveType(a.substr(0, slash));
      if (!r.ok()) return r.status();
      std::string name = a.substr(slash + 1);
      if (Status st = CheckName(name); !st.ok()) return st;
      if (!out.empty() && out.back().resource == r.value()) {
        out.back().names.push_back(name);
      } else {
        out.push_back({r.value(), {name}});
      }
    }
    return out;
  }
  std::string types = args[0];
  size_t pos = 0;
  while (pos <= types.size()) {
    size_t comma = types.find(',', pos);
    std::string t = types.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (t.empty()) return Status::Invalid("an empty resource type in \"" + types + "\"");
    auto r = ResolveType(t);
    if (!r.ok()) return r.status();
    out.push_back({r.value(), {}});
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  if (args.size() > 1) {
    if (out.size() > 1) {
      return Status::Invalid(
          "names go with one resource type; for several, write TYPE/NAME "
          "(e.g. deploy/web pod/web-1)");
    }
    for (size_t i = 1; i < args.size(); ++i) {
      if (args[i].find('/') != std::string::npos)
        return Status::Invalid(
            "there is no need to give a resource type as a separate argument "
            "when passing arguments in TYPE/NAME form (got \"" +
            args[i] + "\")");
      if (Status st = CheckName(args[i]); !st.ok()) return st;
      out[0].names.push_back(args[i]);
    }
  }
  return out;
}

}  // namespace tug::ctl
