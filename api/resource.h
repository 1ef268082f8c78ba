// The kinds Tug serves and what the API server, the CLI and kubectl discovery need to know
// about each: where it lives in the URL space, its names, whether it is namespaced, which
// subresources and field selectors it has, how its objects are defaulted and validated, the
// status a new object starts with, and its table columns. What is special about a kind is
// said here, once (Resources() in resource.cpp); the code that serves kinds asks the
// ResourceInfo instead of testing a kind's name.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace tug::api {

struct PrintedTable;
struct TableContext;

struct ResourceInfo {
  std::string name;      // plural, as in URLs: "deployments"
  std::string singular;  // "deployment"
  std::string group;     // "" for the core group, else "apps"
  std::string version;   // "v1"
  std::string kind;      // "Deployment"
  bool namespaced = true;
  std::vector<std::string> short_names;  // "deploy"
  bool has_status = false;               // a /status subresource (the main resource keeps it)
  bool has_scale = false;                // a /scale subresource
  // Fields besides metadata.name and metadata.namespace that ?fieldSelector= accepts.
  std::vector<std::string> field_selectors;
  // Defaults and validation of a whole object (Status::Invalid in Kubernetes' words).
  Result<nlohmann::json> (*prepare)(nlohmann::json) = nullptr;
  // The status a created object starts with, replacing what the client sent (what the
  // controllers own starts empty); nullptr: the client's status is kept (an agent creates its
  // Node with one).
  nlohmann::json (*initial_status)() = nullptr;
  bool has_log = false;                 // a /log subresource (pods)
  std::vector<std::string> categories;  // discovery's categories ("all": kubectl get all)
  // kubectl's columns for `get` (printers.h); nullptr: NAME and AGE.
  void (*print)(const std::vector<nlohmann::json>& objects, const TableContext& c,
                PrintedTable* t) = nullptr;

  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  std::string list_kind() const { return kind + "List"; }
  // As Kubernetes names it in messages: "deployments.apps", "pods".
  std::string qualified_name() const { return group.empty() ? name : name + "." + group; }
  // "Deployment.apps", "Pod".
  std::string qualified_kind() const { return group.empty() ? kind : kind + "." + group; }
  bool AllowsField(const std::string& field) const;
};

// Every kind served, in a fixed order.
const std::vector<ResourceInfo>& Resources();

// By group and plural name as in a URL; nullptr if Tug does not serve it.
const ResourceInfo* FindResource(const std::string& group, const std::string& name);

// By what a person types: plural, singular, short name, kind, or "name.group" ("deploy",
// "deployments.apps", "Pod", "no"); case-insensitive. nullptr if none.
const ResourceInfo* ResolveResource(const std::string& typed);

// By apiVersion and kind (a document in a file).
const ResourceInfo* ResourceForKind(const std::string& api_version, const std::string& kind);

}  // namespace tug::api
