#include "api/printers.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include "api/json_access.h"
#include "api/table.h"
#include "api/timestamp.h"

namespace tug::api {

using json = nlohmann::json;

namespace {

std::string Str(const json& v, const std::string& fallback = "") {
  return v.is_string() ? v.get<std::string>() : fallback;
}

int64_t Int(const json& v) {
  return v.is_number_integer() ? v.get<int64_t>() : 0;
}

std::string Join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i)
    out += (i ? sep : "") + parts[i];
  return out;
}

std::string NoneIfEmpty(const std::string& s) {
  return s.empty() ? "<none>" : s;
}

// RESTARTS as kubectl 1.2x prints it: the count, and how long ago the latest restart was.
std::string Restarts(const json& pod, int64_t now) {
  int64_t restarts = 0;
  std::optional<int64_t> last;
  for (const auto& cs : AtArray(pod, {"status", "containerStatuses"})) {
    restarts += Int(At(cs, {"restartCount"}));
    auto t = ParseRfc3339(Str(At(cs, {"lastState", "terminated", "finishedAt"})));
    if (t && (!last || *t > *last)) last = t;
  }
  std::string out = std::to_string(restarts);
  if (restarts > 0 && last) out += " (" + HumanDuration(now - *last) + " ago)";
  return out;
}

std::string PodReady(const json& pod) {
  size_t total = AtArray(pod, {"spec", "containers"}).size();
  size_t ready = 0;
  for (const auto& cs : AtArray(pod, {"status", "containerStatuses"}))
    if (At(cs, {"ready"}) == true) ++ready;
  return std::to_string(ready) + "/" + std::to_string(total);
}

// "31234->8080/TCP" for every port the agent gave a host port.
std::string PodPorts(const json& pod) {
  std::vector<std::string> out;
  const json& statuses = At(pod, {"status", "containerStatuses"});
  if (!statuses.is_array()) return "<none>";
  for (const auto& cs : statuses) {
    if (!At(cs, {"ports"}).is_array()) continue;
    for (const auto& p : At(cs, {"ports"})) {
      int64_t host = Int(At(p, {"hostPort"})), container = Int(At(p, {"containerPort"}));
      if (host == 0) continue;
      std::string proto = Str(At(p, {"protocol"}), "TCP");
      out.push_back(std::to_string(host) +
                    (container && container != host ? "->" + std::to_string(container) : "") + "/" +
                    proto);
    }
  }
  return out.empty() ? "<none>" : Join(out, ",");
}

std::string NodeStatus(const json& node) {
  std::string ready = "Unknown";
  const json& conds = At(node, {"status", "conditions"});
  if (conds.is_array())
    for (const auto& c : conds)
      if (Str(At(c, {"type"})) == "Ready") {
        std::string s = Str(At(c, {"status"}));
        ready = s == "True" ? "Ready" : s == "False" ? "NotReady" : "Unknown";
      }
  if (At(node, {"spec", "unschedulable"}) == true) ready += ",SchedulingDisabled";
  return ready;
}

std::string NodeRoles(const json& node) {
  std::vector<std::string> roles;
  const json& labels = At(node, {"metadata", "labels"});
  static const std::string kPrefix = "node-role.kubernetes.io/";
  if (labels.is_object())
    for (const auto& [k, v] : labels.items()) {
      if (k.rfind(kPrefix, 0) == 0 && k.size() > kPrefix.size()) {
        roles.push_back(k.substr(kPrefix.size()));
      } else if (k == "kubernetes.io/role" && v.is_string()) {
        roles.push_back(v.get<std::string>());
      }
    }
  return NoneIfEmpty(Join(roles, ","));
}

std::string NodeAddress(const json& node, const std::string& type) {
  const json& addrs = At(node, {"status", "addresses"});
  if (addrs.is_array())
    for (const auto& a : addrs)
      if (Str(At(a, {"type"})) == type) return Str(At(a, {"address"}), "<none>");
  return "<none>";
}

