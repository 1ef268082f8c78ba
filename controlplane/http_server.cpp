#include "controlplane/http_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <chrono>
#include <deque>
#include <fstream>
#include <sstream>

namespace tug::cp {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using boost::system::error_code;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

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

Result<std::string> TlsTrustAnchor(const std::string& cert_file) {
  std::ifstream in(cert_file);
  if (!in) return Status::Invalid("cannot read TLS certificate " + cert_file);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string pem = ss.str();
  static const std::string kBegin = "-----BEGIN CERTIFICATE-----";
  static const std::string kEnd = "-----END CERTIFICATE-----";
  auto begin = pem.rfind(kBegin);
  auto end = begin == std::string::npos ? begin : pem.find(kEnd, begin);
  if (end == std::string::npos)
    return Status::Invalid("TLS certificate " + cert_file + " holds no PEM certificate");
  return pem.substr(begin, end + kEnd.size() - begin) + "\n";
}

std::string HttpsUrl(const std::string& tls_addr, const std::string& fallback_addr) {
  auto colon = tls_addr.rfind(':');
  std::string host = tls_addr.substr(0, colon);
  std::string port = colon == std::string::npos ? "" : tls_addr.substr(colon);
  if (host == "0.0.0.0" || host == "[::]" || host == "::" || host.empty())
    host = fallback_addr.substr(0, fallback_addr.rfind(':'));
  return "https://" + host + port;
}

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
  std::unique_ptr<asio::ssl::context> tls;  // set: every connection speaks TLS
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

  // Serves one TLS connection: the handshake (bounded in time, so a client that connects and
  // says nothing does not hold a connection), then HTTP as on a plain one.
  awaitable<void> TlsSession(std::shared_ptr<TlsStream> stream, std::string remote) {
    auto self_ref = shared_from_this();
    error_code ec;
    auto& tcp_layer = beast::get_lowest_layer(*stream);
    tcp_layer.expires_after(std::chrono::seconds(10));
    co_await stream->async_handshake(asio::ssl::stream_base::server,
                                     asio::redirect_error(use_awaitable, ec));
    if (ec) {
      spdlog::debug("TLS handshake with {} failed: {}", remote, ec.message());
      tcp_layer.close();
      co_return;
    }
    tcp_layer.expires_never();
    co_await Session(stream, remote);
  }

