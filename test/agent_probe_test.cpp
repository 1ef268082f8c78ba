// Each probe kind against a tiny server on 127.0.0.1: httpGet (2xx/3xx pass, others fail),
// tcpSocket (accepted or refused), exec (exit code, timeout), and named ports.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "agent/probe.h"

using namespace tug::agent;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Answers every request on a port: /healthz 200, /redirect 302, anything else 500.
class TinyHttp {
 public:
  TinyHttp() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    REQUIRE(::listen(fd_, 16) == 0);
    thread_ = std::thread([this] { Serve(); });
  }
  ~TinyHttp() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  int port() const { return port_; }

 private:
  void Serve() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string req;
      char buf[4096];
      while (req.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::read(c, buf, sizeof(buf));
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
      }
      std::string status = req.rfind("GET /healthz ", 0) == 0    ? "200 OK"
                           : req.rfind("GET /redirect ", 0) == 0 ? "302 Found"
                                                                 : "500 Internal Server Error";
      std::string resp =
          "HTTP/1.1 " + status + "\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
      (void)::write(c, resp.data(), resp.size());
      ::close(c);
    }
  }
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

ProbeSpec Parse(const json& j) {
  auto p = ParseProbe(j);
  REQUIRE(p.ok());
  return p.value();
}

}  // namespace

TEST_CASE("httpGet probes pass on 2xx and 3xx and fail otherwise", "[agent][probes]") {
  TinyHttp server;
  ProbeTarget t;
  t.named_ports["http"] = server.port();
  t.ports[8080] = server.port();
  CHECK(RunProbe(Parse({{"httpGet", {{"path", "/healthz"}, {"port", "http"}}}}), t).success);
  CHECK(RunProbe(Parse({{"httpGet", {{"path", "/healthz"}, {"port", 8080}}}}), t).success);
  CHECK(RunProbe(Parse({{"httpGet", {{"path", "/redirect"}, {"port", 8080}}}}), t).success);
  auto bad = RunProbe(Parse({{"httpGet", {{"path", "/broken"}, {"port", "http"}}}}), t);
  CHECK_FALSE(bad.success);
  CHECK(bad.message.find("500") != std::string::npos);
  auto unnamed = RunProbe(Parse({{"httpGet", {{"path", "/"}, {"port", "nope"}}}}), t);
  CHECK_FALSE(unnamed.success);
  CHECK(unnamed.message.find("nope") != std::string::npos);
}

TEST_CASE("tcpSocket probes pass when a connection is accepted", "[agent][probes]") {
  int port = 0;
  {
    TinyHttp server;
    port = server.port();
    ProbeTarget t;
    t.ports[80] = port;
    CHECK(RunProbe(Parse({{"tcpSocket", {{"port", 80}}}}), t).success);
  }
  // The server is gone: refused.
  ProbeTarget t;
  t.ports[80] = port;
  auto r = RunProbe(Parse({{"tcpSocket", {{"port", 80}}}}), t);
  CHECK_FALSE(r.success);
  CHECK(r.message.find(std::to_string(port)) != std::string::npos);
}

TEST_CASE("exec probes pass on exit 0 and are killed at their timeout", "[agent][probes]") {
  ProbeTarget t;
  t.work_dir = "/tmp";
  t.env = {"PATH=/usr/bin:/bin", "MARKER=yes"};
  CHECK(RunProbe(Parse({{"exec", {{"command", {"true"}}}}}), t).success);
  CHECK(RunProbe(Parse({{"exec", {{"command", {"sh", "-c", "test \"$MARKER\" = yes"}}}}}), t)
            .success);
  auto failed = RunProbe(Parse({{"exec", {{"command", {"sh", "-c", "exit 4"}}}}}), t);
  CHECK_FALSE(failed.success);
  CHECK(failed.message.find("4") != std::string::npos);
  auto start = std::chrono::steady_clock::now();
  auto slow = RunProbe(Parse({{"exec", {{"command", {"sleep", "30"}}}}, {"timeoutSeconds", 1}}), t);
  CHECK_FALSE(slow.success);
  CHECK(slow.message.find("timed out") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < 10s);
  CHECK_FALSE(RunProbe(Parse({{"exec", {{"command", {"no-such-binary-xyz"}}}}}), t).success);
}

TEST_CASE("probes are read with Kubernetes' defaults, and bad ones are refused",
          "[agent][probes]") {
  ProbeSpec p = Parse({{"tcpSocket", {{"port", 80}}}});
  CHECK(p.period_ms == 10'000);
  CHECK(p.timeout_ms == 1'000);
  CHECK(p.failure_threshold == 3);
  CHECK(p.initial_delay_ms == 0);
  p = Parse({{"httpGet", {{"port", "web"}, {"path", "ready"}}},
             {"initialDelaySeconds", 3},
             {"periodSeconds", 2},
             {"timeoutSeconds", 4},
             {"failureThreshold", 5}});
  CHECK(p.path == "/ready");
  CHECK(p.initial_delay_ms == 3000);
  CHECK(p.period_ms == 2000);
  CHECK(p.timeout_ms == 4000);
  CHECK(p.failure_threshold == 5);
  CHECK_FALSE(ParseProbe(json::object()).ok());
  CHECK_FALSE(ParseProbe({{"tcpSocket", {{"port", 1}}}, {"exec", {{"command", {"x"}}}}}).ok());
  CHECK_FALSE(ParseProbe({{"tcpSocket", {{"port", 1}}}, {"periodSeconds", 0}}).ok());
  CHECK_FALSE(ParseProbe({{"exec", {{"command", json::array()}}}}).ok());
  CHECK_FALSE(ParseProbe({{"httpGet", {{"path", "/"}}}}).ok());
}
