// The agent's cluster DNS server over real UDP on loopback: Services answered, other names
// forwarded to an upstream (a fake one here, on loopback too) and its answer relayed, SERVFAIL
// when the upstream says nothing, and garbage dropped without harm.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <string>
#include <thread>

#include "agent/dns/dns_message.h"
#include "agent/dns/dns_server.h"

namespace dns = tug::agent::dns;

namespace {

int UdpSocket(uint16_t* port, int timeout_ms = 3000) {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// Sends `query` to 127.0.0.1:port; the answer, or "" after `timeout_ms`.
std::string Ask(uint16_t port, const std::string& query, int timeout_ms = 3000) {
  uint16_t mine;
  int fd = UdpSocket(&mine, timeout_ms);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(port);
  ::sendto(fd, query.data(), query.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  char buf[4096];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  ::close(fd);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

dns::Message Parse(const std::string& answer) {
  // Responses parse as queries do (header and question), which is all these checks need.
  auto m = dns::ParseHeader(reinterpret_cast<const uint8_t*>(answer.data()), answer.size());
  REQUIRE(m.ok());
  dns::Message out;
  out.header = *m;
  return out;
}

struct Server {
  boost::asio::io_context io;
  dns::DnsServer server{io};
  std::thread thread;
  Server() {
    REQUIRE(server.Listen("127.0.0.1", 0).ok());
    thread = std::thread([this] {
      auto guard = boost::asio::make_work_guard(io);
      io.run();
    });
  }
  ~Server() {
    server.Stop();
    io.stop();
    thread.join();
  }
};

}  // namespace

TEST_CASE("the DNS server answers Services, forwards other names, and survives garbage",
          "[agent][dns]") {
  // A fake upstream: answers every query with its own bytes, QR set (enough to be relayed).
  uint16_t up_port;
  int up = UdpSocket(&up_port, 200);
  std::atomic<bool> stop{false}, silent{false};
  std::atomic<int> asked{0};
  std::thread upstream([&] {
    char buf[4096];
    while (!stop) {
      sockaddr_in from{};
      socklen_t len = sizeof from;
      ssize_t n = ::recvfrom(up, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n <= 0) continue;
      ++asked;
      if (silent) continue;
      buf[2] = static_cast<char>(buf[2] | 0x80);
      ::sendto(up, buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), len);
    }
  });
  Server s;
  REQUIRE(s.server.port() != 0);
  s.server.SetServices({{{"seed", "database"}, "10.96.0.12"}});
  s.server.SetUpstreams({"127.0.0.1:" + std::to_string(up_port)});

  auto q = dns::EncodeQuery(0x1234, "database.seed.svc.cluster.local", dns::kTypeA);
  REQUIRE(q.ok());
  std::string a = Ask(s.server.port(), *q);
  REQUIRE(a.size() > 12);
  CHECK(Parse(a).header.id == 0x1234);
  CHECK(Parse(a).header.rcode() == 0);
  CHECK(Parse(a).header.ancount == 1);
  CHECK(a.substr(a.size() - 4) == std::string("\x0a\x60\x00\x0c", 4));  // 10.96.0.12

  auto missing = dns::EncodeQuery(7, "nothere.seed.svc.cluster.local", dns::kTypeA);
  CHECK(Parse(Ask(s.server.port(), *missing)).header.rcode() == 3);  // NXDOMAIN

  // Outside the cluster's domain: the upstream's answer, relayed.
  auto outside = dns::EncodeQuery(0x4242, "example.org", dns::kTypeA);
  std::string relayed = Ask(s.server.port(), *outside);
  REQUIRE(relayed.size() == outside->size());
  CHECK(relayed.substr(3) == outside->substr(3));
  CHECK(asked == 1);
  // An upstream that says nothing: SERVFAIL, after its 2 s.
  silent = true;
  std::string failed = Ask(s.server.port(), *outside);
  REQUIRE(failed.size() >= 12);
  CHECK(Parse(failed).header.rcode() == 2);

  // Garbage is dropped (no answer, no harm): the server still answers afterwards.
  CHECK(Ask(s.server.port(), "xx", 500).empty());
  CHECK(Parse(Ask(s.server.port(), *q)).header.ancount == 1);
  stop = true;
  upstream.join();
  ::close(up);
}