std::string SelectorText(const json& selector) {
  std::vector<std::string> parts;
  if (At(selector, {"matchLabels"}).is_object())
    for (const auto& [k, v] : At(selector, {"matchLabels"}).items())
      parts.push_back(k + "=" + Str(v));
  return NoneIfEmpty(Join(parts, ","));
}

std::vector<std::string> ContainerFields(const json& spec, const char* field) {
  std::vector<std::string> out;
  if (At(spec, {"containers"}).is_array())
    for (const auto& c : At(spec, {"containers"}))
      out.push_back(Str(At(c, {field})));
  return out;
}

std::string Lower(std::string s) {
  for (auto& ch : s)
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

std::string EventLastSeen(const json& ev, int64_t now) {
  for (const char* f : {"lastTimestamp", "eventTime", "firstTimestamp"})
    if (ParseRfc3339(Str(At(ev, {f})))) return AgeOf(At(ev, {f}), now);
  return AgeOf(At(ev, {"metadata", "creationTimestamp"}), now);
}

}  // namespace

std::string ObjectRef(const ResourceInfo& r, const std::string& name) {
  return r.singular + (r.group.empty() ? "" : "." + r.group) + "/" + name;
}

std::string AgeOf(const json& rfc3339, int64_t now) {
  auto t = ParseRfc3339(Str(rfc3339));
  return t ? HumanDuration(now - *t) : "<unknown>";
}

std::string LabelsText(const json& labels) {
  std::vector<std::string> parts;
  if (labels.is_object())
    for (const auto& [k, v] : labels.items())
      parts.push_back(k + "=" + Str(v));
  return NoneIfEmpty(Join(parts, ","));
}

std::string PodStatusText(const json& pod) {
  std::string reason = Str(At(pod, {"status", "phase"}), "Pending");
  if (!Str(At(pod, {"status", "reason"})).empty()) reason = Str(At(pod, {"status", "reason"}));
  bool has_running = false;
  const json& statuses = At(pod, {"status", "containerStatuses"});
  if (statuses.is_array()) {
    // As kubectl: the first container's state has the last word.
    for (size_t n = statuses.size(); n-- > 0;) {
      const json& st = At(statuses[n], {"state"});
      std::string waiting = Str(At(st, {"waiting", "reason"}));
      const json& term = At(st, {"terminated"});
      if (!waiting.empty()) {
        reason = waiting;
      } else if (term.is_object() && !Str(At(term, {"reason"})).empty()) {
        reason = Str(At(term, {"reason"}));
      } else if (term.is_object()) {
        int64_t sig = Int(At(term, {"signal"}));
        reason = sig ? "Signal:" + std::to_string(sig)
                     : "ExitCode:" + std::to_string(Int(At(term, {"exitCode"})));
      } else if (At(statuses[n], {"ready"}) == true && At(st, {"running"}).is_object()) {
        has_running = true;
      }
    }
  }
  if (reason == "Completed" && has_running) {
    bool ready = false;
    if (At(pod, {"status", "conditions"}).is_array())
      for (const auto& c : At(pod, {"status", "conditions"}))
        if (Str(At(c, {"type"})) == "Ready" && Str(At(c, {"status"})) == "True") ready = true;
    reason = ready ? "Running" : "NotReady";
  }
  if (!At(pod, {"metadata", "deletionTimestamp"}).is_null())
    reason = Str(At(pod, {"status", "reason"})) == "NodeLost" ? "Unknown" : "Terminating";
  return reason;
}

std::string TableContext::NameOf(const json& obj) const {
  std::string n = Str(At(obj, {"metadata", "name"}));
  return kind_in_name && resource ? ObjectRef(*resource, n) : n;
}

std::string TableContext::AgeOf(const json& obj) const {
  return api::AgeOf(At(obj, {"metadata", "creationTimestamp"}), now);
}

