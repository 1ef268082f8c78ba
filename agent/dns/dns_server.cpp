#include "agent/dns/dns_server.h"

#include <netinet/in.h>

#include <boost/asio.hpp>
#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <sstream>

#include "agent/dns/cluster_dns.h"
#include "agent/dns/dns_message.h"
#include "base/file.h"
#include "base/host_port.h"

namespace tug::agent::dns {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::udp;
using boost::system::error_code;
using namespace asio::experimental::awaitable_operators;

namespace {
constexpr auto kTuple = asio::experimental::as_tuple(use_awaitable);
constexpr int kMaxForwards = 256;
constexpr size_t kMaxDatagram = 4096;
}  // namespace

struct DnsServer::Impl : std::enable_shared_from_this<DnsServer::Impl> {
  Impl(asio::io_context& io, std::string domain)
      : strand(asio::make_strand(io)), socket(strand), dns(std::move(domain)) {}

  asio::strand<asio::io_context::executor_type> strand;
  udp::socket socket;
  ClusterDns dns;
  std::vector<udp::endpoint> upstreams;
  int forwarding = 0;
  bool stopped = false;

  void Send(const udp::endpoint& to, std::string bytes) {
    auto buf = std::make_shared<std::string>(std::move(bytes));
    socket.async_send_to(asio::buffer(*buf), to, [buf](error_code, size_t) {});
  }

  static std::string ServFail(const std::string& query) {
    auto q = ParseQuery(reinterpret_cast<const uint8_t*>(query.data()), query.size());
    if (!q.ok() || q->questions.size() != 1) return "";
    Response r;
    r.query = q->header;
    r.question = q->questions[0];
    r.rcode = Rcode::kServFail;
    return EncodeResponse(r);
  }

  awaitable<void> Serve() {
    auto self = shared_from_this();
    std::vector<uint8_t> buf(kMaxDatagram);
    while (!stopped) {
      udp::endpoint from;
      auto [ec, n] = co_await socket.async_receive_from(asio::buffer(buf), from, kTuple);
      if (ec) {
        if (stopped || !socket.is_open()) break;
        continue;
      }
      auto d = dns.Handle(buf.data(), n);
      if (d.kind == ClusterDns::Decision::kAnswer) {
        Send(from, std::move(d.response));
      } else if (d.kind == ClusterDns::Decision::kForward) {
        std::string query(reinterpret_cast<const char*>(buf.data()), n);
        if (forwarding >= kMaxForwards || upstreams.empty()) {
          if (auto f = ServFail(query); !f.empty()) Send(from, f);
          continue;
        }
        ++forwarding;
        asio::co_spawn(strand, Forward(std::move(query), from), asio::detached);
      }
    }
  }

  awaitable<void> Forward(std::string query, udp::endpoint client) {
    auto self = shared_from_this();
    std::string answer;
    for (const auto& up : upstreams) {
      udp::socket s(strand);
      error_code ec;
      s.open(up.protocol(), ec);
      if (ec) continue;
      auto [sec, sn] = co_await s.async_send_to(asio::buffer(query), up, kTuple);
      if (sec) continue;
      std::vector<char> buf(kMaxDatagram);
      udp::endpoint from;
      asio::steady_timer timer(strand);
      timer.expires_after(std::chrono::seconds(2));
      auto r = co_await (s.async_receive_from(asio::buffer(buf), from, kTuple) ||
                         timer.async_wait(kTuple));
      if (r.index() != 0) continue;
      auto [rec, rn] = std::get<0>(r);
      // The answer must be to this query (same id) from the server asked.
      if (rec || rn < kHeaderSize || from != up || buf[0] != query[0] || buf[1] != query[1])
        continue;
      answer.assign(buf.data(), rn);
      break;
    }
    --forwarding;
    if (stopped) co_return;
    if (answer.empty()) answer = ServFail(query);
    if (!answer.empty()) Send(client, std::move(answer));
  }
};

DnsServer::DnsServer(asio::io_context& io, std::string domain)
    : impl_(std::make_shared<Impl>(io, std::move(domain))) {}

DnsServer::~DnsServer() {
  Stop();
}

Status DnsServer::Listen(const std::string& ip, uint16_t port) {
  error_code ec;
  auto addr = asio::ip::make_address(ip, ec);
  if (ec) return Status::Invalid("\"" + ip + "\" is not an IP address");
  udp::endpoint ep(addr, port);
  udp::socket& s = impl_->socket;
  s.open(ep.protocol(), ec);
  if (!ec) {
    // The bridge may not have its address yet (it comes with the first pod).
    int one = 1;
    ::setsockopt(s.native_handle(), IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
    s.bind(ep, ec);
  }
  if (ec) {
    error_code ignored;
    s.close(ignored);
    return Status::Error("cluster DNS cannot listen on " + ip + ":" + std::to_string(port) +
                         " (udp): " + ec.message());
  }
  asio::co_spawn(impl_->strand, impl_->Serve(), asio::detached);
  return Status::Ok();
}

uint16_t DnsServer::port() const {
  error_code ec;
  auto ep = impl_->socket.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void DnsServer::SetServices(std::map<std::pair<std::string, std::string>, std::string> services) {
  asio::dispatch(impl_->strand, [impl = impl_, s = std::move(services)]() mutable {
    impl->dns.SetServices(std::move(s));
  });
}

void DnsServer::SetUpstreams(std::vector<std::string> upstreams) {
  std::vector<udp::endpoint> eps;
  for (const auto& u : upstreams) {
    std::string host = u;
    uint16_t port = 53;
    if (auto hp = ParseHostPort(u); hp.ok()) {
      host = hp->host;
      port = hp->port;
    }
    error_code ec;
    auto addr = asio::ip::make_address(host, ec);
    if (!ec) eps.emplace_back(addr, port);
  }
  asio::dispatch(impl_->strand, [impl = impl_, eps = std::move(eps)]() mutable {
    impl->upstreams = std::move(eps);
  });
}

void DnsServer::Stop() {
  if (!impl_) return;
  asio::dispatch(impl_->strand, [impl = impl_] {
    impl->stopped = true;
    error_code ec;
    impl->socket.close(ec);
  });
}

std::vector<std::string> DnsServer::NameserversOf(const std::string& resolv_conf) {
  std::string text;
  std::vector<std::string> out;
  if (!ReadWholeFile(resolv_conf, &text).ok()) return out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string key, addr;
    if (!(words >> key >> addr) || key != "nameserver") continue;
    if (addr.rfind("127.", 0) == 0) continue;
    error_code ec;
    asio::ip::make_address(addr, ec);
    if (!ec) out.push_back(addr);
  }
  return out;
}

}  // namespace tug::agent::dns
