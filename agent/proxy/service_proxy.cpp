#include "agent/proxy/service_proxy.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <atomic>

#include <boost/asio.hpp>
#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <set>

#include "base/status.h"

namespace tug::agent::proxy {

using tug::Status;

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using boost::system::error_code;
using namespace asio::experimental::awaitable_operators;
using Strand = asio::strand<asio::io_context::executor_type>;

namespace {

constexpr auto kTuple = asio::experimental::as_tuple(use_awaitable);
constexpr size_t kBuffer = 16 * 1024;

// How the proxy finds out that a backend's machine is gone while it waits for an answer: a
// dead host sends no reset, so without these a request in flight to it would wait forever.
// Keepalive probes (answered by a live host's kernel however slow the application is) and a
// bound on unacknowledged data. Until the backend's first byte (when the request can still be
// sent elsewhere) they are tight, about 2-3 s; afterwards relaxed.
void WatchPeer(tcp::socket& s, bool answered) {
  int fd = s.native_handle();
  int on = 1, idle = answered ? 15 : 1, interval = answered ? 5 : 1, count = answered ? 3 : 1;
  unsigned user_timeout_ms = answered ? 20000 : 2000;
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
  ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string Key(const ProxyPort& p) {
  return p.listen_ip + ":" + std::to_string(p.listen_port);
}

}  // namespace

struct ServiceProxy::Impl : std::enable_shared_from_this<ServiceProxy::Impl> {
  Impl(asio::io_context& ctx, ProxyOptions o) : io(ctx), strand(asio::make_strand(ctx)), opt(o) {}

  // Listeners live on the proxy's strand; each connection on a strand of its own, so that
  // connections run on every thread of the io_context. A listener's picker is shared by its
  // connections: under its mutex.
  struct Listener {
    Listener(Strand& s, ProxyPort p)
        : port(std::move(p)), acceptor(s), picker(port.affinity, port.affinity_timeout_ms) {}
    ProxyPort port;  // strand only
    tcp::acceptor acceptor;
    std::mutex mu;
    BackendPicker picker;  // under mu
    std::atomic<bool> closed{false};

    std::vector<Backend> Order(const std::string& client) {
      std::lock_guard<std::mutex> l(mu);
      return picker.Order(client, NowMs());
    }
    void Failed(const Backend& b) {
      std::lock_guard<std::mutex> l(mu);
      picker.Failed(b, NowMs());
    }
    void Connected(const Backend& b, const std::string& client) {
      std::lock_guard<std::mutex> l(mu);
      picker.Connected(b, client, NowMs());
    }
  };
  struct Conn {
    explicit Conn(Strand s) : strand(s), client(strand), server(strand) {}
    Strand strand;
    tcp::socket client, server;
    // One buffer per direction, not zeroed (a connection per request must be cheap).
    std::unique_ptr<char[]> up = std::make_unique_for_overwrite<char[]>(kBuffer);
    std::unique_ptr<char[]> down = std::make_unique_for_overwrite<char[]>(kBuffer);
    void Close() {
      error_code ec;
      client.close(ec);
      server.close(ec);
    }
  };

  asio::io_context& io;
  Strand strand;
  ProxyOptions opt;
  std::map<std::string, std::shared_ptr<Listener>> listeners;  // strand only
  std::mutex conns_mu;
  std::vector<std::weak_ptr<Conn>> conns;  // under conns_mu
  std::function<void(const std::string&)> on_error;
  std::set<std::string> said;  // problems reported, so each is said once
  std::atomic<bool> stopped{false};
  std::atomic<uint64_t> accepted{0}, connected{0}, retried{0}, replayed{0}, refused{0};

  void Report(const std::string& problem) {
    if (said.insert(problem).second && on_error) on_error(problem);
  }

  Status Open(Listener& l) {
    error_code ec;
    auto ip = asio::ip::make_address(l.port.listen_ip, ec);
    if (ec) return Status::Invalid("\"" + l.port.listen_ip + "\" is not an IP address");
    tcp::endpoint ep(ip, l.port.listen_port);
    l.acceptor.open(ep.protocol(), ec);
    if (!ec) l.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) {
      int one = 1;
      if (::setsockopt(l.acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        ec = error_code(errno, boost::system::system_category());
    }
    if (!ec) l.acceptor.bind(ep, ec);
    if (!ec) l.acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      error_code ignored;
      l.acceptor.close(ignored);
      return Status::Error("Service " + l.port.service + ": cannot listen on " + Key(l.port) +
                           ": " + ec.message());
    }
    return Status::Ok();
  }

