#include "net/http_server.h"

#include "base/host_port.h"

#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>
#include <deque>

namespace tug::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using boost::system::error_code;

std::string UrlDecode(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

namespace {

void ParseTarget(const std::string& target, HttpRequest* r) {
  auto q = target.find('?');
  r->path = UrlDecode(target.substr(0, q));
  if (q == std::string::npos) return;
  std::string qs = target.substr(q + 1);
  size_t start = 0;
  while (start < qs.size()) {
    size_t amp = qs.find('&', start);
    std::string kv = qs.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    if (!kv.empty()) {
      auto eq = kv.find('=');
      std::string k = UrlDecode(kv.substr(0, eq));
      std::string v = eq == std::string::npos ? "" : UrlDecode(kv.substr(eq + 1));
      r->query[k] = v;
    }
    if (amp == std::string::npos) break;
    start = amp + 1;
  }
}

std::string StatusJson(int code, const std::string& reason, const std::string& message) {
  // Kubernetes' Status shape; the message has no quotes or backslashes from us, but escape anyway.
  std::string esc;
  for (char c : message) {
    if (c == '"' || c == '\\') esc.push_back('\\');
    if (static_cast<unsigned char>(c) < 0x20) continue;
    esc.push_back(c);
  }
  return "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
         "\"message\":\"" +
         esc + "\",\"reason\":\"" + reason + "\",\"code\":" + std::to_string(code) + "}";
}

}  // namespace

HttpResponse StatusResponse(int code, const std::string& reason, const std::string& message) {
  HttpResponse r;
  r.status = code;
  r.body = StatusJson(code, reason, message);
  return r;
}

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(asio::io_context& io_, Handler h, uint64_t limit)
      : io(io_), handler(std::move(h)), body_limit(limit), acceptor(io_) {}

  asio::io_context& io;
  Handler handler;
  uint64_t body_limit;
  tcp::acceptor acceptor;
  bool draining = false;
  bool stopped = false;
  std::vector<std::weak_ptr<beast::tcp_stream>> conns;
  std::vector<std::weak_ptr<ResponseStream>> streams;

  struct Slot {
    explicit Slot(asio::io_context& io) : signal(io) {
      signal.expires_at(asio::steady_timer::time_point::max());
    }
    asio::steady_timer signal;
    std::optional<HttpResponse> response;
  };

  awaitable<void> Session(std::shared_ptr<beast::tcp_stream> stream, std::string remote) {
    auto self_ref = shared_from_this();
    beast::flat_buffer buf;
    error_code ec;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(body_limit);
      parser.header_limit(64 * 1024);
      // An idle keep-alive connection is closed after a while.
      stream->expires_after(std::chrono::seconds(120));
      co_await http::async_read(*stream, buf, parser, asio::redirect_error(use_awaitable, ec));
      if (ec == http::error::body_limit) {
        HttpResponse r;
        r.status = 413;
        r.body = StatusJson(
            413, "RequestEntityTooLarge",
            "request body is larger than the limit of " + std::to_string(body_limit) + " bytes");
        r.close = true;
        co_await Write(*stream, r, 11, false, ec);
        break;
      }
      if (ec) break;
      stream->expires_never();
      auto& req = parser.get();
      HttpRequest hr;
      hr.method = std::string(req.method_string());
      hr.target = std::string(req.target());
      ParseTarget(hr.target, &hr);
      for (const auto& f : req) {
        std::string name(f.name_string());
        for (auto& c : name)
          c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        hr.headers[name] = std::string(f.value());
      }
      hr.body = std::move(req.body());
      hr.remote = remote;
      bool keep_alive = req.keep_alive();
      unsigned version = req.version();

      auto slot = std::make_shared<Slot>(io);
      handler(std::move(hr), [slot](HttpResponse r) {
        if (slot->response) return;  // answered twice: the first answer stands
        slot->response = std::move(r);
        slot->signal.cancel();
      });
      while (!slot->response) {
        co_await slot->signal.async_wait(asio::redirect_error(use_awaitable, ec));
        if (stopped) co_return;
      }
      HttpResponse& resp = *slot->response;
      if (draining) resp.close = true;
      if (resp.stream) {
        // A streamed response ends the connection: the client reads until the last chunk.
        co_await Stream(stream, resp, version);
        break;
      }
      co_await Write(*stream, resp, version, keep_alive && !resp.close, ec);
      if (ec || !keep_alive || resp.close) break;
    }
    stream->socket().shutdown(tcp::socket::shutdown_send, ec);
    stream->close();
  }

  struct ChunkStream : ResponseStream {
    explicit ChunkStream(asio::io_context& io) : signal(io) {
      signal.expires_at(asio::steady_timer::time_point::max());
    }
    bool Write(std::string chunk) override {
      if (done || ended) return false;
      queued_bytes += chunk.size();
      if (queued_bytes > kMaxQueuedBytes) {
        Close();  // the client does not keep up: cut it off
        return false;
      }
      queue.push_back(std::move(chunk));
      signal.cancel();
      return true;
    }
    void End() override {
      ended = true;
      signal.cancel();
    }
    bool closed() const override { return done; }
    void OnClose(std::function<void()> f) override { on_close = std::move(f); }
    void Close() {
      if (done) return;
      done = true;
      signal.cancel();
      if (on_close) {
        auto f = std::move(on_close);
        f();
      }
    }
    static constexpr size_t kMaxQueuedBytes = 8u << 20;
    asio::steady_timer signal;
    std::deque<std::string> queue;
    size_t queued_bytes = 0;
    bool ended = false;
    bool done = false;
    std::function<void()> on_close;
  };

  // Sends a chunked response fed by the handler until it ends the stream, the client goes
  // away, or the server stops. The connection is closed afterwards.
  awaitable<void> Stream(std::shared_ptr<beast::tcp_stream> s, HttpResponse& r, unsigned version) {
    error_code ec;
    http::response<http::empty_body> res{static_cast<http::status>(r.status), version};
    res.set(http::field::server, "tugd");
    res.set(http::field::content_type, r.content_type);
    for (const auto& [k, v] : r.headers)
      res.set(k, v);
    res.keep_alive(false);
    res.chunked(true);
    http::response_serializer<http::empty_body> sr{res};
    co_await http::async_write_header(*s, sr, asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
    auto cs = std::make_shared<ChunkStream>(io);
    std::erase_if(streams, [](const auto& w) { return w.expired(); });
    streams.push_back(cs);
    // A client that goes away mid-stream shows up as its side of the socket closing.
    asio::co_spawn(
        io,
        [s, cs]() -> awaitable<void> {
          char buf[512];
          error_code rec;
          while (!cs->done) {
            co_await s->socket().async_read_some(asio::buffer(buf),
                                                 asio::redirect_error(use_awaitable, rec));
            if (rec) break;
          }
          cs->Close();
        },
        asio::detached);
    r.stream(cs);
    while (!cs->done && !stopped) {
      if (cs->queue.empty()) {
        if (cs->ended) break;
        cs->signal.expires_at(asio::steady_timer::time_point::max());
        co_await cs->signal.async_wait(asio::redirect_error(use_awaitable, ec));
        continue;
      }
      std::string chunk = std::move(cs->queue.front());
      cs->queue.pop_front();
      cs->queued_bytes -= std::min(cs->queued_bytes, chunk.size());
      co_await asio::async_write(*s, http::make_chunk(asio::buffer(chunk)),
                                 asio::redirect_error(use_awaitable, ec));
      if (ec) cs->Close();
    }
    if (!cs->done && !stopped) {
      co_await asio::async_write(*s, http::make_chunk_last(),
                                 asio::redirect_error(use_awaitable, ec));
    }
    cs->Close();
  }

  awaitable<void> Write(beast::tcp_stream& s, const HttpResponse& r, unsigned version,
                        bool keep_alive, error_code& ec) {
    http::response<http::string_body> res{static_cast<http::status>(r.status), version};
    res.set(http::field::server, "tugd");
    res.set(http::field::content_type, r.content_type);
    for (const auto& [k, v] : r.headers)
      res.set(k, v);
    res.keep_alive(keep_alive);
    res.body() = r.body;
    res.prepare_payload();
    s.expires_after(std::chrono::seconds(30));
    co_await http::async_write(s, res, asio::redirect_error(use_awaitable, ec));
    s.expires_never();
  }

  awaitable<void> Accept() {
    auto self_ref = shared_from_this();
    while (!stopped && !draining) {
      error_code ec;
      tcp::socket sock(io);
      co_await acceptor.async_accept(sock, asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (stopped || draining) break;
        continue;
      }
      sock.set_option(tcp::no_delay(true), ec);
      std::string remote;
      auto ep = sock.remote_endpoint(ec);
      if (!ec) remote = ep.address().to_string() + ":" + std::to_string(ep.port());
      auto stream = std::make_shared<beast::tcp_stream>(std::move(sock));
      std::erase_if(conns, [](const auto& w) { return w.expired(); });
      conns.push_back(stream);
      asio::co_spawn(io, Session(stream, remote), asio::detached);
    }
  }
};

