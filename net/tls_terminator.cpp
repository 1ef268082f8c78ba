#include "net/tls_terminator.h"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <vector>

#include "base/file.h"
#include "base/host_port.h"
#include "net/tcp_listen.h"

namespace tug::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using boost::system::error_code;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

Result<std::string> TlsTrustAnchor(const std::string& cert_file) {
  std::string pem;
  if (Status s = ReadWholeFile(cert_file, &pem); !s) return s;
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
  std::string host = HostOf(tls_addr);
  std::string port = colon == std::string::npos ? "" : tls_addr.substr(colon);
  if (IsUnspecifiedHost(host)) host = HostOf(fallback_addr);
  return "https://" + host + port;
}

std::string LocalAddress(const std::string& bound_addr) {
  std::string host = HostOf(bound_addr);
  if (!IsUnspecifiedHost(host)) return bound_addr;
  return (host == "0.0.0.0" || host.empty() ? "127.0.0.1" : "[::1]") +
         bound_addr.substr(host.size());
}

struct TlsTerminator::Impl : std::enable_shared_from_this<TlsTerminator::Impl> {
  explicit Impl(asio::io_context& io_) : io(io_), acceptor(io_) {}

  asio::io_context& io;
  tcp::acceptor acceptor;
  std::unique_ptr<asio::ssl::context> ctx;
  tcp::endpoint backend;
  bool stopped = false;
  std::vector<std::weak_ptr<beast::tcp_stream>> conns;

  // Copies bytes from `from` to `to` until either side ends. `timed` bounds each write (the
  // client's side: a client that stops reading is cut off).
  template <class From, class To>
  static awaitable<void> Pump(From& from, To& to, beast::tcp_stream* timed) {
    std::vector<char> buf(16 * 1024);
    error_code ec;
    for (;;) {
      size_t n =
          co_await from.async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
      if (ec || n == 0) break;
      if (timed) timed->expires_after(std::chrono::seconds(30));
      co_await asio::async_write(to, asio::buffer(buf.data(), n),
                                 asio::redirect_error(use_awaitable, ec));
      if (timed) timed->expires_never();
      if (ec) break;
    }
  }

  awaitable<void> Relay(std::shared_ptr<TlsStream> client, std::string remote) {
    auto self_ref = shared_from_this();
    error_code ec;
    auto& client_tcp = beast::get_lowest_layer(*client);
    client_tcp.expires_after(std::chrono::seconds(10));
    co_await client->async_handshake(asio::ssl::stream_base::server,
                                     asio::redirect_error(use_awaitable, ec));
    if (ec) {
      spdlog::debug("TLS handshake with {} failed: {}", remote, ec.message());
      client_tcp.close();
      co_return;
    }
    client_tcp.expires_never();
    auto server = std::make_shared<beast::tcp_stream>(io);
    co_await server->async_connect(backend, asio::redirect_error(use_awaitable, ec));
    if (ec || stopped) {
      spdlog::warn("HTTPS client {}: cannot reach the API at {}: {}", remote,
                   backend.address().to_string() + ":" + std::to_string(backend.port()),
                   ec.message());
      client_tcp.close();
      co_return;
    }
    server->socket().set_option(tcp::no_delay(true), ec);
    // Client to server: when the client is done, the server sees the end of its requests.
    asio::co_spawn(
        io,
        [client, server]() -> awaitable<void> {
          co_await Pump(*client, *server, nullptr);
          error_code ignored;
          server->socket().shutdown(tcp::socket::shutdown_send, ignored);
        },
        asio::detached);
    // Server to client: when the server closes, so does the client's connection (TLS allows
    // this read beside the other coroutine's write, and nothing else).
    co_await Pump(*server, *client, &client_tcp);
    client_tcp.close();
    server->close();
  }

  awaitable<void> Accept() {
    auto self_ref = shared_from_this();
    while (!stopped) {
      error_code ec;
      tcp::socket sock(io);
      co_await acceptor.async_accept(sock, asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (stopped || !acceptor.is_open()) break;
        continue;
      }
      sock.set_option(tcp::no_delay(true), ec);
      std::string remote;
      auto ep = sock.remote_endpoint(ec);
      if (!ec) remote = ep.address().to_string() + ":" + std::to_string(ep.port());
      std::shared_ptr<TlsStream> stream;
      try {
        stream = std::make_shared<TlsStream>(std::move(sock), *ctx);
      } catch (const std::exception& e) {
        // OpenSSL could not make a session (out of memory): drop this client, keep serving.
        spdlog::error("TLS session for {} not created: {}", remote, e.what());
        continue;
      }
      std::erase_if(conns, [](const auto& w) { return w.expired(); });
      // Stop() closes the TCP layer, which lives as long as the TLS stream around it.
      conns.emplace_back(std::shared_ptr<beast::tcp_stream>(stream, &stream->next_layer()));
      asio::co_spawn(io, Relay(stream, remote), asio::detached);
    }
  }
};

TlsTerminator::TlsTerminator(asio::io_context& io) : impl_(std::make_shared<Impl>(io)) {}

TlsTerminator::~TlsTerminator() {
  Stop();
}

Status TlsTerminator::UseCertificate(const std::string& cert_file, const std::string& key_file) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
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
                           " (it must be the unencrypted PEM private key of " + cert_file + ")");
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
    return Status::Invalid("TLS key " + key_file + " does not belong to the certificate in " +
                           cert_file);
  impl_->ctx = std::move(ctx);
  return Status::Ok();
}

Status TlsTerminator::Listen(const std::string& addr, const std::string& backend) {
  if (!impl_->ctx) return Status::Invalid("no TLS certificate to serve " + addr + " with");
  auto be = TcpEndpoint(backend);
  if (!be.ok()) return be.status();
  impl_->backend = be.value();
  if (Status s = ListenTcp(impl_->acceptor, addr); !s) return s;
  asio::co_spawn(impl_->io, impl_->Accept(), asio::detached);
  return Status::Ok();
}

uint16_t TlsTerminator::port() const {
  return BoundPort(impl_->acceptor);
}

void TlsTerminator::StopAccepting() {
  error_code ec;
  impl_->acceptor.close(ec);
}

void TlsTerminator::Stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  error_code ec;
  impl_->acceptor.close(ec);
  for (auto& w : impl_->conns) {
    if (auto s = w.lock()) s->socket().close(ec);
  }
}

}  // namespace tug::net
