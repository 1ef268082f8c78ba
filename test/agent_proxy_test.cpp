// The agent's Service proxy on loopback, with real TCP backends: round robin, ClientIP
// affinity, and no failed client while any backend lives (refused, vanished and
// accepted-then-killed backends are retried within the client's connection).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "agent/proxy/service_proxy.h"
#include "test/support/tugd_cluster.h"

using namespace std::chrono_literals;
using tug::agent::proxy::Affinity;
using tug::agent::proxy::Backend;
using tug::agent::proxy::ProxyPort;
using tug::agent::proxy::ServiceProxy;

namespace {

int Listen(uint16_t* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(fd, 128) == 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

// A backend on 127.0.0.1: reads one line and answers its name, or (killed) closes the
// connection with a reset as soon as the line arrives, as a process killed mid-request does.
class Backend_ {
 public:
  Backend_(std::string name, bool killed = false, int delay_ms = 0)
      : name_(std::move(name)), killed_(killed), delay_ms_(delay_ms) {
    fd_ = Listen(&port_);
    thread_ = std::thread([this] { Run(); });
  }
  ~Backend_() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  uint16_t port() const { return port_; }
  int served() const { return served_; }

 private:
  void Run() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) break;
      char buf[256];
      ssize_t n = ::read(c, buf, sizeof buf);
      if (delay_ms_ > 0 && n > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
      if (killed_) {
        linger l{1, 0};  // close with RST
        ::setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof l);
      } else if (n > 0) {
        std::string answer = name_ + " " + std::string(buf, static_cast<size_t>(n));
        (void)!::write(c, answer.data(), answer.size());
        ++served_;
      }
      ::close(c);
    }
  }
  std::string name_;
  bool killed_;
  int delay_ms_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> served_{0};
  std::thread thread_;
};

// One request through the proxy: the answer, or "" when the connection failed.
std::string Ask(uint16_t port, const std::string& line = "hello\n") {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size())) {
    char buf[256];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0)
      out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

// Whether something accepts connections on 127.0.0.1:port.
bool Listening(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// A port nothing listens on (connections are refused).
uint16_t DeadPort() {
  uint16_t port;
  int fd = Listen(&port);
  ::close(fd);
  return port;
}

// The proxy on two threads, as the agent runs it (a thread per core).
struct Proxy {
  boost::asio::io_context io;
  ServiceProxy proxy{io};
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  Proxy() {
    proxy.SetErrorHandler([this](const std::string&) { ++errors; });
    for (int i = 0; i < 2; ++i)
      threads.emplace_back([this] {
        auto guard = boost::asio::make_work_guard(io);
        io.run();
      });
  }
  ~Proxy() {
    proxy.Stop();
    io.stop();
    for (auto& t : threads)
      t.join();
  }
};

ProxyPort Port(uint16_t listen, std::vector<Backend> backends, Affinity a = Affinity::kNone) {
  ProxyPort p;
  p.service = "default/web:80";
  p.listen_ip = "127.0.0.1";
  p.listen_port = listen;
  p.backends = std::move(backends);
  p.affinity = a;
  return p;
}

std::string Name(const std::string& answer) {
  return answer.substr(0, answer.find(' '));
}

}  // namespace

TEST_CASE("the proxy spreads clients over the backends round robin", "[agent][proxy]") {
  Backend_ a("a"), b("b"), c("c");
  Proxy p;
  uint16_t port = static_cast<uint16_t>(tug::testing::FreePort());
  p.proxy.Sync(
      {Port(port, {{"127.0.0.1", a.port()}, {"127.0.0.1", b.port()}, {"127.0.0.1", c.port()}})});
  std::map<std::string, int> seen;
  REQUIRE(tug::testing::WaitFor([&] { return !Ask(port).empty(); }, 5s));
  for (int i = 0; i < 30; ++i) {
    std::string answer = Ask(port, "request " + std::to_string(i) + "\n");
    REQUIRE(answer == Name(answer) + " request " + std::to_string(i) + "\n");
    ++seen[Name(answer)];
  }
  CHECK(seen.size() == 3);
  for (const auto& [name, n] : seen)
    CHECK(n >= 9);
  CHECK(p.errors == 0);
}

