// tugctl describe: an object in words, with its Events.
#include "cmd/tugctl/describe.h"

#include <algorithm>
#include <ctime>
#include <map>
#include <memory>
#include <ostream>

#include "api/apply_patch.h"
#include "api/json_access.h"
#include "api/printers.h"
#include "api/table.h"
#include "api/timestamp.h"
#include "cmd/tugctl/selection.h"
#include "cmd/tugctl/verbs.h"

namespace tug::ctl {

using json = nlohmann::json;

namespace {

using api::At;

std::string Str(const json& v, const std::string& fallback = "") {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number() || v.is_boolean()) return v.dump();
  return fallback;
}

int64_t Int(const json& v, int64_t fallback = 0) {
  return v.is_number_integer() ? v.get<int64_t>() : fallback;
}

// kubectl's time format, in UTC so that output does not depend on the machine's zone.
std::string When(const json& rfc3339) {
  auto t = api::ParseRfc3339(Str(rfc3339));
  if (!t) return "<unknown>";
  std::time_t tt = static_cast<std::time_t>(*t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

// Lines of "label:\tvalue" at indent levels of two spaces, aligned at the end by a tab writer
// with kubectl describe's settings (padding 2).
class Text {
 public:
  void Line(int level, const std::string& text) {
    out_ += std::string(2 * level, ' ') + text + "\n";
  }
  void Field(int level, const std::string& label, const std::string& value) {
    Line(level, label + ":\t" + value);
  }
  // "Labels:  a=b" and further pairs on lines of their own below, or <none>.
  void Map(int level, const std::string& label, const json& m, bool skip_last_applied = false) {
    std::vector<std::string> pairs;
    if (m.is_object())
      for (const auto& [k, v] : m.items())
        if (!(skip_last_applied && k == api::kLastAppliedAnnotation))
          pairs.push_back(k + "=" + Str(v));
    if (pairs.empty()) {
      Field(level, label, "<none>");
      return;
    }
    Field(level, label, pairs[0]);
    for (size_t i = 1; i < pairs.size(); ++i)
      Line(level, "\t" + pairs[i]);
  }
  std::string Done() const { return api::TabWrite(out_, 0, 2); }

 private:
  std::string out_;
};

std::string ProbeText(const json& p) {
  std::string what;
  if (At(p, {"httpGet"}).is_object()) {
    const json& h = p["httpGet"];
    std::string scheme = Str(At(h, {"scheme"}), "HTTP");
    for (auto& ch : scheme)
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    what = "http-get " + scheme + "://" + Str(At(h, {"host"})) + ":" + Str(At(h, {"port"})) +
           Str(At(h, {"path"}), "/");
  } else if (At(p, {"tcpSocket"}).is_object()) {
    what =
        "tcp-socket " + Str(At(p, {"tcpSocket", "host"})) + ":" + Str(At(p, {"tcpSocket", "port"}));
  } else if (At(p, {"exec"}).is_object()) {
    what = "exec [";
    const json& cmd = At(p, {"exec", "command"});
    if (cmd.is_array())
      for (size_t i = 0; i < cmd.size(); ++i)
        what += (i ? " " : "") + Str(cmd[i]);
    what += "]";
  } else {
    what = "unknown";
  }
  return what + " delay=" + std::to_string(Int(At(p, {"initialDelaySeconds"}))) + "s" +
         " timeout=" + std::to_string(Int(At(p, {"timeoutSeconds"}), 1)) + "s" +
         " period=" + std::to_string(Int(At(p, {"periodSeconds"}), 10)) + "s" +
         " #success=" + std::to_string(Int(At(p, {"successThreshold"}), 1)) +
         " #failure=" + std::to_string(Int(At(p, {"failureThreshold"}), 3));
}

void StateLines(Text& t, int level, const std::string& label, const json& state) {
  if (!state.is_object() || state.empty()) {
    if (label == "State") t.Field(level, label, "Waiting");
    return;
  }
  if (At(state, {"running"}).is_object()) {
    t.Field(level, label, "Running");
    t.Field(level + 1, "Started", When(At(state, {"running", "startedAt"})));
  } else if (At(state, {"waiting"}).is_object()) {
    t.Field(level, label, "Waiting");
    const json& w = state["waiting"];
    if (!Str(At(w, {"reason"})).empty()) t.Field(level + 1, "Reason", Str(w["reason"]));
    if (!Str(At(w, {"message"})).empty()) t.Field(level + 1, "Message", Str(w["message"]));
  } else if (At(state, {"terminated"}).is_object()) {
    const json& x = state["terminated"];
    t.Field(level, label, "Terminated");
    if (!Str(At(x, {"reason"})).empty()) t.Field(level + 1, "Reason", Str(x["reason"]));
    if (!Str(At(x, {"message"})).empty()) t.Field(level + 1, "Message", Str(x["message"]));
    t.Field(level + 1, "Exit Code", std::to_string(Int(At(x, {"exitCode"}))));
    if (Int(At(x, {"signal"})) != 0) t.Field(level + 1, "Signal", Str(x["signal"]));
    if (!At(x, {"startedAt"}).is_null()) t.Field(level + 1, "Started", When(x["startedAt"]));
    if (!At(x, {"finishedAt"}).is_null()) t.Field(level + 1, "Finished", When(x["finishedAt"]));
  }
}

// One container of a pod or a template; `status` is its containerStatuses entry (or null).
void ContainerLines(Text& t, int level, const json& c, const json& status) {
  t.Line(level, Str(At(c, {"name"})) + ":");
  int l = level + 1;
  if (!At(status, {"containerID"}).is_null())
    t.Field(l, "Container ID", Str(status["containerID"]));
  t.Field(l, "Image", Str(At(c, {"image"}), "<none>"));
  std::vector<std::string> ports, host_ports;
  if (At(c, {"ports"}).is_array())
    for (const auto& p : c["ports"])
      ports.push_back(Str(At(p, {"containerPort"})) + "/" + Str(At(p, {"protocol"}), "TCP"));
  if (At(status, {"ports"}).is_array())
    for (const auto& p : status["ports"])
      if (Int(At(p, {"hostPort"})))
        host_ports.push_back(Str(p["hostPort"]) + "/" + Str(At(p, {"protocol"}), "TCP"));
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v)
      s += (s.empty() ? "" : ", ") + x;
    return s;
  };
  t.Field(l, ports.size() > 1 ? "Ports" : "Port", ports.empty() ? "<none>" : join(ports));
  if (!host_ports.empty())
    t.Field(l, host_ports.size() > 1 ? "Host Ports" : "Host Port", join(host_ports));
  for (const char* list : {"command", "args"}) {
    if (!At(c, {list}).is_array() || c[list].empty()) continue;
    t.Line(l, std::string(list) == "command" ? "Command:" : "Args:");
    for (const auto& a : c[list])
      t.Line(l + 1, Str(a));
  }
  if (status.is_object()) {
    StateLines(t, l, "State", At(status, {"state"}));
    StateLines(t, l, "Last State", At(status, {"lastState"}));
    t.Field(l, "Ready", At(status, {"ready"}) == true ? "True" : "False");
    t.Field(l, "Restart Count", std::to_string(Int(At(status, {"restartCount"}))));
  }
  for (const char* kind : {"limits", "requests"}) {
    const json& q = At(c, {"resources", kind});
    if (!q.is_object() || q.empty()) continue;
    t.Line(l, std::string(kind) == "limits" ? "Limits:" : "Requests:");
    for (const auto& [k, v] : q.items())
      t.Field(l + 1, k, Str(v));
  }
  if (At(c, {"livenessProbe"}).is_object()) t.Field(l, "Liveness", ProbeText(c["livenessProbe"]));
  if (At(c, {"readinessProbe"}).is_object())
    t.Field(l, "Readiness", ProbeText(c["readinessProbe"]));
  const json& env = At(c, {"env"});
  if (!env.is_array() || env.empty()) {
    t.Field(l, "Environment", "<none>");
  } else {
    t.Line(l, "Environment:");
    for (const auto& e : env)
      t.Field(l + 1, Str(At(e, {"name"})), Str(At(e, {"value"})));
  }
}

void EventLines(Text& t, std::vector<json> events, int64_t now) {
  if (events.empty()) {
    t.Field(0, "Events", "<none>");
    return;
  }
  auto last = [](const json& e) {
    return api::ParseRfc3339(Str(At(e, {"lastTimestamp"}))).value_or(0);
  };
  std::stable_sort(events.begin(), events.end(),
                   [&](const json& a, const json& b) { return last(a) < last(b); });
  t.Line(0, "Events:");
  t.Line(1, "Type\tReason\tAge\tFrom\tMessage");
  t.Line(1, "----\t------\t----\t----\t-------");
  for (const auto& e : events) {
    std::string age = api::AgeOf(At(e, {"lastTimestamp"}), now);
    int64_t count = Int(At(e, {"count"}), 1);
    if (count > 1)
      age += " (x" + std::to_string(count) + " over " + api::AgeOf(At(e, {"firstTimestamp"}), now) +
             ")";
    std::string from = Str(At(e, {"source", "component"}));
    if (!Str(At(e, {"source", "host"})).empty()) from += ", " + Str(e["source"]["host"]);
    t.Line(1, Str(At(e, {"type"})) + "\t" + Str(At(e, {"reason"})) + "\t" + age + "\t" + from +
                  "\t" + Str(At(e, {"message"})));
  }
}

void ConditionLines(Text& t, const json& conds, bool with_reason) {
  if (!conds.is_array() || conds.empty()) return;
  t.Line(0, "Conditions:");
  t.Line(1, with_reason ? "Type\tStatus\tReason" : "Type\tStatus");
  t.Line(1, with_reason ? "----\t------\t------" : "----\t------");
  for (const auto& c : conds)
    t.Line(1, Str(At(c, {"type"})) + "\t" + Str(At(c, {"status"})) +
                  (with_reason ? "\t" + Str(At(c, {"reason"}), "<none>") : ""));
}

void CommonHead(Text& t, const json& obj, bool namespaced) {
  t.Field(0, "Name", Str(At(obj, {"metadata", "name"})));
  if (namespaced) t.Field(0, "Namespace", Str(At(obj, {"metadata", "namespace"})));
}

std::string DescribePod(const json& p, const std::vector<json>& events, int64_t now) {
  Text t;
  CommonHead(t, p, true);
  std::string node = Str(At(p, {"spec", "nodeName"}));
  std::string host = Str(At(p, {"status", "hostIP"}));
  t.Field(0, "Node", node.empty() ? "<none>" : host.empty() ? node : node + "/" + host);
  if (!At(p, {"status", "startTime"}).is_null())
    t.Field(0, "Start Time", When(p["status"]["startTime"]));
  t.Map(0, "Labels", At(p, {"metadata", "labels"}));
  t.Map(0, "Annotations", At(p, {"metadata", "annotations"}), true);
  std::string phase = Str(At(p, {"status", "phase"}), "Pending");
  if (!At(p, {"metadata", "deletionTimestamp"}).is_null()) phase = "Terminating";
  t.Field(0, "Status", phase);
  if (!Str(At(p, {"status", "reason"})).empty()) t.Field(0, "Reason", Str(p["status"]["reason"]));
  if (!Str(At(p, {"status", "message"})).empty())
    t.Field(0, "Message", Str(p["status"]["message"]));
  t.Field(0, "IP", Str(At(p, {"status", "podIP"})));
  const json& owners = At(p, {"metadata", "ownerReferences"});
  if (owners.is_array() && !owners.empty())
    t.Field(0, "Controlled By", Str(At(owners[0], {"kind"})) + "/" + Str(At(owners[0], {"name"})));
  t.Line(0, "Containers:");
  const json& statuses = At(p, {"status", "containerStatuses"});
  if (At(p, {"spec", "containers"}).is_array()) {
    for (const auto& c : p["spec"]["containers"]) {
      json status = json::object();
      if (statuses.is_array())
        for (const auto& s : statuses)
          if (Str(At(s, {"name"})) == Str(At(c, {"name"}))) status = s;
      ContainerLines(t, 1, c, status);
    }
  }
  ConditionLines(t, At(p, {"status", "conditions"}), false);
  t.Map(0, "Node-Selectors", At(p, {"spec", "nodeSelector"}));
  EventLines(t, events, now);
  return t.Done();
}

std::string DescribeDeployment(const json& d, const std::vector<json>& events,
                               const std::vector<json>& pods, int64_t now) {
  Text t;
  CommonHead(t, d, true);
  t.Field(0, "CreationTimestamp", When(At(d, {"metadata", "creationTimestamp"})));
  t.Map(0, "Labels", At(d, {"metadata", "labels"}));
  t.Map(0, "Annotations", At(d, {"metadata", "annotations"}), true);
  std::string selector = api::LabelsText(At(d, {"spec", "selector", "matchLabels"}));
  t.Field(0, "Selector", selector);
  const json& st = At(d, {"status"});
  t.Field(0, "Replicas",
          std::to_string(Int(At(d, {"spec", "replicas"}), 1)) + " desired | " +
              std::to_string(Int(At(st, {"updatedReplicas"}))) + " updated | " +
              std::to_string(Int(At(st, {"replicas"}))) + " total | " +
              std::to_string(Int(At(st, {"availableReplicas"}))) + " available | " +
              std::to_string(Int(At(st, {"unavailableReplicas"}))) + " unavailable");
  t.Line(0, "Pod Template:");
  t.Map(1, "Labels", At(d, {"spec", "template", "metadata", "labels"}));
  t.Line(1, "Containers:");
  const json& containers = At(d, {"spec", "template", "spec", "containers"});
  if (containers.is_array())
    for (const auto& c : containers)
      ContainerLines(t, 2, c, json());
  t.Map(1, "Node-Selectors", At(d, {"spec", "template", "spec", "nodeSelector"}));
  ConditionLines(t, At(st, {"conditions"}), true);
  if (!pods.empty()) {
    t.Line(0, "Pods:");
    t.Line(1, "Name\tReady\tStatus\tRestarts\tNode\tAge");
    t.Line(1, "----\t-----\t------\t--------\t----\t---");
    auto rows = api::PrintObjects(*api::ResolveResource("pods"), pods,
                                  api::PrintOptions{false, false, false, false, now})
                    .rows;
    for (size_t i = 0; i < pods.size(); ++i)
      t.Line(1, rows[i][0] + "\t" + rows[i][1] + "\t" + rows[i][2] + "\t" + rows[i][3] + "\t" +
                    Str(At(pods[i], {"spec", "nodeName"}), "<none>") + "\t" + rows[i][4]);
  }
  EventLines(t, events, now);
  return t.Done();
}

std::string DescribeNode(const json& n, const std::vector<json>& events,
                         const std::vector<json>& pods, int64_t now) {
  Text t;
  CommonHead(t, n, false);
  auto roles = api::PrintObjects(*api::ResolveResource("nodes"), {n},
                                 api::PrintOptions{false, false, false, false, now})
                   .rows[0][2];
  t.Field(0, "Roles", roles);
  t.Map(0, "Labels", At(n, {"metadata", "labels"}));
  t.Map(0, "Annotations", At(n, {"metadata", "annotations"}), true);
  t.Field(0, "CreationTimestamp", When(At(n, {"metadata", "creationTimestamp"})));
  t.Field(0, "Unschedulable", At(n, {"spec", "unschedulable"}) == true ? "true" : "false");
  const json& conds = At(n, {"status", "conditions"});
  if (conds.is_array() && !conds.empty()) {
    t.Line(0, "Conditions:");
    t.Line(1, "Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage");
    t.Line(1, "----\t------\t-----------------\t------------------\t------\t-------");
    for (const auto& c : conds)
      t.Line(1, Str(At(c, {"type"})) + "\t" + Str(At(c, {"status"})) + "\t" +
                    When(At(c, {"lastHeartbeatTime"})) + "\t" +
                    When(At(c, {"lastTransitionTime"})) + "\t" + Str(At(c, {"reason"})) + "\t" +
                    Str(At(c, {"message"})));
  }
  const json& addrs = At(n, {"status", "addresses"});
  if (addrs.is_array() && !addrs.empty()) {
    t.Line(0, "Addresses:");
    for (const auto& a : addrs)
      t.Field(1, Str(At(a, {"type"})), Str(At(a, {"address"})));
  }
  for (const char* which : {"capacity", "allocatable"}) {
    const json& q = At(n, {"status", which});
    if (!q.is_object() || q.empty()) continue;
    t.Line(0, std::string(which) == "capacity" ? "Capacity:" : "Allocatable:");
    for (const auto& [k, v] : q.items())
      t.Field(1, k, Str(v));
  }
  const json& info = At(n, {"status", "nodeInfo"});
  if (info.is_object() && !info.empty()) {
    t.Line(0, "System Info:");
    if (!At(info, {"kubeletVersion"}).is_null())
      t.Field(1, "Agent Version", Str(info["kubeletVersion"]));
    if (!At(info, {"operatingSystem"}).is_null())
      t.Field(1, "Operating System", Str(info["operatingSystem"]));
    if (!At(info, {"containerRuntimeVersion"}).is_null())
      t.Field(1, "Container Runtime Version", Str(info["containerRuntimeVersion"]));
  }
  if (!Str(At(n, {"status", "daemonEndpoints", "agentAddr"})).empty())
    t.Field(0, "Agent Address", Str(n["status"]["daemonEndpoints"]["agentAddr"]));
  std::vector<json> running;
  for (const auto& p : pods) {
    std::string phase = Str(At(p, {"status", "phase"}));
    if (phase != "Succeeded" && phase != "Failed") running.push_back(p);
  }
  t.Field(0, "Non-terminated Pods", "(" + std::to_string(running.size()) + " in total)");
  if (!running.empty()) {
    t.Line(1, "Namespace\tName\tCPU Requests\tMemory Requests\tAge");
    t.Line(1, "---------\t----\t------------\t---------------\t---");
    for (const auto& p : running) {
      std::string cpu, mem;
      if (At(p, {"spec", "containers"}).is_array())
        for (const auto& c : p["spec"]["containers"]) {
          std::string cr = Str(At(c, {"resources", "requests", "cpu"}));
          std::string mr = Str(At(c, {"resources", "requests", "memory"}));
          if (!cr.empty()) cpu += (cpu.empty() ? "" : "+") + cr;
          if (!mr.empty()) mem += (mem.empty() ? "" : "+") + mr;
        }
      t.Line(1, Str(At(p, {"metadata", "namespace"})) + "\t" + Str(At(p, {"metadata", "name"})) +
                    "\t" + (cpu.empty() ? "0" : cpu) + "\t" + (mem.empty() ? "0" : mem) + "\t" +
                    api::AgeOf(At(p, {"metadata", "creationTimestamp"}), now));
    }
  }
  EventLines(t, events, now);
  return t.Done();
}

std::string DescribeEvent(const json& e, int64_t now) {
  Text t;
  CommonHead(t, e, true);
  t.Map(0, "Labels", At(e, {"metadata", "labels"}));
  t.Map(0, "Annotations", At(e, {"metadata", "annotations"}), true);
  t.Field(0, "Type", Str(At(e, {"type"})));
  t.Field(0, "Reason", Str(At(e, {"reason"})));
  t.Field(0, "Message", Str(At(e, {"message"})));
  t.Line(0, "Involved Object:");
  t.Field(1, "Kind", Str(At(e, {"involvedObject", "kind"})));
  t.Field(1, "Name", Str(At(e, {"involvedObject", "name"})));
  t.Field(1, "Namespace", Str(At(e, {"involvedObject", "namespace"})));
  t.Line(0, "Source:");
  t.Field(1, "Component", Str(At(e, {"source", "component"})));
  t.Field(1, "Host", Str(At(e, {"source", "host"})));
  t.Field(0, "Count", std::to_string(Int(At(e, {"count"}), 1)));
  t.Field(0, "First Timestamp", When(At(e, {"firstTimestamp"})));
  t.Field(
      0, "Last Timestamp",
      When(At(e, {"lastTimestamp"})) + " (" + api::AgeOf(At(e, {"lastTimestamp"}), now) + " ago)");
  return t.Done();
}

// kubectl describe service: the addresses, each port with its target and node port, and the
// ready endpoints (from the Service's Endpoints object, `endpoints`).
std::string DescribeService(const json& svc, const std::vector<json>& events,
                            const std::vector<json>& endpoints, int64_t now) {
  Text t;
  CommonHead(t, svc, true);
  t.Map(0, "Labels", At(svc, {"metadata", "labels"}));
  t.Map(0, "Annotations", At(svc, {"metadata", "annotations"}), true);
  t.Field(0, "Selector", api::LabelsText(At(svc, {"spec", "selector"})));
  t.Field(0, "Type", Str(At(svc, {"spec", "type"}), "ClusterIP"));
  t.Field(0, "IP Family Policy", Str(At(svc, {"spec", "ipFamilyPolicy"}), "SingleStack"));
  t.Field(0, "IP Families", "IPv4");
  std::string ip = Str(At(svc, {"spec", "clusterIP"}), "<none>");
  t.Field(0, "IP", ip);
  t.Field(0, "IPs", ip);
  // The ready addresses by endpoint port name.
  std::map<std::string, std::vector<std::string>> ready;
  for (const auto& e : endpoints)
    for (const auto& sub : api::AtArray(e, {"subsets"}))
      for (const auto& port : api::AtArray(sub, {"ports"}))
        for (const auto& a : api::AtArray(sub, {"addresses"}))
          ready[Str(At(port, {"name"}))].push_back(Str(At(a, {"ip"})) + ":" +
                                                   std::to_string(Int(At(port, {"port"}))));
  for (const auto& p : api::AtArray(svc, {"spec", "ports"})) {
    std::string name = Str(At(p, {"name"}), "<unset>");
    std::string proto = Str(At(p, {"protocol"}), "TCP");
    t.Field(0, "Port", name + "  " + std::to_string(Int(At(p, {"port"}))) + "/" + proto);
    t.Field(0, "TargetPort", Str(At(p, {"targetPort"})) + "/" + proto);
    if (Int(At(p, {"nodePort"})) > 0)
      t.Field(0, "NodePort", name + "  " + std::to_string(Int(At(p, {"nodePort"}))) + "/" + proto);
    std::string list;
    for (const auto& addr : ready[Str(At(p, {"name"}))])
      list += (list.empty() ? "" : ",") + addr;
    t.Field(0, "Endpoints", list);
  }
  t.Field(0, "Session Affinity", Str(At(svc, {"spec", "sessionAffinity"}), "None"));
  if (!Str(At(svc, {"spec", "externalTrafficPolicy"})).empty())
    t.Field(0, "External Traffic Policy", Str(At(svc, {"spec", "externalTrafficPolicy"})));
  EventLines(t, events, now);
  return t.Done();
}

// What `describe` shows for one kind: its text, and the pods listed with it. One entry per
// kind, here; a kind without one gets the common head (name, namespace, labels, annotations)
// and its events.
struct Describer {
  const char* resource;  // plural, as served
  // The query (path and selector) for the related objects shown with the object ("pods"
  // below: a deployment's or node's pods, a service's Endpoints); "" for none.
  std::string (*pods_query)(const json& obj);
  std::string (*render)(const json& obj, const std::vector<json>& events,
                        const std::vector<json>& pods, int64_t now);
};

std::string NoPods(const json&) {
  return "";
}

const std::vector<Describer>& Describers() {
  static const std::vector<Describer> kAll = {
      {"pods", NoPods,
       [](const json& o, const std::vector<json>& ev, const std::vector<json>&, int64_t now) {
         return DescribePod(o, ev, now);
       }},
      {"deployments",
       [](const json& d) -> std::string {
         std::string labels = api::LabelsText(At(d, {"spec", "selector", "matchLabels"}));
         if (labels == "<none>") return "";
         return ResourcePath(*api::ResolveResource("pods"), Str(At(d, {"metadata", "namespace"}))) +
                "?labelSelector=" + QueryEscape(labels);
       },
       DescribeDeployment},
      {"nodes",
       [](const json& n) {
         return ResourcePath(*api::ResolveResource("pods"), "") + "?fieldSelector=" +
                QueryEscape("spec.nodeName=" + Str(At(n, {"metadata", "name"})));
       },
       DescribeNode},
      {"services",
       [](const json& svc) {
         return ResourcePath(*api::ResolveResource("endpoints"),
                             Str(At(svc, {"metadata", "namespace"}))) +
                "?fieldSelector=" +
                QueryEscape("metadata.name=" + Str(At(svc, {"metadata", "name"})));
       },
       DescribeService},
      {"events", NoPods,
       [](const json& e, const std::vector<json>&, const std::vector<json>&, int64_t now) {
         return DescribeEvent(e, now);
       }},
  };
  return kAll;
}

const Describer* DescriberFor(const api::ResourceInfo& r) {
  for (const auto& d : Describers())
    if (r.name == d.resource) return &d;
  return nullptr;
}

struct DescribeOptions {
  std::vector<std::string> args;
  std::string selector;
  bool all_namespaces = false;
};

int RunDescribe(Ctl& ctl, const DescribeOptions& o) {
  auto sel = ParseSelection(o.args);
  if (!sel.ok()) return ctl.Fail(sel.status().message());
  if (Status s = ctl.Connect(); !s.ok()) return ctl.Fail(s.message());
  const api::ResourceInfo& events_r = *api::ResolveResource("events");
  std::vector<std::string> errors;
  bool first = true;
  size_t shown = 0;
  for (const auto& s : sel.value()) {
    std::vector<json> objs;
    if (s.names.empty()) {
      std::string q = o.selector.empty() ? "" : "?labelSelector=" + QueryEscape(o.selector);
      auto list = ctl.GetJson(ResourcePath(*s.resource, o.all_namespaces ? "" : ctl.ns()) + q);
      if (!list.ok()) return ctl.Fail(list.status().message());
      for (const auto& it : api::AtArray(list.value(), {"items"}))
        objs.push_back(it);
    } else {
      auto named = ctl.GetNamed(*s.resource, s.names, &errors);
      if (!named.ok()) return ctl.Fail(named.status().message());
      objs = std::move(named).value();
    }
    for (const auto& obj : objs) {
      std::vector<json> events, pods;
      std::string uid = Str(At(obj, {"metadata", "uid"}));
      if (s.resource->name != "events" && !uid.empty()) {
        auto ev = ctl.GetJson(ResourcePath(events_r, "") +
                              "?fieldSelector=" + QueryEscape("involvedObject.uid=" + uid));
        if (ev.ok())
          for (const auto& e : api::AtArray(ev.value(), {"items"}))
            events.push_back(e);
      }
      const Describer* d = DescriberFor(*s.resource);
      std::string pod_query = d ? d->pods_query(obj) : "";
      if (!pod_query.empty()) {
        auto list = ctl.GetJson(pod_query);
        if (list.ok())
          for (const auto& p : api::AtArray(list.value(), {"items"}))
            pods.push_back(p);
      }
      if (!first) ctl.out << "\n\n";
      first = false;
      ctl.out << DescribeObject(*s.resource, obj, events, pods, ctl.Now());
      ++shown;
    }
  }
  ctl.out << std::flush;
  for (const auto& e : errors)
    ctl.Fail(e);
  if (!errors.empty()) return 1;
  if (shown == 0) ctl.err << "No resources found in " << ctl.ns() << " namespace.\n";
  return 0;
}

}  // namespace