  template <class S>
  awaitable<void> Session(std::shared_ptr<S> stream, std::string remote) {
    auto self_ref = shared_from_this();
    beast::flat_buffer buf;
    error_code ec;
    auto& tcp_layer = beast::get_lowest_layer(*stream);
    bool streamed = false;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(body_limit);
      parser.header_limit(64 * 1024);
      // An idle keep-alive connection is closed after a while.
      tcp_layer.expires_after(std::chrono::seconds(120));
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
      tcp_layer.expires_never();
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
        streamed = true;
        break;
      }
      co_await Write(*stream, resp, version, keep_alive && !resp.close, ec);
      if (ec || !keep_alive || resp.close) break;
    }
    if constexpr (std::is_same_v<S, TlsStream>) {
      // close_notify, so the client knows the answer was complete; bounded in time. Not after
      // a stream, whose disconnect watcher may still have a read pending.
      if (!streamed && !stopped) {
        tcp_layer.expires_after(std::chrono::seconds(5));
        co_await stream->async_shutdown(asio::redirect_error(use_awaitable, ec));
      }
    }
    tcp_layer.socket().shutdown(tcp::socket::shutdown_send, ec);
    tcp_layer.close();
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
  template <class S>
  awaitable<void> Stream(std::shared_ptr<S> s, HttpResponse& r, unsigned version) {
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
    // A client that goes away mid-stream shows up as its side of the socket closing. (Under
    // TLS the read goes through the TLS layer, which allows one read beside one write.)
    asio::co_spawn(
        io,
        [s, cs]() -> awaitable<void> {
          char buf[512];
          error_code rec;
          while (!cs->done) {
            if constexpr (std::is_same_v<S, TlsStream>) {
              co_await s->async_read_some(asio::buffer(buf),
                                          asio::redirect_error(use_awaitable, rec));
            } else {
              co_await s->socket().async_read_some(asio::buffer(buf),
                                                   asio::redirect_error(use_awaitable, rec));
            }
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

  template <class S>
  awaitable<void> Write(S& s, const HttpResponse& r, unsigned version, bool keep_alive,
                        error_code& ec) {
    http::response<http::string_body> res{static_cast<http::status>(r.status), version};
    res.set(http::field::server, "tugd");
    res.set(http::field::content_type, r.content_type);
    for (const auto& [k, v] : r.headers)
      res.set(k, v);
    res.keep_alive(keep_alive);
    res.body() = r.body;
    res.prepare_payload();
    auto& tcp_layer = beast::get_lowest_layer(s);
    tcp_layer.expires_after(std::chrono::seconds(30));
    co_await http::async_write(s, res, asio::redirect_error(use_awaitable, ec));
    tcp_layer.expires_never();
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
      std::erase_if(conns, [](const auto& w) { return w.expired(); });
      if (tls) {
        std::shared_ptr<TlsStream> stream;
        try {
          stream = std::make_shared<TlsStream>(std::move(sock), *tls);
        } catch (const std::exception& e) {
          // OpenSSL could not make a session (out of memory): drop this client, keep serving.
          spdlog::error("TLS session for {} not created: {}", remote, e.what());
          continue;
        }
        // Stop() closes the TCP layer, which lives as long as the TLS stream around it.
        conns.emplace_back(std::shared_ptr<beast::tcp_stream>(stream, &stream->next_layer()));
        asio::co_spawn(io, TlsSession(stream, remote), asio::detached);
      } else {
        auto stream = std::make_shared<beast::tcp_stream>(std::move(sock));
        conns.push_back(stream);
        asio::co_spawn(io, Session(stream, remote), asio::detached);
      }
    }
  }
};

HttpServer::HttpServer(asio::io_context& io, Handler handler, uint64_t body_limit)
    : impl_(std::make_shared<Impl>(io, std::move(handler), body_limit)) {}

HttpServer::~HttpServer() {
  Stop();
}

Status HttpServer::UseTls(const std::string& cert_file, const std::string& key_file) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  // TLS 1.2 and later only; the rest of the choice is OpenSSL's defaults.
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
  // A key protected by a passphrase must fail to load, not make OpenSSL ask on the terminal.
  ctx->set_password_callback(
      [](std::size_t, asio::ssl::context::password_purpose) { return std::string(); });
  error_code ec;
  ctx->use_certificate_chain_file(cert_file, ec);
  if (ec)
    return Status::Invalid("cannot use TLS certificate " + cert_file + ": " + ec.message() +
                           " (it must be PEM: the server's certificate first, then any CAs)");
  ctx->use_private_key_file(key_file, asio::ssl::context::pem, ec);
  if (ec)
    return Status::Invalid("cannot use TLS key " + key_file + ": " + ec.message() +
                           " (it must be the PEM private key of " + cert_file + ")");
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
    return Status::Invalid("TLS key " + key_file + " does not belong to the certificate in " +
                           cert_file);
  impl_->tls = std::move(ctx);
  return Status::Ok();
}

Status HttpServer::Listen(const std::string& addr) {
  auto colon = addr.rfind(':');
  if (colon == std::string::npos)
    return Status::Invalid("address \"" + addr + "\" is not host:port");
  std::string host = addr.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    port = std::stoi(addr.substr(colon + 1));
  } catch (...) {
    return Status::Invalid("address \"" + addr + "\" has no valid port");
  }
  error_code ec;
  auto ip = asio::ip::make_address(host, ec);
  if (ec || port < 0 || port > 65535)
    return Status::Invalid("address \"" + addr + "\" is not ip:port");
  tcp::endpoint ep(ip, static_cast<uint16_t>(port));
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

}  // namespace tug::cp