void PrintDeployments(const std::vector<json>& objects, const TableContext& c, PrintedTable* t) {
  t->headers = {"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"};
  if (c.wide) t->headers.insert(t->headers.end(), {"CONTAINERS", "IMAGES", "SELECTOR"});
  for (const auto& d : objects) {
    const json& st = At(d, {"status"});
    std::vector<std::string> row = {c.NameOf(d),
                                    std::to_string(Int(At(st, {"readyReplicas"}))) + "/" +
                                        std::to_string(Int(At(d, {"spec", "replicas"}))),
                                    std::to_string(Int(At(st, {"updatedReplicas"}))),
                                    std::to_string(Int(At(st, {"availableReplicas"}))), c.AgeOf(d)};
    if (c.wide) {
      const json& pod_spec = At(d, {"spec", "template", "spec"});
      row.push_back(Join(ContainerFields(pod_spec, "name"), ","));
      row.push_back(Join(ContainerFields(pod_spec, "image"), ","));
      row.push_back(SelectorText(At(d, {"spec", "selector"})));
    }
    t->rows.push_back(std::move(row));
  }
}

void PrintPods(const std::vector<json>& objects, const TableContext& c, PrintedTable* t) {
  t->headers = {"NAME", "READY", "STATUS", "RESTARTS", "AGE"};
  if (c.wide) t->headers.insert(t->headers.end(), {"IP", "NODE", "PORTS"});
  for (const auto& p : objects) {
    std::vector<std::string> row = {c.NameOf(p), PodReady(p), PodStatusText(p), Restarts(p, c.now),
                                    c.AgeOf(p)};
    if (c.wide) {
      row.push_back(Str(At(p, {"status", "podIP"}), "<none>"));
      row.push_back(Str(At(p, {"spec", "nodeName"}), "<none>"));
      row.push_back(PodPorts(p));
    }
    t->rows.push_back(std::move(row));
  }
}

void PrintNodes(const std::vector<json>& objects, const TableContext& c, PrintedTable* t) {
  t->headers = {"NAME", "STATUS", "ROLES", "AGE", "VERSION"};
  if (c.wide)
    t->headers.insert(t->headers.end(), {"INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION",
                                         "CONTAINER-RUNTIME"});
  for (const auto& n : objects) {
    const json& info = At(n, {"status", "nodeInfo"});
    std::vector<std::string> row = {c.NameOf(n), NodeStatus(n), NodeRoles(n), c.AgeOf(n),
                                    Str(At(info, {"kubeletVersion"}), "<unknown>")};
    if (c.wide) {
      row.push_back(NodeAddress(n, "InternalIP"));
      row.push_back(NodeAddress(n, "ExternalIP"));
      row.push_back(Str(At(info, {"osImage"}), "<unknown>"));
      row.push_back(Str(At(info, {"kernelVersion"}), "<unknown>"));
      row.push_back(Str(At(info, {"containerRuntimeVersion"}), "<unknown>"));
    }
    t->rows.push_back(std::move(row));
  }
}

void PrintEvents(const std::vector<json>& objects, const TableContext& c, PrintedTable* t) {
  t->headers = {"LAST SEEN", "TYPE", "REASON", "OBJECT"};
  if (c.wide) t->headers.insert(t->headers.end(), {"SUBOBJECT", "SOURCE"});
  t->headers.push_back("MESSAGE");
  if (c.wide) t->headers.insert(t->headers.end(), {"FIRST SEEN", "COUNT", "NAME"});
  for (const auto& e : objects) {
    const json& inv = At(e, {"involvedObject"});
    std::vector<std::string> row = {EventLastSeen(e, c.now), Str(At(e, {"type"})),
                                    Str(At(e, {"reason"})),
                                    Lower(Str(At(inv, {"kind"}))) + "/" + Str(At(inv, {"name"}))};
    if (c.wide) {
      row.push_back(Str(At(inv, {"fieldPath"})));
      std::string source = Str(At(e, {"source", "component"}));
      if (!Str(At(e, {"source", "host"})).empty()) source += ", " + Str(At(e, {"source", "host"}));
      row.push_back(source);
    }
    row.push_back(Str(At(e, {"message"})));
    if (c.wide) {
      row.push_back(api::AgeOf(At(e, {"firstTimestamp"}), c.now));
      row.push_back(std::to_string(std::max<int64_t>(1, Int(At(e, {"count"})))));
      row.push_back(c.NameOf(e));
    }
    t->rows.push_back(std::move(row));
  }
}

