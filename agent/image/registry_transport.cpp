#include "agent/image/registry_transport.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>

#include "base/host_port.h"

namespace tug::agent::image {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

std::string Url::Authority() const {
  bool default_port = (https && port == 443) || (!https && port == 80);
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return default_port ? h : h + ":" + std::to_string(port);
}

std::string Url::Origin() const {
  return (https ? "https://" : "http://") + Authority();
}

Result<Url> ParseUrl(const std::string& text) {
  Url u;
  std::string rest;
  if (text.rfind("https://", 0) == 0) {
    u.https = true;
    rest = text.substr(8);
  } else if (text.rfind("http://", 0) == 0) {
    rest = text.substr(7);
  } else {
    return Status::Invalid("\"" + text + "\" is not an http:// or https:// URL");
  }
  size_t slash = rest.find_first_of("/?");
  std::string authority = rest.substr(0, slash);
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (u.target[0] == '?') u.target = "/" + u.target;
  if (authority.empty() || authority.find('@') != std::string::npos)
    return Status::Invalid("\"" + text + "\" has no usable host");
  for (char c : u.target)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
      return Status::Invalid("\"" + text + "\" has a space or control character in its path");
  // The port is optional in a URL; ParseHostPort wants one.
  bool has_port = authority[0] == '[' ? authority.find("]:") != std::string::npos
                                      : authority.find(':') != std::string::npos;
  auto hp = ParseHostPort(has_port ? authority : authority + (u.https ? ":443" : ":80"), false);
  if (!hp) return Status::Invalid("\"" + text + "\": " + hp.status().message());
  if (hp->host.empty()) return Status::Invalid("\"" + text + "\" has no host");
  u.host = hp->host;
  u.port = hp->port;
  return u;
}

Result<Url> ResolveLocation(const Url& base, const std::string& location) {
  if (location.rfind("http://", 0) == 0 || location.rfind("https://", 0) == 0)
    return ParseUrl(location);
  if (location.rfind("//", 0) == 0) return ParseUrl((base.https ? "https:" : "http:") + location);
  if (location.empty() || location[0] != '/')
    return Status::Invalid("a redirect to \"" + location +
                           "\", which is not a URL or an absolute path");
  return ParseUrl(base.Origin() + location);
}

namespace {

std::string Lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

constexpr size_t kMaxErrorBody = 4096;  // kept of an error answer, for its message
// Read (and dropped beyond kMaxErrorBody) of an error answer before the connection is given up.
constexpr int64_t kErrorBodyLimit = 1 << 20;
constexpr size_t kMaxHeaderBytes = 64 * 1024;

std::string SslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

// Reads the answer to a request already written on `stream`.
template <typename Stream>
Result<GetResponse> ReadResponse(Stream& stream, beast::tcp_stream& lowest, const GetRequest& req,
                                 const BodySink& sink, int64_t max_body) {
  beast::flat_buffer buf;
  http::response_parser<http::buffer_body> parser;
  parser.header_limit(kMaxHeaderBytes);
  // Beast's own limit is checked against Content-Length up front and against a chunked body as
  // it arrives. It must also let an error answer through whose body is longer than the blob
  // asked for (a 401's JSON before a 100-byte layer): max_body itself is checked below, for
  // successful answers only, so a body over it never reaches the sink.
  parser.body_limit(max_body < 0
                        ? std::numeric_limits<uint64_t>::max()
                        : static_cast<uint64_t>(std::max<int64_t>(max_body, kErrorBodyLimit)));
  boost::system::error_code ec;
  lowest.expires_after(req.idle_timeout);
  http::read_header(stream, buf, parser, ec);
  if (ec) return Status::Unavailable("no answer from " + req.url.Origin() + ": " + ec.message());
  GetResponse out;
  out.status = static_cast<int>(parser.get().result_int());
  for (const auto& f : parser.get())
    out.headers[Lower(std::string(f.name_string()))] = std::string(f.value());
  bool success = out.status >= 200 && out.status < 300;
  auto over_limit = [&] {
    return Status::Invalid(req.url.Origin() + " sent a body over the limit of " +
                           std::to_string(max_body) + " bytes");
  };
  if (success && max_body >= 0 && parser.content_length() &&
      *parser.content_length() > static_cast<uint64_t>(max_body))
    return over_limit();
  int64_t total = 0;
  // A HEAD-like answer with no body (204, 304) or a redirect's body is of no interest beyond
  // its start.
  char chunk[64 * 1024];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    lowest.expires_after(req.idle_timeout);
    http::read(stream, buf, parser, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec == http::error::body_limit) return over_limit();
    if (ec)
      return Status::Unavailable("the answer from " + req.url.Origin() +
                                 " broke off: " + ec.message());
    size_t got = sizeof chunk - parser.get().body().size;
    if (got == 0) continue;
    total += static_cast<int64_t>(got);
    if (success && max_body >= 0 && total > max_body) return over_limit();
    if (success) {
      if (auto s = sink(std::string_view(chunk, got)); !s.ok()) return s;
    } else if (out.error_body.size() < kMaxErrorBody) {
      out.error_body.append(chunk, std::min(got, kMaxErrorBody - out.error_body.size()));
    } else if (out.status >= 300 && out.status < 400) {
      break;  // a redirect: its body is never needed
    }
  }
  return out;
}

http::request<http::empty_body> MakeRequest(const GetRequest& req) {
  http::request<http::empty_body> r{http::verb::get, req.url.target, 11};
  r.set(http::field::host, req.url.Authority());
  r.set(http::field::user_agent, "tug-agent");
  r.set(http::field::connection, "close");
  for (const auto& [k, v] : req.headers)
    r.set(k, v);
  return r;
}

class NetworkTransport : public RegistryTransport {
 public:
  Result<GetResponse> Get(const GetRequest& req, const BodySink& sink, int64_t max_body) override {
    asio::io_context io;
    tcp::resolver resolver(io);
    boost::system::error_code ec;
    auto endpoints = resolver.resolve(req.url.host, std::to_string(req.url.port), ec);
    if (ec) return Status::Unavailable("cannot resolve " + req.url.host + ": " + ec.message());
    beast::tcp_stream tcp_stream(io);
    tcp_stream.expires_after(req.idle_timeout);
    tcp_stream.connect(endpoints, ec);
    if (ec)
      return Status::Unavailable("cannot connect to " + req.url.Origin() + ": " + ec.message());
    auto request = MakeRequest(req);
    if (!req.url.https) {
      http::write(tcp_stream, request, ec);
      if (ec)
        return Status::Unavailable("cannot send to " + req.url.Origin() + ": " + ec.message());
      return ReadResponse(tcp_stream, tcp_stream, req, sink, max_body);
    }

    ssl::context ctx(ssl::context::tls_client);
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    if (req.tls.verify) {
      ctx.set_verify_mode(ssl::verify_peer);
      if (!req.tls.ca_file.empty()) {
        ctx.load_verify_file(req.tls.ca_file, ec);
        if (ec)
          return Status::Invalid("cannot read the CA file " + req.tls.ca_file + ": " +
                                 ec.message());
      } else {
        ctx.set_default_verify_paths(ec);
      }
    } else {
      ctx.set_verify_mode(ssl::verify_none);
    }
    if (!req.tls.cert_file.empty() || !req.tls.key_file.empty()) {
      ctx.use_certificate_chain_file(req.tls.cert_file, ec);
      if (!ec) ctx.use_private_key_file(req.tls.key_file, ssl::context::pem, ec);
      if (ec)
        return Status::Invalid("cannot load the client certificate " + req.tls.cert_file +
                               " / key " + req.tls.key_file + ": " + ec.message());
    }
    ssl::stream<beast::tcp_stream&> tls(tcp_stream, ctx);
    SSL* s = tls.native_handle();
    boost::system::error_code addr_ec;
    bool is_ip = (asio::ip::make_address(req.url.host, addr_ec), !addr_ec);
    // SNI is for names only; the name (or address) is checked against the certificate.
    if (!is_ip) SSL_set_tlsext_host_name(s, req.url.host.c_str());
    if (req.tls.verify) {
      X509_VERIFY_PARAM* param = SSL_get0_param(s);
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, req.url.host.c_str())
                     : X509_VERIFY_PARAM_set1_host(param, req.url.host.c_str(), 0);
      if (ok != 1) return Status::Error("cannot set up checking the name " + req.url.host);
    }
    tcp_stream.expires_after(req.idle_timeout);
    tls.handshake(ssl::stream_base::client, ec);
    if (ec) {
      std::string why = ec.message();
      if (req.tls.verify) {
        long v = SSL_get_verify_result(s);
        if (v != X509_V_OK) why = X509_verify_cert_error_string(v);
      }
      std::string more = SslErrors();
      return Status::Unavailable("TLS handshake with " + req.url.Origin() + " failed: " + why +
                                 (more.empty() ? "" : " (" + more + ")"));
    }
    tcp_stream.expires_after(req.idle_timeout);
    http::write(tls, request, ec);
    if (ec) return Status::Unavailable("cannot send to " + req.url.Origin() + ": " + ec.message());
    // No TLS shutdown: the request asked for Connection: close and the body's end is known
    // from HTTP framing, so waiting for the server's close_notify would only add a round trip.
    return ReadResponse(tls, tcp_stream, req, sink, max_body);
  }
};

}  // namespace

std::unique_ptr<RegistryTransport> NewNetworkTransport() {
  return std::make_unique<NetworkTransport>();
}

}  // namespace tug::agent::image