  void SyncHere(std::vector<ProxyPort> want) {
    if (stopped) return;
    std::map<std::string, ProxyPort> by_key;
    for (auto& p : want)
      by_key[Key(p)] = std::move(p);
    for (auto it = listeners.begin(); it != listeners.end();) {
      if (by_key.count(it->first)) {
        ++it;
        continue;
      }
      // Gone: no new clients; the connections it made run to their end.
      it->second->closed = true;
      error_code ec;
      it->second->acceptor.close(ec);
      it = listeners.erase(it);
    }
    for (auto& [key, p] : by_key) {
      auto it = listeners.find(key);
      if (it != listeners.end()) {
        Listener& l = *it->second;
        {
          std::lock_guard<std::mutex> lock(l.mu);
          if (l.port.affinity != p.affinity || l.port.affinity_timeout_ms != p.affinity_timeout_ms)
            l.picker.SetAffinity(p.affinity, p.affinity_timeout_ms);
          if (l.port.backends != p.backends) l.picker.SetBackends(p.backends);
        }
        l.port = std::move(p);
        continue;
      }
      auto l = std::make_shared<Listener>(strand, std::move(p));
      if (Status s = Open(*l); !s.ok()) {
        Report(s.message());
        continue;
      }
      {
        std::lock_guard<std::mutex> lock(l->mu);
        l->picker.SetBackends(l->port.backends);
      }
      listeners[key] = l;
      asio::co_spawn(strand, Accept(l), asio::detached);
    }
  }

  awaitable<void> Accept(std::shared_ptr<Listener> l) {
    auto self = shared_from_this();
    while (!stopped && !l->closed) {
      auto c = std::make_shared<Conn>(asio::make_strand(io));
      auto [ec] = co_await l->acceptor.async_accept(c->client, kTuple);
      if (ec) {
        if (stopped || l->closed || !l->acceptor.is_open()) break;
        continue;
      }
      {
        std::lock_guard<std::mutex> lock(conns_mu);
        std::erase_if(conns, [](const auto& w) { return w.expired(); });
        if (static_cast<int>(conns.size()) >= opt.max_connections) {
          c->Close();
          continue;
        }
        conns.push_back(c);
      }
      ++accepted;
      error_code ignored;
      c->client.set_option(tcp::no_delay(true), ignored);
      asio::co_spawn(c->strand, Serve(l, c), asio::detached);
    }
  }

  // Connects c->server to the next backend of `order` that accepts within the timeout;
  // false when none is left.
  awaitable<bool> ConnectNext(Listener& l, Conn& c, const std::vector<Backend>& order, size_t& next,
                              const std::string& client_ip, Backend* chosen) {
    while (next < order.size() && !stopped) {
      const Backend& b = order[next++];
      error_code ec;
      c.server.close(ec);
      c.server = tcp::socket(c.strand);
      auto ip = asio::ip::make_address(b.ip, ec);
      if (ec) continue;
      asio::steady_timer timer(c.strand);
      timer.expires_after(std::chrono::milliseconds(opt.connect_timeout_ms));
      auto r = co_await (c.server.async_connect(tcp::endpoint(ip, b.port), kTuple) ||
                         timer.async_wait(kTuple));
      bool ok = r.index() == 0 && !std::get<0>(std::get<0>(r));
      if (!ok) {
        l.Failed(b);
        if (next < order.size()) ++retried;
        continue;
      }
      c.server.set_option(tcp::no_delay(true), ec);
      WatchPeer(c.server, /*answered=*/false);
      l.Connected(b, client_ip);
      *chosen = b;
      co_return true;
    }
    co_return false;
  }

  static awaitable<void> Pump(tcp::socket& from, tcp::socket& to, char* buf) {
    for (;;) {
      auto [ec, n] = co_await from.async_read_some(asio::buffer(buf, kBuffer), kTuple);
      if (ec || n == 0) break;
      auto [wec, wn] = co_await asio::async_write(to, asio::buffer(buf, n), kTuple);
      if (wec) break;
    }
    // Half-close: the other side sees the end of this direction and may still answer.
    error_code ec;
    to.shutdown(tcp::socket::shutdown_send, ec);
  }

