#include "controlplane/metrics.h"

#include <cstdio>

#include "raftstore/node.h"

namespace tug::cp {

namespace {

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// Label values are ours (verbs, resource names, paths), but escape as the format demands.
std::string Esc(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void Gauge(std::string* out, const char* name, const char* help, double v) {
  *out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n" + name +
          " " + Num(v) + "\n";
}

void Counter(std::string* out, const char* name, const char* help, double v) {
  *out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name +
          " " + Num(v) + "\n";
}

const std::vector<double> kLatencyBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                             0.25,  0.5,    1,     2.5,  5,     10};

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double v) {
  std::lock_guard<std::mutex> l(mu_);
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i])
    ++i;
  ++counts_[i];
  sum_ += v;
  ++count_;
}

void Histogram::Render(const std::string& name, const std::string& labels, std::string* out) const {
  std::lock_guard<std::mutex> l(mu_);
  std::string sep = labels.empty() ? "" : ",";
  uint64_t cum = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cum += counts_[i];
    std::string le = i < bounds_.size() ? Num(bounds_[i]) : "+Inf";
    *out += name + "_bucket{" + labels + sep + "le=\"" + le + "\"} " + std::to_string(cum) + "\n";
  }
  std::string braces = labels.empty() ? "" : "{" + labels + "}";
  *out += name + "_sum" + braces + " " + Num(sum_) + "\n";
  *out += name + "_count" + braces + " " + std::to_string(count_) + "\n";
}

Metrics::Metrics()
    : fsync_(
          {0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024}) {}

void Metrics::ObserveRequest(const std::string& verb, const std::string& resource, int code,
                             double seconds) {
  ++requests_[{verb, resource, code}];
  auto key = std::make_pair(verb, resource);
  auto it = latency_.find(key);
  if (it == latency_.end())
    it = latency_
             .emplace(std::piecewise_construct, std::forward_as_tuple(key),
                      std::forward_as_tuple(kLatencyBuckets))
             .first;
  it->second.Observe(seconds);
}

std::string Metrics::Render(const store::NodeStatus& s, size_t watchers) const {
  std::string out;
  out +=
      "# HELP tug_api_requests_total API requests answered, by verb, resource and HTTP code.\n"
      "# TYPE tug_api_requests_total counter\n";
  for (const auto& [k, n] : requests_) {
    const auto& [verb, resource, code] = k;
    out += "tug_api_requests_total{verb=\"" + Esc(verb) + "\",resource=\"" + Esc(resource) +
           "\",code=\"" + std::to_string(code) + "\"} " + std::to_string(n) + "\n";
  }
  out +=
      "# HELP tug_api_request_duration_seconds Time to answer an API request (to the first byte "
      "of a watch), by verb and resource.\n"
      "# TYPE tug_api_request_duration_seconds histogram\n";
  for (const auto& [k, h] : latency_) {
    h.Render("tug_api_request_duration_seconds",
             "verb=\"" + Esc(k.first) + "\",resource=\"" + Esc(k.second) + "\"", &out);
  }
  Gauge(&out, "tug_raft_term", "The current Raft term.", static_cast<double>(s.term));
  Gauge(&out, "tug_raft_is_leader", "1 if this member is the Raft leader.",
        s.leader != 0 && s.leader == s.id ? 1 : 0);
  Gauge(&out, "tug_raft_has_leader", "1 if this member knows a leader.", s.leader != 0 ? 1 : 0);
  Counter(&out, "tug_raft_leader_changes_total", "Leader changes seen by this member.",
          static_cast<double>(s.leader_changes));
  Gauge(&out, "tug_raft_commit_index", "The highest log index known committed.",
        static_cast<double>(s.commit));
  Gauge(&out, "tug_raft_applied_index", "The highest log index applied to the store.",
        static_cast<double>(s.applied));
  Gauge(&out, "tug_raft_snapshot_index", "The log index of the latest snapshot.",
        static_cast<double>(s.snapshot_index));
  Counter(&out, "tug_raft_proposals_total", "Writes submitted to this member.",
          static_cast<double>(s.proposals));
  Counter(&out, "tug_raft_proposals_failed_total",
          "Writes answered with an error (no quorum, timeout).",
          static_cast<double>(s.proposals_failed));
  Gauge(&out, "tug_store_revision", "The store's revision.", static_cast<double>(s.revision));
  Gauge(&out, "tug_watchers", "Open watch streams on this member.", static_cast<double>(watchers));
  out +=
      "# HELP tug_wal_fsync_duration_seconds Time of each write-ahead log fsync.\n"
      "# TYPE tug_wal_fsync_duration_seconds histogram\n";
  fsync_.Render("tug_wal_fsync_duration_seconds", "", &out);
  return out;
}

}  // namespace tug::cp
