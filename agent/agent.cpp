#include "agent/agent.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio.hpp>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "agent/dns/dns_server.h"
#include "agent/image/image_store.h"
#include "agent/log_server.h"
#include "agent/network/node_routes.h"
#include "agent/proxy/proxy_rules.h"
#include "agent/proxy/service_proxy.h"
#include "agent/runtime/memory_cgroup.h"
#include "agent/runtime/process_runtime.h"
#include "agent/runtime/runc_runtime.h"
#include "agent/supervisor.h"
#include "api/node.h"
#include "api/quantity.h"
#include "api/service.h"
#include "api/timestamp.h"
#include "api/validation.h"
#include "base/host_port.h"
#include "net/http_client.h"
#include "net/tcp_forwarder.h"

namespace tug::agent {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json Parse(const std::string& s) {
  return json::parse(s, nullptr, false);
}

std::string PodsPath(const std::string& ns) {
  return "/api/v1/namespaces/" + ns + "/pods";
}

// Probes on a few threads of their own: an exec or a connect may block for its timeout.
class PoolProber : public ProbeRunner {
 public:
  using Deliver = std::function<void(ProbeKey, ProbeResult)>;
  PoolProber(int threads, Deliver deliver) : deliver_(std::move(deliver)) {
    for (int i = 0; i < std::max(1, threads); ++i)
      threads_.emplace_back([this] { Work(); });
  }
  ~PoolProber() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_)
      t.join();
  }
  void Run(const ProbeKey& key, const ProbeSpec& spec, const ProbeTarget& target) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      queue_.push_back({key, spec, target});
    }
    cv_.notify_one();
  }

 private:
  struct Job {
    ProbeKey key;
    ProbeSpec spec;
    ProbeTarget target;
  };
  void Work() {
    for (;;) {
      Job job;
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
        if (stop_) return;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      ProbeResult r;
      try {
        r = RunProbe(job.spec, job.target);
      } catch (const std::exception& e) {
        r = {false, std::string("the probe could not run: ") + e.what()};
      }
      deliver_(job.key, r);
    }
  }
  Deliver deliver_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace

// hostPorts relayed to pods on the agent's io_context.
class RelayedHostPorts : public HostPortForwards {
 public:
  explicit RelayedHostPorts(boost::asio::io_context& io) : io_(io) {}
  Status Open(const std::string& pod_uid, const std::string& listen,
              const std::string& target) override {
    auto f = std::make_unique<net::TcpForwarder>(io_);
    if (Status s = f->Listen(listen, target); !s) return s;
    spdlog::info("hostPort {} forwarded to {}", listen, target);
    by_pod_[pod_uid].push_back(std::move(f));
    return Status::Ok();
  }
  void Close(const std::string& pod_uid) override { by_pod_.erase(pod_uid); }

 private:
  boost::asio::io_context& io_;
  std::map<std::string, std::vector<std::unique_ptr<net::TcpForwarder>>> by_pod_;
};

struct Agent::Impl {
  AgentOptions o;
  std::string host;  // the address others reach this machine at
  uint16_t log_port = 0;
  std::string memory_note;
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  boost::asio::steady_timer tick_timer{io};
  std::unique_ptr<ProcessRuntime> runtime;
  std::unique_ptr<image::ImageStore> images;
  std::unique_ptr<RuncRuntime> runc;
  std::unique_ptr<PodNetwork> network;
  std::unique_ptr<RelayedHostPorts> forwards;
  // The proxy's own threads (one per core): relaying must not wait behind the supervisor.
  boost::asio::io_context proxy_io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> proxy_work{
      proxy_io.get_executor()};
  std::unique_ptr<proxy::ServiceProxy> proxy;
  std::unique_ptr<dns::DnsServer> dns;
  std::string dns_address;  // where the DNS server listens ("" until the pod range is known)
  std::unique_ptr<NodeRoutes> routes;
  std::string runtime_version = "process://";
  boost::asio::steady_timer gc_timer{io};
  std::unique_ptr<PoolProber> prober;
  std::unique_ptr<Supervisor> sup;
  std::unique_ptr<net::HttpServer> server;
  std::atomic<bool> stopping{false};
  std::vector<std::thread> threads;

  // Handed from the io thread to the status writer.
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, PodReport> pending;  // by uid; the newest report wins
  std::vector<PodEvent> events;
  std::map<std::string, json> handed;  // io thread only: the last report handed over per uid

  // Sleeps up to `d`, returning early (false) when stopping.
  bool Sleep(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> l(mu);
    return !cv.wait_for(l, d, [&] { return stopping.load(); });
  }

