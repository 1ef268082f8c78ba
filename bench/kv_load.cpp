// Load generator for the store's etcd-shaped HTTP API (works against Tug and against etcd's
// JSON gateway alike): C concurrent clients, each on its own keep-alive connection, put
// 16-byte keys with 256-byte values to /v3/kv/put for a fixed time and print ops/s, p50 and
// p99 latency, and (given the servers' pids) the servers' CPU time per write. With
// --workload create-pods they create Pods through the resource API instead.
//
//   kv_load --endpoints 127.0.0.1:7101,127.0.0.1:7102 --clients 16 --seconds 10 [--pids 1,2,3]
//           [--token-file DATA_DIR/token] [--workload put|create-pods]
//
// Clients are spread over the endpoints. Prints figures; asserts nothing.
#include <unistd.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "base/base64.h"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep)) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// CPU seconds (user + system) a process has used, from /proc.
double CpuSeconds(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return 0;
  auto close = line.rfind(')');
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

struct Stats {
  std::vector<double> latencies_ms;
  uint64_t errors = 0;
};

struct Workload {
  bool pods = false;  // create Pods through the resource API instead of raw puts
  std::string token;  // bearer token
  int round = 0;      // keeps pod names of successive rounds apart
};

asio::awaitable<void> Client(std::string endpoint, int id, Clock::time_point end, Stats* st,
                             Workload w) {
  auto ex = co_await asio::this_coro::executor;
  auto colon = endpoint.rfind(':');
  tcp::resolver resolver(ex);
  beast::tcp_stream stream(ex);
  boost::system::error_code ec;
  auto eps = co_await resolver.async_resolve(endpoint.substr(0, colon), endpoint.substr(colon + 1),
                                             asio::redirect_error(asio::use_awaitable, ec));
  if (!ec) co_await stream.async_connect(eps, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    ++st->errors;
    co_return;
  }
  std::mt19937_64 rng(static_cast<uint64_t>(id));
  std::string value(256, 'v');
  beast::flat_buffer buf;
  uint64_t n = 0;
  while (Clock::now() < end) {
    char key[32];
    std::snprintf(key, sizeof(key), "k%03d%012llu", id % 1000,
                  static_cast<unsigned long long>(n++));
    http::request<http::string_body> req{
        http::verb::post, w.pods ? "/api/v1/namespaces/default/pods" : "/v3/kv/put", 11};
    req.set(http::field::host, endpoint);
    req.set(http::field::content_type, "application/json");
    if (!w.token.empty()) req.set(http::field::authorization, "Bearer " + w.token);
    if (w.pods) {
      // A pod the size of a small real one: labels, a container with a command and a port.
      req.body() = "{\"metadata\":{\"name\":\"p" + std::to_string(w.round) + "-" +
                   std::string(key + 1, 15) + "\",\"labels\":{\"app\":\"load\",\"client\":\"c" +
                   std::to_string(id) +
                   "\"}},\"spec\":{\"containers\":[{\"name\":\"main\",\"image\":\"web:1\","
                   "\"command\":[\"/bin/web\",\"--port\",\"8080\"],\"ports\":[{\"name\":"
                   "\"http\",\"containerPort\":8080}],\"resources\":{\"requests\":{\"cpu\":"
                   "\"100m\",\"memory\":\"64Mi\"}}}]}}";
    } else {
      req.body() = "{\"key\":\"" + tug::Base64Encode(std::string(key, 16)) + "\",\"value\":\"" +
                   tug::Base64Encode(value) + "\"}";
    }
    req.prepare_payload();
    auto t0 = Clock::now();
    co_await http::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
    http::response<http::string_body> res;
    if (!ec)
      co_await http::async_read(stream, buf, res, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      ++st->errors;
      co_return;
    }
    if (res.result() != http::status::ok && res.result() != http::status::created) {
      if (st->errors++ == 0) {
        std::fprintf(stderr, "client %d: first error: %d %s\n", id, res.result_int(),
                     res.body().substr(0, 300).c_str());
      }
      continue;
    }
    st->latencies_ms.push_back(
        std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string endpoints = "127.0.0.1:7101", pids_arg, label = "tug", token_file;
  Workload workload;
  std::vector<int> client_counts = {1, 16, 64};
  double seconds = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--endpoints") {
      endpoints = v;
    } else if (a == "--clients") {
      client_counts.clear();
      for (const auto& c : Split(v, ','))
        client_counts.push_back(std::stoi(c));
    } else if (a == "--seconds") {
      seconds = std::stod(v);
    } else if (a == "--pids") {
      pids_arg = v;
    } else if (a == "--label") {
      label = v;
    } else if (a == "--token-file") {
      token_file = v;
    } else if (a == "--workload") {
      if (v != "put" && v != "create-pods") {
        std::fprintf(stderr, "kv_load: --workload is put or create-pods\n");
        return 2;
      }
      workload.pods = v == "create-pods";
    } else {
      std::fprintf(stderr,
                   "usage: kv_load [--endpoints a,b] [--clients 1,16,64] [--seconds S] [--pids "
                   "p,q] [--label L] [--token-file F] [--workload put|create-pods]\n");
      return 2;
    }
  }
  auto eps = Split(endpoints, ',');
  if (!token_file.empty()) {
    std::ifstream f(token_file);
    if (!(f >> workload.token)) {
      std::fprintf(stderr, "kv_load: cannot read a token from %s\n", token_file.c_str());
      return 2;
    }
  }
  std::vector<int> pids;
  for (const auto& p : Split(pids_arg, ','))
    pids.push_back(std::stoi(p));
  std::printf("%-6s %8s %10s %9s %9s %8s %14s\n", "system", "clients", "ops/s", "p50 ms", "p99 ms",
              "errors", "cpu ms/write");
  for (int clients : client_counts) {
    ++workload.round;
    asio::io_context io(1);
    std::vector<Stats> stats(static_cast<size_t>(clients));
    double cpu0 = 0;
    for (int p : pids)
      cpu0 += CpuSeconds(p);
    auto start = Clock::now();
    auto end =
        start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    for (int c = 0; c < clients; ++c) {
      asio::co_spawn(io,
                     Client(eps[static_cast<size_t>(c) % eps.size()], c, end,
                            &stats[static_cast<size_t>(c)], workload),
                     asio::detached);
    }
    io.run();
    double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    double cpu1 = 0;
    for (int p : pids)
      cpu1 += CpuSeconds(p);
    std::vector<double> all;
    uint64_t errors = 0;
    for (auto& s : stats) {
      all.insert(all.end(), s.latencies_ms.begin(), s.latencies_ms.end());
      errors += s.errors;
    }
    std::sort(all.begin(), all.end());
    auto pct = [&](double q) {
      return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(q * all.size()))];
    };
    double ops = static_cast<double>(all.size()) / elapsed;
    std::string cpu = pids.empty() || all.empty()
                          ? "-"
                          : std::to_string((cpu1 - cpu0) * 1000 / static_cast<double>(all.size()));
    std::printf("%-6s %8d %10.0f %9.2f %9.2f %8llu %14s\n", label.c_str(), clients, ops, pct(0.5),
                pct(0.99), static_cast<unsigned long long>(errors), cpu.c_str());
    std::fflush(stdout);
  }
  return 0;
}