std::string DescribeObject(const api::ResourceInfo& r, const json& obj,
                           const std::vector<json>& events, const std::vector<json>& pods,
                           int64_t now) {
  if (const Describer* d = DescriberFor(r)) return d->render(obj, events, pods, now);
  Text t;
  CommonHead(t, obj, r.namespaced);
  EventLines(t, events, now);
  return t.Done();
}

void AddDescribe(CLI::App& app, Ctl& ctl) {
  auto o = std::make_shared<DescribeOptions>();
  auto* cmd = app.add_subcommand("describe", "Show an object in detail, with its events");
  cmd->add_option("resources", o->args, "TYPE [NAME...] or TYPE/NAME ...");
  cmd->add_option("-l,--selector", o->selector, "Label selector (e.g. app=web)");
  cmd->add_flag("-A,--all-namespaces", o->all_namespaces, "Across all namespaces");
  cmd->footer(R"(Examples:
  # A pod: its node, containers, states, restarts, probes and events
  tugctl describe pod web-server-7f9c4-abcde

  # A deployment with its pods; a node with what runs on it
  tugctl describe deployment web-server
  tugctl describe node node-a

  # Every pod of an app
  tugctl describe pods -l app=web-server)");
  cmd->callback([&ctl, o] { ctl.exit_code = RunDescribe(ctl, *o); });
}

}  // namespace tug::ctl