  // --- io thread ------------------------------------------------------------------------
  void Tick() {
    // The next tick is set first: a tick that fails must not end supervision.
    tick_timer.expires_after(std::chrono::milliseconds(o.tick_ms));
    tick_timer.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) Tick();
    });
    try {
      sup->Tick(NowMs());
      HandOver();
    } catch (const std::exception& e) {
      spdlog::error("supervisor: unexpected error in a tick, carrying on: {}", e.what());
    }
  }

  void HandOver() {
    auto reports = sup->TakeChangedReports();
    auto new_events = sup->TakeEvents();
    bool changed = !new_events.empty();
    std::lock_guard<std::mutex> l(mu);
    for (auto& r : reports) {
      auto it = handed.find(r.uid);
      if (it == handed.end() || it->second != r.status) {
        handed[r.uid] = r.status;
        pending[r.uid] = std::move(r);
        changed = true;
      }
    }
    if (handed.size() > 2 * sup->pods() + 64) {
      // Forget the pods that are gone.
      std::map<std::string, json> kept;
      for (auto& r : sup->Reports()) {
        auto it = handed.find(r.uid);
        if (it != handed.end()) kept[r.uid] = std::move(it->second);
      }
      handed = std::move(kept);
    }
    for (auto& e : new_events) {
      if (events.size() < 1000) events.push_back(std::move(e));  // a storm is cut short
    }
    if (changed) cv.notify_all();
  }

  // The watcher hands over the whole set of pods on every change; only the newest set
  // matters, so sets that arrive while the io thread is busy replace each other instead of
  // queueing (a burst of 200 binds must not become 200 copies of 200 pods).
  std::mutex assigned_mu;
  std::optional<std::vector<json>> assigned_next;

  void Assigned(std::vector<json> pods) {
    bool wake;
    {
      std::lock_guard<std::mutex> l(assigned_mu);
      wake = !assigned_next.has_value();
      assigned_next = std::move(pods);
    }
    if (!wake) return;
    boost::asio::post(io, [this] {
      std::optional<std::vector<json>> latest;
      {
        std::lock_guard<std::mutex> l(assigned_mu);
        latest.swap(assigned_next);
      }
      if (!latest) return;
      try {
        int64_t now = NowMs();
        sup->SetAssigned(*latest, now);
        sup->StartDue(now);  // start new pods now, not at the next tick
        HandOver();
      } catch (const std::exception& e) {
        spdlog::error("supervisor: unexpected error taking the assigned pods: {}", e.what());
      }
    });
  }

  // --- the Node -------------------------------------------------------------------------
  json NodeObject() const {
    std::string cpu = o.cpu, memory = o.memory;
    if (cpu.empty()) cpu = std::to_string(std::max(1u, std::thread::hardware_concurrency()));
    if (memory.empty()) {
      int64_t bytes = static_cast<int64_t>(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGE_SIZE);
      memory = std::to_string(bytes / 1024) + "Ki";
    }
    json labels = {{"kubernetes.io/hostname", o.name}, {"kubernetes.io/os", "linux"}};
    for (const auto& [k, v] : o.labels)
      labels[k] = v;
    json capacity = {{"cpu", cpu}, {"memory", memory}, {"pods", "110"}};
    std::string addr = host + ":" + std::to_string(log_port);
    return {{"apiVersion", "v1"},
            {"kind", "Node"},
            {"metadata",
             {{"name", o.name},
              {"labels", labels},
              {"annotations",
               {{"tug.io/memory-limits",
                 memory_note.empty() ? "enforced" : "not enforced: " + memory_note}}}}},
            {"spec", json::object()},
            {"status",
             {{"capacity", capacity},
              {"allocatable", capacity},
              {"addresses",
               {{{"type", "InternalIP"}, {"address", host}},
                {{"type", "Hostname"}, {"address", o.name}}}},
              {"daemonEndpoints", {{"agentAddr", addr}, {"kubeletEndpoint", {{"Port", log_port}}}}},
              {"nodeInfo",
               {{"kubeletVersion", "tug-agent 0.1.0"},
                {"operatingSystem", "linux"},
                {"containerRuntimeVersion", runtime_version}}},
              {"conditions",
               {{{"type", "Ready"},
                 {"status", "True"},
                 {"reason", "KubeletReady"},
                 {"message", "tug-agent is posting ready status"},
                 {"lastHeartbeatTime", api::NowRfc3339()},
                 {"lastTransitionTime", api::NowRfc3339()}}}}}}};
  }

  // Creates the Node, or brings an existing one (an earlier run's) up to date: our labels
  // over whatever else is there, and our status.
  bool Register(net::HttpClient& c) {
    json want = NodeObject();
    auto r = c.Post("/api/v1/nodes", Dump(want));
    if (!r.ok()) {
      spdlog::warn("cannot register node {}: {}", o.name, r.status().message());
      return false;
    }
    if (r->status == 201) {
      spdlog::info("registered node {} with {}", o.name, r->server);
      return true;
    }
    if (r->status != 409) {
      spdlog::warn("cannot register node {}: {} {}", o.name, r->status, r->body);
      return false;
    }
    for (int attempt = 0; attempt < 5; ++attempt) {
      auto got = c.Get("/api/v1/nodes/" + o.name);
      if (!got.ok() || got->status != 200) return false;
      json cur = Parse(got->body);
      if (!cur.is_object()) return false;
      json updated = cur;
      for (const char* part : {"labels", "annotations"}) {
        if (!updated["metadata"].contains(part) || !updated["metadata"][part].is_object())
          updated["metadata"][part] = json::object();
        updated["metadata"][part].update(want["metadata"][part]);
      }
      if (updated != cur) {
        auto put = c.Do("PUT", "/api/v1/nodes/" + o.name, Dump(updated));
        if (!put.ok()) return false;
        if (put->status == 409) continue;
        if (put->status != 200) {
          spdlog::warn("cannot update node {}: {} {}", o.name, put->status, put->body);
          return false;
        }
        updated = Parse(put->body);
        if (!updated.is_object()) return false;
      }
      json st = updated.contains("status") && updated["status"].is_object() ? updated["status"]
                                                                            : json::object();
      st.update(want["status"]);
      updated["status"] = st;
      auto put = c.Do("PUT", "/api/v1/nodes/" + o.name + "/status", Dump(updated));
      if (!put.ok()) return false;
      if (put->status == 409) continue;
      if (put->status != 200) {
        spdlog::warn("cannot update node {} status: {} {}", o.name, put->status, put->body);
        return false;
      }
      spdlog::info("node {} registered again (it existed) with {}", o.name, put->server);
      return true;
    }
    return false;
  }

  void HeartbeatLoop() {
    net::HttpClient c(o.servers, o.token);
    while (!stopping && !Register(c))
      Sleep(1s);
    int64_t next_check = NowMs() + o.resync_ms;
    bool failing = false;
    net::RequestOptions ro;
    ro.timeout = std::chrono::milliseconds(std::max(2 * o.heartbeat_ms, 2000));
    ro.idempotent = true;  // a repeated heartbeat does no harm
    while (!stopping) {
      int64_t start = NowMs();
      auto r = c.Post("/api/v1/nodes/" + o.name + "/heartbeat", "{}", ro);
      bool ok = r.ok() && r->status == 200;
      if (!ok && !failing) {
        spdlog::warn("heartbeat failed, keeping pods running and retrying: {}",
                     r.ok() ? std::to_string(r->status) + " " + r->body : r.status().message());
      } else if (ok && failing) {
        spdlog::info("heartbeats reach the control plane again ({})", r->server);
      }
      failing = !ok;
      if (ok && NowMs() >= next_check) {
        // The Node may have been deleted (heartbeats are not objects and do not recreate it).
        auto got = c.Get("/api/v1/nodes/" + o.name);
        if (got.ok() && got->status == 404) Register(c);
        next_check = NowMs() + o.resync_ms;
      }
      int64_t spent = NowMs() - start;
      Sleep(std::chrono::milliseconds(std::max<int64_t>(10, o.heartbeat_ms - spent)));
    }
  }

  // --- assignments ------------------------------------------------------------------------
  void WatchLoop() {
    Mirror("/api/v1/pods?fieldSelector=spec.nodeName%3D" + o.name, "this node's pods",
           [this](const std::map<std::string, json>& pods) { Publish(pods); });
  }

  // Keeps a copy of the objects at `base` (a list URL, with a query or not): lists, watches
  // from the list's revision, lists again when the watch ends (every resync_ms, or 410), and
  // hands the whole set, by uid, to `publish` after every change. Only a successful list
  // replaces the copy: cut off from every server, the last one stays.
  void Mirror(const std::string& base, const std::string& what,
              const std::function<void(const std::map<std::string, json>&)>& publish) {
    net::HttpClient c(o.servers, o.token);
    const char* sep = base.find('?') == std::string::npos ? "?" : "&";
    int failures = 0;
    while (!stopping) {
      auto r = c.Get(base);
      json list = r.ok() && r->status == 200 ? Parse(r->body) : json();
      if (!list.is_object() || !list.contains("items") || !list["items"].is_array()) {
        if (failures++ == 0)
          spdlog::warn("cannot list {}, keeping what is known and retrying: {}", what,
                       r.ok() ? std::to_string(r->status) + " " + r->body : r.status().message());
        Sleep(std::chrono::milliseconds(std::min(5000, 250 * failures)));
        continue;
      }
      if (failures > 0) spdlog::info("listing {} works again", what);
      failures = 0;
      std::map<std::string, json> pods;
      for (auto& p : list["items"]) {
        std::string uid = p.contains("metadata") ? api::StringField(p["metadata"], "uid") : "";
        if (!uid.empty()) pods[uid] = std::move(p);
      }
      publish(pods);
      std::string rv =
          list.contains("metadata") ? api::StringField(list["metadata"], "resourceVersion") : "";
      std::string buf;
      bool relist = false;
      auto on_data = [&](const std::string& data) {
        buf += data;
        size_t nl;
        bool any = false;
        while ((nl = buf.find('\n')) != std::string::npos) {
          json ev = Parse(buf.substr(0, nl));
          buf.erase(0, nl + 1);
          if (!ev.is_object()) continue;
          std::string type = api::StringField(ev, "type");
          const json& obj = ev.contains("object") ? ev["object"] : json();
          if (type == "ERROR") {
            relist = true;  // 410 Gone and the like: read the list again
            return false;
          }
          std::string uid = obj.is_object() && obj.contains("metadata")
                                ? api::StringField(obj["metadata"], "uid")
                                : "";
          if (uid.empty()) continue;
          if (type == "DELETED") {
            pods.erase(uid);
          } else {
            pods[uid] = obj;
          }
          any = true;
        }
        if (any) publish(pods);
        return !stopping.load() && !relist;
      };
      int seconds = std::max(1, o.resync_ms / 1000);
      Status s = c.Stream("GET",
                          base + sep + "watch=true&resourceVersion=" + rv +
                              "&timeoutSeconds=" + std::to_string(seconds),
                          "", on_data, std::chrono::milliseconds(o.resync_ms + 5000));
      if (!s.ok() && !stopping) {
        spdlog::warn("watch of {} ended: {}; listing again", what, s.message());
        Sleep(500ms);
      }
    }
  }

  void NodesLoop() {
    Mirror("/api/v1/nodes", "the Nodes",
           [this](const std::map<std::string, json>& m) { Offer(&ViewIn::nodes, m); });
  }
  void ServicesLoop() {
    Mirror("/api/v1/services", "the Services",
           [this](const std::map<std::string, json>& m) { Offer(&ViewIn::services, m); });
  }
  void EndpointsLoop() {
    Mirror("/api/v1/endpoints", "the Endpoints",
           [this](const std::map<std::string, json>& m) { Offer(&ViewIn::endpoints, m); });
  }

  void Publish(const std::map<std::string, json>& pods) {
    std::vector<json> v;
    v.reserve(pods.size());
    for (const auto& [uid, p] : pods)
      v.push_back(p);
    Assigned(std::move(v));
  }

  // --- Nodes, Services and Endpoints: the pod range, routes, the proxy and DNS -----------
  // The mirrors' threads hand over whole sets; the io thread takes the newest of each.
  struct ViewIn {
    std::optional<std::map<std::string, json>> nodes, services, endpoints;
  };
  std::mutex view_mu;
  ViewIn view_in;
  bool view_posted = false;
  // io thread only:
  std::map<std::string, json> nodes_now, services_now, endpoints_now;
  std::string said_range;
  // The routes wanted, for the routes thread (under mu).
  std::optional<NodeRoutesWant> routes_want;

  void Offer(std::optional<std::map<std::string, json>> ViewIn::*which,
             const std::map<std::string, json>& objects) {
    bool post;
    {
      std::lock_guard<std::mutex> l(view_mu);
      view_in.*which = objects;
      post = !view_posted;
      view_posted = true;
    }
    if (!post) return;
    boost::asio::post(io, [this] {
      ViewIn in;
      {
        std::lock_guard<std::mutex> l(view_mu);
        in = std::exchange(view_in, {});
        view_posted = false;
      }
      if (in.nodes) nodes_now = std::move(*in.nodes);
      if (in.services) services_now = std::move(*in.services);
      if (in.endpoints) endpoints_now = std::move(*in.endpoints);
      try {
        ApplyView();
      } catch (const std::exception& e) {
        spdlog::error("unexpected error applying Nodes, Services and Endpoints: {}", e.what());
      }
    });
  }

  std::vector<api::ServiceInfo> Services(const std::string& ns = "") const {
    std::vector<api::ServiceInfo> out;
    for (const auto& [uid, s] : services_now) {
      api::ServiceInfo info = api::ReadService(s);
      if (ns.empty() || info.ns == ns) out.push_back(std::move(info));
    }
    return out;
  }

  void ApplyView() {
    NodeRoutesWant want;
    for (const auto& [uid, n] : nodes_now) {
      api::NodeInfo info = api::ReadNode(n);
      if (info.name == o.name) {
        if (network && !info.pod_cidr.empty()) {
          bool had = network->range().has_value();
          Status st = network->SetRange(info.pod_cidr);
          if (!st.ok() && st.message() != said_range) {
            spdlog::error("pod range: {}", st.message());
            said_range = st.message();
          } else if (st.ok() && !had) {
            spdlog::info("this node's pod range is {} (its Node's spec.podCIDR)", info.pod_cidr);
          }
        }
        continue;
      }
      // host-gw: other machines' pod ranges via their addresses. Agents that share this
      // machine (tests, the loopback launcher) are not routed to.
      if (info.pod_cidr.empty() || info.address.empty() || info.address == host ||
          info.address.rfind("127.", 0) == 0)
        continue;
      want.remote[info.pod_cidr] = info.address;
    }
    std::string gateway;
    if (network) {
      if (auto r = network->range()) gateway = r->Gateway();
    }

    std::vector<api::ServiceInfo> services = Services();
    std::map<std::pair<std::string, std::string>, std::vector<api::EndpointSubset>> endpoints;
    for (const auto& [uid, e] : endpoints_now) {
      const json& md = e.contains("metadata") ? e["metadata"] : json();
      endpoints[{api::StringField(md, "namespace"), api::StringField(md, "name")}] =
          api::ReadEndpoints(e);
    }
    std::map<std::pair<std::string, std::string>, std::string> names;
    for (const auto& svc : services) {
      names[{svc.ns, svc.name}] = svc.cluster_ip;
      if (proxy && !svc.cluster_ip.empty() && svc.cluster_ip != "None")
        want.local_ips.insert(svc.cluster_ip);
    }
    if (proxy) proxy->Sync(proxy::ProxyPorts(services, endpoints));
    if (dns) {
      dns->SetServices(std::move(names));
      if (!gateway.empty() && dns_address.empty()) {
        // Every local pod's nameserver: the gateway address, on the pod bridge.
        if (Status st = dns->Listen(gateway, 53); st.ok()) {
          dns_address = gateway;
          spdlog::info("cluster DNS ({}) answers on {}:53", o.cluster_domain, dns_address);
        } else {
          spdlog::error("{}", st.message());
          dns_address = "-";  // said once; pods then have no cluster DNS on this node
        }
      }
    }
    if (routes) {
      {
        std::lock_guard<std::mutex> l(mu);
        routes_want = std::move(want);
      }
      cv.notify_all();
    }
  }

  // Applies the routes wanted (they run `ip` and `iptables`, so not on the io thread), again
  // every 10 s to repair what someone else changed, and every 5 s while it fails.
  void RoutesLoop() {
    std::optional<NodeRoutesWant> current;
    std::string said;
    bool failing = false;
    while (!stopping) {
      {
        std::unique_lock<std::mutex> l(mu);
        cv.wait_for(l, failing ? 5s : 10s, [&] { return stopping || routes_want.has_value(); });
        if (stopping) return;
        if (routes_want) current = std::exchange(routes_want, std::nullopt);
      }
      if (!current) continue;
      // Masquerading starts once the pod network is in use (the first pod), which is not an
      // event of the cluster's: look each time.
      current->own_cidr.clear();
      if (network && network->InUse()) {
        if (auto r = network->range()) current->own_cidr = r->ToString();
      }
      Status st = routes->Sync(*current);
      failing = !st.ok();
      if (failing && st.message() != said) {
        spdlog::warn("node routes: {} (retrying)", st.message());
        said = st.message();
      } else if (!failing && !said.empty()) {
        spdlog::info("node routes are in place again");
        said.clear();
      }
    }
  }

  // --- status -----------------------------------------------------------------------------
  // true when done with the report (written, or no longer ours to write).
  bool WriteStatus(net::HttpClient& c, const PodReport& rep) {
    std::string path = PodsPath(rep.ns) + "/" + rep.name;
    for (int attempt = 0; attempt < 5; ++attempt) {
      auto got = c.Get(path);
      if (!got.ok()) return false;
      if (got->status == 404) return true;
      if (got->status != 200) return false;
      json cur = Parse(got->body);
      if (!cur.is_object() || !cur.contains("metadata")) return false;
      std::string phase = cur.contains("status") ? api::StringField(cur["status"], "phase") : "";
      if (api::StringField(cur["metadata"], "uid") != rep.uid ||
          (cur.contains("spec") ? api::StringField(cur["spec"], "nodeName") : "") != o.name ||
          phase == "Failed" || phase == "Succeeded")
        return true;  // another pod by that name, moved, or given up on: not ours to report
      json st =
          cur.contains("status") && cur["status"].is_object() ? cur["status"] : json::object();
      json conditions = st.contains("conditions") && st["conditions"].is_array() ? st["conditions"]
                                                                                 : json::array();
      for (const auto& [k, v] : rep.status.items()) {
        if (k != "conditions") st[k] = v;
      }
      // Our condition types replace theirs; others (PodScheduled) stay.
      for (const auto& mine : rep.status["conditions"]) {
        bool replaced = false;
        for (auto& theirs : conditions) {
          if (api::StringField(theirs, "type") == api::StringField(mine, "type")) {
            std::string when = api::StringField(theirs, "lastTransitionTime");
            bool same = api::StringField(theirs, "status") == api::StringField(mine, "status");
            theirs = mine;
            theirs["lastTransitionTime"] = same && !when.empty() ? when : api::NowRfc3339();
            replaced = true;
          }
        }
        if (!replaced) {
          json c2 = mine;
          c2["lastTransitionTime"] = api::NowRfc3339();
          conditions.push_back(c2);
        }
      }
      st["conditions"] = conditions;
      cur["status"] = st;
      auto put = c.Do("PUT", path + "/status", Dump(cur));
      if (!put.ok()) return false;
      if (put->status == 200 || put->status == 404) return true;
      if (put->status != 409) {
        spdlog::warn("cannot write the status of pod {}/{}: {} {}", rep.ns, rep.name, put->status,
                     put->body);
        return put->status < 500 && put->status != 429;  // a refused status is not retried
      }
    }
    return false;
  }

  void PostEvent(net::HttpClient& c, const PodEvent& e) {
    static std::atomic<uint64_t> seq{0};
    char suffix[32];
    std::snprintf(suffix, sizeof(suffix), "%llx%04llx",
                  static_cast<unsigned long long>(
                      std::chrono::system_clock::now().time_since_epoch().count() & 0xffffffffff),
                  static_cast<unsigned long long>(seq++ & 0xffff));
    std::string now = api::NowRfc3339();
    json ev = {{"apiVersion", "v1"},
               {"kind", "Event"},
               {"metadata", {{"name", e.pod + "." + suffix}, {"namespace", e.ns}}},
               {"involvedObject",
                {{"apiVersion", "v1"},
                 {"kind", "Pod"},
                 {"namespace", e.ns},
                 {"name", e.pod},
                 {"uid", e.uid}}},
               {"reason", e.reason},
               {"message", e.message},
               {"type", e.type},
               {"count", 1},
               {"firstTimestamp", now},
               {"lastTimestamp", now},
               {"source", {{"component", "tug-agent"}, {"host", o.name}}}};
    auto r = c.Post("/api/v1/namespaces/" + e.ns + "/events", Dump(ev));
    if (r.ok() && r->status >= 300 && r->status != 409)
      spdlog::debug("event for {}/{} refused: {} {}", e.ns, e.pod, r->status, r->body);
  }

  // Kubelet's image garbage collection: every period, when the image disk is fuller than the
  // high-water mark, unused images go (oldest use first) until it is below the low one. The
  // images in use are read on the io thread (the supervisor's); the removal runs here.
  void ImageGcLoop() {
    while (Sleep(std::chrono::milliseconds(o.image_gc_period_ms))) {
      auto promise = std::make_shared<std::promise<std::vector<std::string>>>();
      auto future = promise->get_future();
      boost::asio::post(io, [this, promise] { promise->set_value(sup->ImagesInUse()); });
      if (future.wait_for(10s) != std::future_status::ready) continue;
      std::set<std::string> in_use;
      for (const auto& name : future.get())
        if (auto ref = image::ParseReference(name); ref.ok()) in_use.insert(ref->String());
      for (const auto& removed :
           images->CollectGarbage(in_use, o.image_gc_high_percent, o.image_gc_low_percent))
        spdlog::info("image garbage collection removed {}", removed);
    }
  }

  void StatusLoop() {
    net::HttpClient c(o.servers, o.token);
    while (!stopping) {
      std::map<std::string, PodReport> todo;
      std::vector<PodEvent> evs;
      {
        std::unique_lock<std::mutex> l(mu);
        cv.wait_for(l, 1s, [&] { return stopping || !pending.empty() || !events.empty(); });
        todo.swap(pending);
        evs.swap(events);
      }
      bool failed = false;
      for (auto& [uid, rep] : todo) {
        if (stopping) return;
        if (WriteStatus(c, rep)) continue;
        failed = true;
        std::lock_guard<std::mutex> l(mu);
        pending.emplace(uid, rep);  // unless a newer report came meanwhile
      }
      for (const auto& e : evs)
        PostEvent(c, e);
      if (failed) Sleep(500ms);
    }
  }
};

