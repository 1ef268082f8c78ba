// /metrics in the Prometheus text format (version 0.0.4): API requests by verb, resource and
// code with latency histograms, and the member's Raft and store figures.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

namespace tug::store {
struct NodeStatus;
}

namespace tug::cp {

// A cumulative histogram (Prometheus buckets). Thread-safe: fsyncs are timed on the disk
// thread, requests on the io thread.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  // Appends `name_bucket{labels,le=...}`, `name_sum{labels}`, `name_count{labels}`.
  void Render(const std::string& name, const std::string& labels, std::string* out) const;

 private:
  std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; the last is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();

  // verb: LIST, WATCH, GET, CREATE, UPDATE, PATCH, DELETE (or the HTTP method of other
  // paths); resource: "pods", "deployments/scale", or the path of a non-resource endpoint.
  void ObserveRequest(const std::string& verb, const std::string& resource, int code,
                      double seconds);
  void ObserveFsync(double seconds) { fsync_.Observe(seconds); }

  std::string Render(const store::NodeStatus& s, size_t watchers) const;

 private:
  std::map<std::tuple<std::string, std::string, int>, uint64_t> requests_;
  std::map<std::pair<std::string, std::string>, Histogram> latency_;
  Histogram fsync_;
};

}  // namespace tug::cp