TEST_CASE("no client fails while any backend lives: refused and killed backends are retried",
          "[agent][proxy]") {
  Backend_ live("live"), killed("killed", /*killed=*/true);
  Proxy p;
  uint16_t port = static_cast<uint16_t>(tug::testing::FreePort());
  // Two refuse, one accepts and resets before answering (killed mid-request), one lives.
  p.proxy.Sync({Port(port, {{"127.0.0.1", DeadPort()},
                            {"127.0.0.1", killed.port()},
                            {"127.0.0.1", DeadPort()},
                            {"127.0.0.1", live.port()}})});
  REQUIRE(tug::testing::WaitFor([&] { return !Ask(port).empty(); }, 5s));
  int failed = 0;
  for (int i = 0; i < 200; ++i) {
    std::string line = "request " + std::to_string(i) + "\n";
    if (Ask(port, line) != "live " + line) ++failed;
  }
  CHECK(failed == 0);
  auto st = p.proxy.stats();
  CHECK(st.retried > 0);
  CHECK(st.replayed > 0);  // the killed backend's clients were sent on, request and all
  CHECK(st.refused == 0);
  // Set aside after failing, the dead ones are not tried first again and again: most clients
  // connect at the first try.
  CHECK(st.retried < 50);
}

TEST_CASE("with no backend alive the client is refused, not left hanging", "[agent][proxy]") {
  Proxy p;
  uint16_t port = static_cast<uint16_t>(tug::testing::FreePort());
  p.proxy.Sync({Port(port, {{"127.0.0.1", DeadPort()}})});
  REQUIRE(tug::testing::WaitFor([&] { return Listening(port); }, 5s));
  auto start = std::chrono::steady_clock::now();
  uint64_t before = p.proxy.stats().refused;
  CHECK(Ask(port).empty());
  CHECK(std::chrono::steady_clock::now() - start < 3s);
  CHECK(p.proxy.stats().refused > before);
  p.proxy.Sync({Port(port, {})});
  before = p.proxy.stats().refused;
  CHECK(Ask(port).empty());
  CHECK(p.proxy.stats().refused > before);
}

TEST_CASE("ClientIP affinity keeps a client on one backend, and Sync changes the backends",
          "[agent][proxy]") {
  Backend_ a("a"), b("b");
  Proxy p;
  uint16_t port = static_cast<uint16_t>(tug::testing::FreePort());
  p.proxy.Sync(
      {Port(port, {{"127.0.0.1", a.port()}, {"127.0.0.1", b.port()}}, Affinity::kClientIP)});
  REQUIRE(tug::testing::WaitFor([&] { return !Ask(port).empty(); }, 5s));
  std::string first = Name(Ask(port));
  for (int i = 0; i < 10; ++i)
    CHECK(Name(Ask(port)) == first);
  // The backends change: only b is left.
  p.proxy.Sync({Port(port, {{"127.0.0.1", b.port()}}, Affinity::kClientIP)});
  REQUIRE(tug::testing::WaitFor([&] { return Name(Ask(port)) == "b"; }, 5s));
  for (int i = 0; i < 10; ++i)
    CHECK(Name(Ask(port)) == "b");
  // The Service goes: its port is closed.
  p.proxy.Sync({});
  REQUIRE(tug::testing::WaitFor([&] { return Ask(port).empty(); }, 5s));
}

TEST_CASE("a slow backend is waited for, not taken for a dead one", "[agent][proxy]") {
  // Its application answers after 4 s; its kernel acknowledges the request and the proxy's
  // keepalive probes at once, so the proxy keeps waiting (a dead machine would not).
  Backend_ slow("slow", false, 4000);
  Proxy p;
  uint16_t port = static_cast<uint16_t>(tug::testing::FreePort());
  p.proxy.Sync({Port(port, {{"127.0.0.1", slow.port()}})});
  REQUIRE(tug::testing::WaitFor([&] { return Listening(port); }, 5s));
  auto start = std::chrono::steady_clock::now();
  std::string answer = Ask(port, "patience\n");
  CHECK(answer == "slow patience\n");
  CHECK(std::chrono::steady_clock::now() - start >= 4s);
  CHECK(p.proxy.stats().replayed == 0);
}
