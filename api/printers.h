// What `get` shows for each kind: the columns kubectl prints (with `-o wide` the extra ones),
// and the cells computed from an object the way kubectl computes them (a pod's STATUS from
// its phase, reasons and container states; READY as ready/total; ages humanized). Shared by
// tugctl and, for kubectl's Table requests, the API server. Pure: the time is an argument.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/resource.h"

namespace tug::api {

struct PrintOptions {
  bool wide = false;            // -o wide
  bool with_namespace = false;  // -A: a NAMESPACE column first (namespaced kinds only)
  bool show_labels = false;     // --show-labels: a LABELS column last
  bool kind_in_name = false;    // NAME as "deployment.apps/web" (several kinds in one listing)
  int64_t now = 0;              // seconds since the epoch, for ages
};

struct PrintedTable {
  std::vector<std::string> headers;
  std::vector<std::vector<std::string>> rows;  // one per object, in the order given
};

// What a kind's printer (ResourceInfo::print) gets besides the objects.
struct TableContext {
  bool wide = false;
  int64_t now = 0;
  const ResourceInfo* resource = nullptr;
  bool kind_in_name = false;
  // The NAME cell of an object (with the kind when kind_in_name).
  std::string NameOf(const nlohmann::json& obj) const;
  std::string AgeOf(const nlohmann::json& obj) const;  // its creationTimestamp's age
};

// The columns of each kind, as kubectl prints them.
void PrintDeployments(const std::vector<nlohmann::json>& objects, const TableContext& c,
                      PrintedTable* t);
void PrintPods(const std::vector<nlohmann::json>& objects, const TableContext& c, PrintedTable* t);
void PrintNodes(const std::vector<nlohmann::json>& objects, const TableContext& c, PrintedTable* t);
void PrintEvents(const std::vector<nlohmann::json>& objects, const TableContext& c,
                 PrintedTable* t);
void PrintServices(const std::vector<nlohmann::json>& objects, const TableContext& c,
                   PrintedTable* t);
void PrintEndpoints(const std::vector<nlohmann::json>& objects, const TableContext& c,
                    PrintedTable* t);

// The kind's columns (ResourceInfo::print), then NAMESPACE and LABELS as asked.
PrintedTable PrintObjects(const ResourceInfo& r, const std::vector<nlohmann::json>& objects,
                          const PrintOptions& o);

// "deployment.apps/web", "pod/web-1": how `-o name` and apply's messages name an object.
std::string ObjectRef(const ResourceInfo& r, const std::string& name);

// A pod's STATUS column: its phase, or the reason that says more (CrashLoopBackOff,
// OOMKilled, Completed, NodeLost, Terminating, ...).
std::string PodStatusText(const nlohmann::json& pod);

// The age of a timestamp field's value ("5m30s"), or "<unknown>" without one.
std::string AgeOf(const nlohmann::json& rfc3339, int64_t now);

// "a=b,c=d" (sorted), or "<none>".
std::string LabelsText(const nlohmann::json& labels);

}  // namespace tug::api