// kubectl's PORT(S): "80/TCP", or "80:30080/TCP" with a node port.
std::string ServicePorts(const json& svc) {
  std::vector<std::string> parts;
  for (const auto& p : AtArray(svc, {"spec", "ports"})) {
    std::string s = std::to_string(Int(At(p, {"port"})));
    if (Int(At(p, {"nodePort"})) > 0) s += ":" + std::to_string(Int(At(p, {"nodePort"})));
    parts.push_back(s + "/" + Str(At(p, {"protocol"}), "TCP"));
  }
  return NoneIfEmpty(Join(parts, ","));
}

void PrintServices(const std::vector<json>& objects, const TableContext& c, PrintedTable* t) {
  t->headers = {"NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"};
  if (c.wide) t->headers.push_back("SELECTOR");
  for (const auto& s : objects) {
    std::vector<std::string> row = {c.NameOf(s),
                                    Str(At(s, {"spec", "type"}), "ClusterIP"),
                                    Str(At(s, {"spec", "clusterIP"}), "<none>"),
                                    "<none>",
                                    ServicePorts(s),
                                    c.AgeOf(s)};
    if (c.wide) {
      std::vector<std::string> sel;
      const json& m = At(s, {"spec", "selector"});
      if (m.is_object())
        for (const auto& [k, v] : m.items())
          sel.push_back(k + "=" + Str(v));
      row.push_back(NoneIfEmpty(Join(sel, ",")));
    }
    t->rows.push_back(std::move(row));
  }
}

// kubectl's ENDPOINTS: the first three ready ip:port pairs and how many more.
void PrintEndpoints(const std::vector<json>& objects, const TableContext& c, PrintedTable* t) {
  t->headers = {"NAME", "ENDPOINTS", "AGE"};
  for (const auto& e : objects) {
    std::vector<std::string> all;
    for (const auto& sub : AtArray(e, {"subsets"})) {
      for (const auto& a : AtArray(sub, {"addresses"})) {
        const auto& ports = AtArray(sub, {"ports"});
        if (ports.empty()) all.push_back(Str(At(a, {"ip"})));
        for (const auto& p : ports)
          all.push_back(Str(At(a, {"ip"})) + ":" + std::to_string(Int(At(p, {"port"}))));
      }
    }
    std::string text;
    for (size_t i = 0; i < all.size() && i < 3; ++i)
      text += (i ? "," : "") + all[i];
    if (all.size() > 3) text += " + " + std::to_string(all.size() - 3) + " more...";
    t->rows.push_back({c.NameOf(e), NoneIfEmpty(text), c.AgeOf(e)});
  }
}

PrintedTable PrintObjects(const ResourceInfo& r, const std::vector<json>& objects,
                          const PrintOptions& o) {
  PrintedTable t;
  TableContext c;
  c.wide = o.wide;
  c.now = o.now;
  c.resource = &r;
  c.kind_in_name = o.kind_in_name;
  if (r.print) {
    r.print(objects, c, &t);
  } else {
    t.headers = {"NAME", "AGE"};
    for (const auto& obj : objects)
      t.rows.push_back({c.NameOf(obj), c.AgeOf(obj)});
  }
  if (o.with_namespace && r.namespaced) {
    t.headers.insert(t.headers.begin(), "NAMESPACE");
    for (size_t i = 0; i < objects.size(); ++i)
      t.rows[i].insert(t.rows[i].begin(), Str(At(objects[i], {"metadata", "namespace"})));
  }
  if (o.show_labels) {
    t.headers.push_back("LABELS");
    for (size_t i = 0; i < objects.size(); ++i)
      t.rows[i].push_back(LabelsText(At(objects[i], {"metadata", "labels"})));
  }
  return t;
}

}  // namespace tug::api