HttpServer::HttpServer(asio::io_context& io, Handler handler, uint64_t body_limit)
    : impl_(std::make_shared<Impl>(io, std::move(handler), body_limit)) {}

HttpServer::~HttpServer() {
  Stop();
}

Status HttpServer::Listen(const std::string& addr) {
  auto hp = ParseHostPort(addr);
  if (!hp) return hp.status();
  error_code ec;
  auto ip = asio::ip::make_address(hp->host, ec);
  if (ec) return Status::Invalid("address \"" + addr + "\" is not ip:port");
  tcp::endpoint ep(ip, hp->port);
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::Error("cannot listen on " + addr + ": " + ec.message());
  asio::co_spawn(impl_->io, impl_->Accept(), asio::detached);
  return Status::Ok();
}

uint16_t HttpServer::port() const {
  error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void HttpServer::StopAccepting() {
  impl_->draining = true;
  error_code ec;
  impl_->acceptor.close(ec);
  // Streams (watches) end now, so their clients reconnect to another member.
  for (auto& w : impl_->streams) {
    if (auto st = w.lock()) st->End();
  }
}

void HttpServer::Stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  error_code ec;
  impl_->acceptor.close(ec);
  for (auto& w : impl_->conns) {
    if (auto s = w.lock()) s->socket().close(ec);
  }
}

}  // namespace tug::net
