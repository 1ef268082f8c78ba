#include "net/tcp_forwarder.h"

#include <boost/asio.hpp>
#include <chrono>
#include <vector>

#include "net/tcp_listen.h"

namespace tug::net {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using boost::system::error_code;
using Strand = asio::strand<asio::io_context::executor_type>;

struct TcpForwarder::Impl : std::enable_shared_from_this<TcpForwarder::Impl> {
  Impl(asio::io_context& io, int max)
      : strand(asio::make_strand(io)), acceptor(strand), max_conns(max) {}

  Strand strand;
  tcp::acceptor acceptor;
  tcp::endpoint target;
  int max_conns;
  bool stopped = false;
  struct Pair {
    tcp::socket client, server;
    explicit Pair(Strand& s) : client(s), server(s) {}
    void Close() {
      error_code ec;
      client.close(ec);
      server.close(ec);
    }
  };
  std::vector<std::weak_ptr<Pair>> conns;

  static awaitable<void> Pump(tcp::socket& from, tcp::socket& to) {
    std::vector<char> buf(16 * 1024);
    error_code ec;
    for (;;) {
      size_t n =
          co_await from.async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
      if (ec || n == 0) break;
      co_await asio::async_write(to, asio::buffer(buf.data(), n),
                                 asio::redirect_error(use_awaitable, ec));
      if (ec) break;
    }
    // Half-close: the other side sees the end of this direction and may still answer.
    to.shutdown(tcp::socket::shutdown_send, ec);
  }

  awaitable<void> Relay(std::shared_ptr<Pair> p) {
    auto self_ref = shared_from_this();
    error_code ec;
    asio::steady_timer deadline(strand);
    deadline.expires_after(std::chrono::seconds(5));
    deadline.async_wait([p](error_code e) {
      if (!e) p->server.close(e);  // the connect below then fails
    });
    co_await p->server.async_connect(target, asio::redirect_error(use_awaitable, ec));
    deadline.cancel();
    if (ec || stopped) {
      p->Close();
      co_return;
    }
    p->server.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(
        strand, [p]() -> awaitable<void> { co_await Pump(p->client, p->server); }, asio::detached);
    co_await Pump(p->server, p->client);
    // The server is done: whatever the client still sends has no one to read it.
    p->Close();
  }

  awaitable<void> Accept() {
    auto self_ref = shared_from_this();
    while (!stopped) {
      auto p = std::make_shared<Pair>(strand);
      error_code ec;
      co_await acceptor.async_accept(p->client, asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (stopped || !acceptor.is_open()) break;
        continue;
      }
      std::erase_if(conns, [](const auto& w) { return w.expired(); });
      if (static_cast<int>(conns.size()) >= max_conns) {
        p->Close();
        continue;
      }
      p->client.set_option(tcp::no_delay(true), ec);
      conns.push_back(p);
      asio::co_spawn(strand, Relay(p), asio::detached);
    }
  }

  void StopHere() {
    if (stopped) return;
    stopped = true;
    error_code ec;
    acceptor.close(ec);
    for (auto& w : conns)
      if (auto p = w.lock()) p->Close();
  }
};

TcpForwarder::TcpForwarder(asio::io_context& io, int max_connections)
    : impl_(std::make_shared<Impl>(io, max_connections)) {}

TcpForwarder::~TcpForwarder() {
  Stop();
}

Status TcpForwarder::Listen(const std::string& listen, const std::string& target) {
  auto to = TcpEndpoint(target);
  if (!to.ok()) return to.status();
  // Set up before anything runs on the strand: no other thread touches these yet.
  impl_->target = to.value();
  if (Status s = ListenTcp(impl_->acceptor, listen); !s) return s;
  asio::co_spawn(impl_->strand, impl_->Accept(), asio::detached);
  return Status::Ok();
}

uint16_t TcpForwarder::port() const {
  return BoundPort(impl_->acceptor);
}

void TcpForwarder::Stop() {
  if (!impl_) return;
  asio::dispatch(impl_->strand, [impl = impl_] { impl->StopHere(); });
}

}  // namespace tug::net