Agent::Agent(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Agent::~Agent() {
  Stop();
  for (auto& t : impl_->threads)
    if (t.joinable()) t.join();
  impl_->prober.reset();  // its threads deliver into io: stop them before the rest goes
  if (impl_->server) impl_->server->Stop();
}

Result<std::unique_ptr<Agent>> Agent::Create(AgentOptions o) {
  if (!api::IsDns1123Subdomain(o.name))
    return Status::Invalid("--name \"" + o.name +
                           "\" is not a valid node name: lower-case letters, digits, '-' and "
                           "'.', starting and ending with a letter or digit");
  if (o.servers.empty()) return Status::Invalid("--server needs at least one URL");
  if (o.heartbeat_ms <= 0) return Status::Invalid("--heartbeat-ms must be positive");
  for (const auto& q : {o.cpu, o.memory}) {
    if (!q.empty() && !api::Quantity::Parse(q).ok())
      return Status::Invalid("\"" + q + "\" is not a quantity (like 4, 500m, 8Gi)");
  }
  std::error_code ec;
  // Absolute: containers' working directories and executables are given to other processes.
  o.data_dir = std::filesystem::absolute(o.data_dir, ec).lexically_normal().string();
  std::filesystem::create_directories(o.data_dir + "/pods", ec);
  if (ec) return Status::Error("cannot use --data-dir " + o.data_dir + ": " + ec.message());
  if (::access(o.data_dir.c_str(), W_OK) != 0)
    return Status::Error("cannot write to --data-dir " + o.data_dir);
  if (o.shim.empty()) {
    // Installed side by side: tug-shim lives next to tug-agent.
    std::error_code ec2;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec2);
    o.shim = (ec2 ? std::filesystem::path(".") : self.parent_path()) / "tug-shim";
  }
  if (::access(o.shim.c_str(), X_OK) != 0)
    return Status::Error(
        "cannot run " + o.shim +
        ": tug-agent needs the tug-shim program next to it (make build makes both)");
  auto impl = std::make_unique<Impl>();
  impl->o = o;
  Impl* p = impl.get();
  if (!ParseHostPort(o.addr)) return Status::Invalid("--addr must be ip:port, not " + o.addr);
  p->host = HostOf(o.addr);
  if (p->host.empty() || p->host == "0.0.0.0") p->host = "127.0.0.1";
  p->server = std::make_unique<net::HttpServer>(
      p->io,
      MakeLogHandler(
          p->io,
          [p](const std::string& ns, const std::string& pod, const std::string& container) {
            return p->sup->LogPath(ns, pod, container);
          },
          [p](const std::string& ns, const std::string& pod, const std::string& container,
              int tail) { return p->sup->Logs(ns, pod, container, tail); },
          o.token),
      1 << 16);
  if (Status s = p->server->Listen(o.addr); !s) return s;
  p->log_port = p->server->port();
  auto groups = MemoryCgroups::Detect(o.name);
  std::optional<MemoryCgroups> cg;
  if (groups.ok()) {
    cg = groups.value();
    spdlog::info("memory limits are enforced with cgroups under {}", groups->base());
  } else {
    p->memory_note = groups.status().message();
    spdlog::warn("memory limits are not enforced on this machine: {}", p->memory_note);
  }
  p->runtime = std::make_unique<ProcessRuntime>(o.shim, cg, p->memory_note);
  image::RegistryConfig registries;
  if (!o.registry_config.empty()) {
    auto loaded = image::LoadRegistryConfig(o.registry_config);
    if (!loaded.ok())
      return Status::Invalid("--registry-config " + o.registry_config + ": " +
                             loaded.status().message());
    registries = std::move(loaded).value();
  }
  std::vector<Runtime*> runtimes;
  for (const auto& name : o.runtimes) {
    if (name == "process") {
      runtimes.push_back(p->runtime.get());
    } else if (name == "runc") {
      if (std::string why = RuncRuntime::Unavailable(o.runc); !why.empty()) {
        spdlog::warn("container images cannot run on this node: {}", why);
        continue;
      }
      auto images =
          image::ImageStore::Open(o.data_dir + "/images", registries, image::NewNetworkTransport());
      if (!images.ok()) return images.status();
      p->images = std::move(images).value();
      PodNetworkOptions no;
      no.cidr = o.pod_cidr;
      no.bridge = o.pod_bridge;
      no.state_dir = o.data_dir + "/network";
      auto network = PodNetwork::Open(no);
      if (!network.ok()) return network.status();
      p->network = std::move(network).value();
      p->forwards = std::make_unique<RelayedHostPorts>(p->io);
      RuncOptions ro;
      ro.network = p->network.get();
      ro.cluster_dns = o.cluster_dns;
      ro.cluster_domain = o.cluster_domain;
      ro.runc = o.runc;
      ro.state_root = o.data_dir + "/runc";
      ro.shim = o.shim;
      p->runc = std::make_unique<RuncRuntime>(ro, *p->images, cg, p->memory_note);
      runtimes.push_back(p->runc.get());
      p->runtime_version = "runc://";
    } else {
      return Status::Invalid("--runtimes: unknown runtime \"" + name + "\" (known: runc, process)");
    }
  }
  if (runtimes.empty()) return Status::Invalid("--runtimes: no runtime is usable on this node");
  if (o.service_proxy) {
    proxy::ProxyOptions po;
    po.connect_timeout_ms = o.proxy_connect_timeout_ms;
    p->proxy = std::make_unique<proxy::ServiceProxy>(p->proxy_io, po);
    p->proxy->SetErrorHandler(
        [](const std::string& problem) { spdlog::warn("proxy: {}", problem); });
  }
  if (o.cluster_dns && p->network) {
    p->dns = std::make_unique<dns::DnsServer>(p->io, o.cluster_domain);
    p->dns->SetUpstreams(dns::DnsServer::NameserversOf("/etc/resolv.conf"));
  }
  // Routes need root; without it the proxy still serves NodePorts.
  if (::geteuid() == 0 && (p->network || p->proxy)) p->routes = std::make_unique<NodeRoutes>();
  p->prober = std::make_unique<PoolProber>(o.probe_threads, [p](ProbeKey k, ProbeResult r) {
    boost::asio::post(p->io, [p, k, r] {
      try {
        p->sup->ProbeDone(k, r, NowMs());
      } catch (const std::exception& e) {
        spdlog::error("supervisor: unexpected error taking a probe result: {}", e.what());
      }
    });
  });
  SupervisorOptions so;
  so.node_name = o.name;
  so.host_ip = p->host;
  so.pods_dir = o.data_dir + "/pods";
  so.backoff = o.backoff;
  so.container_path =
      std::string(kDefaultPath) + ":" + std::filesystem::path(o.shim).parent_path().string();
  SupervisorParts parts;
  parts.runtimes = runtimes;
  parts.probes = p->prober.get();
  parts.network = p->network.get();
  parts.forwards = p->forwards.get();
  parts.service_env = [p](const std::string& ns) { return api::ServiceLinkEnv(p->Services(ns)); };
  p->sup = std::make_unique<Supervisor>(so, parts);
  // A runtime that finishes work on another thread (a pull) wakes the io thread at once.
  for (Runtime* rt : runtimes) {
    rt->SetWake([p] {
      boost::asio::post(p->io, [p] {
        try {
          p->sup->TakeRuntimeEvents(NowMs());
          p->HandOver();
        } catch (const std::exception& e) {
          spdlog::error("supervisor: unexpected error taking runtime events: {}", e.what());
        }
      });
    });
  }
  try {
    p->sup->Recover(NowMs());
  } catch (const std::exception& e) {
    return Status::Error("cannot read the state of earlier pods under " + so.pods_dir + ": " +
                         e.what());
  }
  if (p->sup->running() > 0)
    spdlog::info("took over {} running containers of {} pods from the previous run",
                 p->sup->running(), p->sup->pods());
  return std::unique_ptr<Agent>(new Agent(std::move(impl)));
}