  awaitable<void> Serve(std::shared_ptr<Listener> l, std::shared_ptr<Conn> c) {
    auto self = shared_from_this();
    error_code ec;
    auto remote = c->client.remote_endpoint(ec);
    std::string client_ip = ec ? "" : remote.address().to_string();
    std::vector<Backend> order = l->Order(client_ip);
    size_t next = 0;
    Backend current;
    if (!co_await ConnectNext(*l, *c, order, next, client_ip, &current)) {
      ++refused;  // no backend (none ready, or none accepts): as kube-proxy's REJECT
      c->Close();
      co_return;
    }
    ++connected;
    // Until the backend's first byte, the client's bytes are kept for a replay elsewhere.
    std::string replay;
    bool replayable = true, client_done = false;
    char* cbuf = c->up.get();
    char* sbuf = c->down.get();
    size_t answered = 0;
    while (answered == 0 && !stopped) {
      bool backend_failed = false;
      if (client_done) {
        auto [sec, n] = co_await c->server.async_read_some(asio::buffer(sbuf, kBuffer), kTuple);
        if (sec || n == 0) backend_failed = true;
        answered = backend_failed ? 0 : n;
      } else {
        auto r = co_await (c->client.async_read_some(asio::buffer(cbuf, kBuffer), kTuple) ||
                           c->server.async_read_some(asio::buffer(sbuf, kBuffer), kTuple));
        if (r.index() == 0) {
          auto [cec, n] = std::get<0>(r);
          if (cec == asio::error::eof || (!cec && n == 0)) {
            client_done = true;
            c->server.shutdown(tcp::socket::shutdown_send, ec);
            continue;
          }
          if (cec) {  // the client is gone
            c->Close();
            co_return;
          }
          if (replayable && replay.size() + n <= opt.replay_limit) {
            replay.append(cbuf, n);
          } else {
            replayable = false;
            replay.clear();
          }
          auto [wec, wn] = co_await asio::async_write(c->server, asio::buffer(cbuf, n), kTuple);
          if (wec) backend_failed = true;
        } else {
          auto [sec, n] = std::get<1>(r);
          if (sec || n == 0) {
            backend_failed = true;
          } else {
            answered = n;
          }
        }
      }
      if (!backend_failed) continue;
      // The backend went away before answering anything: another one gets the client.
      l->Failed(current);
      if (!replayable || !co_await ConnectNext(*l, *c, order, next, client_ip, &current)) {
        c->Close();
        co_return;
      }
      ++retried;
      if (!replay.empty()) {
        ++replayed;
        auto [wec, wn] = co_await asio::async_write(c->server, asio::buffer(replay), kTuple);
        if (wec) {
          c->Close();
          co_return;
        }
      }
      if (client_done) c->server.shutdown(tcp::socket::shutdown_send, ec);
    }
    if (answered == 0) {
      c->Close();
      co_return;
    }
    auto [wec, wn] = co_await asio::async_write(c->client, asio::buffer(sbuf, answered), kTuple);
    if (wec) {
      c->Close();
      co_return;
    }
    replay.clear();
    replay.shrink_to_fit();
    WatchPeer(c->server, /*answered=*/true);
    if (!client_done)
      asio::co_spawn(
          c->strand, [c]() -> awaitable<void> { co_await Pump(c->client, c->server, c->up.get()); },
          asio::detached);
    co_await Pump(c->server, c->client, c->down.get());
    // The backend is done: whatever the client still sends has no one to read it.
    c->Close();
  }

  void StopHere() {
    if (stopped) return;
    stopped = true;
    for (auto& [key, l] : listeners) {
      l->closed = true;
      error_code ec;
      l->acceptor.close(ec);
    }
    listeners.clear();
    std::lock_guard<std::mutex> lock(conns_mu);
    for (auto& w : conns)
      if (auto c = w.lock()) asio::post(c->strand, [c] { c->Close(); });
  }
};

ServiceProxy::ServiceProxy(asio::io_context& io, ProxyOptions o)
    : impl_(std::make_shared<Impl>(io, o)) {}

ServiceProxy::~ServiceProxy() {
  Stop();
}

void ServiceProxy::Sync(std::vector<ProxyPort> want) {
  asio::dispatch(impl_->strand, [impl = impl_, want = std::move(want)]() mutable {
    impl->SyncHere(std::move(want));
  });
}

void ServiceProxy::SetErrorHandler(std::function<void(const std::string&)> on_error) {
  asio::dispatch(impl_->strand, [impl = impl_, f = std::move(on_error)]() mutable {
    impl->on_error = std::move(f);
  });
}

void ServiceProxy::Stop() {
  if (!impl_) return;
  asio::dispatch(impl_->strand, [impl = impl_] { impl->StopHere(); });
}

ServiceProxy::Stats ServiceProxy::stats() const {
  Stats s;
  s.accepted = impl_->accepted;
  s.connected = impl_->connected;
  s.retried = impl_->retried;
  s.replayed = impl_->replayed;
  s.refused = impl_->refused;
  return s;
}

}  // namespace tug::agent::proxy