void Agent::Run() {
  Impl* p = impl_.get();
  // A surprise (an answer of a shape we did not expect) must not end a thread, which would
  // end the process: say it and start the loop again.
  auto guarded = [p](const char* what, void (Impl::*loop)()) {
    return [p, what, loop] {
      while (!p->stopping) {
        try {
          (p->*loop)();
          return;
        } catch (const std::exception& e) {
          spdlog::error("{} loop: unexpected error, starting it again: {}", what, e.what());
          p->Sleep(1s);
        }
      }
    };
  };
  p->threads.emplace_back(guarded("heartbeat", &Impl::HeartbeatLoop));
  p->threads.emplace_back(guarded("pod watch", &Impl::WatchLoop));
  p->threads.emplace_back(guarded("status", &Impl::StatusLoop));
  if (p->images) p->threads.emplace_back(guarded("image gc", &Impl::ImageGcLoop));
  if (p->proxy || p->dns || p->network) {
    p->threads.emplace_back(guarded("node watch", &Impl::NodesLoop));
    p->threads.emplace_back(guarded("service watch", &Impl::ServicesLoop));
    p->threads.emplace_back(guarded("endpoints watch", &Impl::EndpointsLoop));
  }
  if (p->routes) p->threads.emplace_back(guarded("routes", &Impl::RoutesLoop));
  if (p->proxy) {
    for (unsigned i = 0; i < std::max(2u, std::thread::hardware_concurrency()); ++i) {
      p->threads.emplace_back([p] {
        while (!p->stopping) {
          try {
            p->proxy_io.run();
            return;
          } catch (const std::exception& e) {
            spdlog::error("proxy: unexpected error, carrying on: {}", e.what());
          }
        }
      });
    }
  }
  boost::asio::post(p->io, [p] { p->Tick(); });
  while (!p->stopping) {
    try {
      p->io.run();
      break;
    } catch (const std::exception& e) {
      spdlog::error("unexpected error, carrying on: {}", e.what());
    }
  }
}

void Agent::Stop() {
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  impl_->io.stop();
  impl_->proxy_io.stop();
}

uint16_t Agent::port() const {
  return impl_->log_port;
}

}  // namespace tug::agent
