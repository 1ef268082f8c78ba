#include "net/http_client.h"

#include "base/host_port.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <optional>
#include <thread>

namespace tug::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

std::vector<std::string> SplitServers(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    std::string s =
        list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (s.rfind("http://", 0) == 0) s = s.substr(7);
    while (!s.empty() && s.back() == '/')
      s.pop_back();
    if (!s.empty()) out.push_back(s);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

struct HttpClient::Conn {
  asio::io_context io;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buf;
};

HttpClient::HttpClient(std::vector<std::string> servers, std::string bearer_token)
    : token_(std::move(bearer_token)) {
  for (auto& s : servers) {
    auto split = SplitServers(s);
    servers_.insert(servers_.end(), split.begin(), split.end());
  }
  for (size_t i = 0; i < servers_.size(); ++i)
    conns_.push_back(std::make_unique<Conn>());
}

HttpClient::~HttpClient() = default;

namespace {

enum class Outcome { kOk, kNotSent, kMaybeSent };

// The longest a connection attempt to one server may take.
constexpr std::chrono::seconds kConnectTimeout(3);

// One attempt on one server within `deadline`. kNotSent: the request surely did not reach
// the server (it could not connect), so even a POST may be retried elsewhere.
Outcome Attempt(HttpClient::Conn& c, const std::string& server,
                const http::request<http::string_body>& req, Clock::time_point deadline,
                HttpResult* out, std::string* err) {
  auto remaining = [&] {
    auto d = deadline - Clock::now();
    return d > Clock::duration::zero() ? d : Clock::duration::zero();
  };
  boost::system::error_code ec;
  bool fresh = false;
  for (int tries = 0; tries < 2; ++tries) {
    if (!c.stream) {
      auto hp = ParseHostPort(server);
      if (!hp) {
        *err = hp.status().message();
        return Outcome::kNotSent;
      }
      tcp::resolver resolver(c.io);
      auto eps = resolver.resolve(hp->host, std::to_string(hp->port), ec);
      if (ec) {
        *err = server + ": " + ec.message();
        return Outcome::kNotSent;
      }
      c.stream.emplace(c.io);
      // A machine that is down answers nothing: give up on it after a while and try the
      // next server, rather than spend the whole request's time on it.
      c.stream->expires_after(std::min<Clock::duration>(remaining(), kConnectTimeout));
      c.stream->async_connect(eps,
                              [&](boost::system::error_code e, const tcp::endpoint&) { ec = e; });
      c.io.restart();
      c.io.run();
      if (ec) {
        c.stream.reset();
        *err = server + ": " +
               (ec == beast::error::timeout ? std::string("connect timed out") : ec.message());
        return Outcome::kNotSent;
      }
      c.buf.clear();
      fresh = true;
    }
    http::response<http::string_body> res;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256u << 20);
    c.stream->expires_after(remaining());
    bool wrote = false;
    http::async_write(*c.stream, req, [&](boost::system::error_code e, size_t) {
      ec = e;
      if (e) return;
      wrote = true;
      http::async_read(*c.stream, c.buf, parser,
                       [&](boost::system::error_code e2, size_t) { ec = e2; });
    });
    c.io.restart();
    c.io.run();
    if (ec) {
      c.stream.reset();
      // A kept-alive connection the server had closed: retry once on a fresh one.
      if (!fresh &&
          (ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
           ec == asio::error::broken_pipe || ec == asio::error::eof) &&
          Clock::now() < deadline) {
        continue;
      }
      *err =
          server + ": " + (ec == beast::error::timeout ? std::string("timed out") : ec.message());
      return wrote ? Outcome::kMaybeSent : Outcome::kNotSent;
    }
    auto& r = parser.get();
    out->status = static_cast<int>(r.result_int());
    out->body = std::move(r.body());
    out->server = server;
    out->headers.clear();
    for (const auto& f : r) {
      std::string name(f.name_string());
      for (auto& ch : name)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      out->headers[name] = std::string(f.value());
    }
    if (!r.keep_alive()) c.stream.reset();
    return Outcome::kOk;
  }
  return Outcome::kNotSent;
}

}  // namespace

std::string HttpClient::Tried() const {
  std::string out;
  for (size_t i = 0; i < servers_.size(); ++i)
    out += (i ? ", " : "") + servers_[i];
  return out;
}

Result<HttpResult> HttpClient::Do(const std::string& method, const std::string& target,
                                  const std::string& body, const RequestOptions& o) {
  if (servers_.empty())
    return Status::Invalid("no server to talk to (give --server or TUG_SERVER)");
  auto deadline = Clock::now() + o.timeout;
  std::vector<std::string> errors;
  std::chrono::milliseconds backoff(50);
  size_t tried_in_round = 0;
  bool round_unreachable = true;  // no server in this round could be connected to
  int unreachable_rounds = 0;
  for (;;) {
    const std::string& server = servers_[current_];
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, server);
    req.set(http::field::user_agent, "tug");
    if (!token_.empty()) req.set(http::field::authorization, "Bearer " + token_);
    for (const auto& [k, v] : o.headers)
      req.set(k, v);
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
      req.set(http::field::content_type, o.content_type);
      req.body() = body;
    }
    req.keep_alive(true);
    req.prepare_payload();
    HttpResult res;
    std::string err;
    Outcome out = Attempt(*conns_[current_], server, req, deadline, &res, &err);
    if (out != Outcome::kNotSent) round_unreachable = false;
    if (out == Outcome::kOk && !(res.status == 503 && o.idempotent)) return res;
    if (out == Outcome::kOk) err = server + ": 503 " + res.body.substr(0, 200);
    errors.push_back(err);
    if (out == Outcome::kMaybeSent && !o.idempotent) {
      return Status::Unavailable("request may or may not have been applied: " + err);
    }
    if (out == Outcome::kOk && Clock::now() >= deadline) return res;  // the last 503 stands
    current_ = (current_ + 1) % servers_.size();
    if (++tried_in_round >= servers_.size()) {
      tried_in_round = 0;
      if (round_unreachable && o.max_unreachable_rounds > 0 &&
          ++unreachable_rounds >= o.max_unreachable_rounds) {
        return Status::Unavailable("cannot reach any server (tried " + Tried() +
                                   "); last error: " + errors.back());
      }
      round_unreachable = true;
      if (Clock::now() + backoff >= deadline) break;
      std::this_thread::sleep_for(backoff);  // every server failed: back off before the next round
      backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
    }
    if (Clock::now() >= deadline) break;
  }
  return Status::Unavailable("no server answered within " + std::to_string(o.timeout.count()) +
                             " ms (tried " + Tried() +
                             "); last error: " + (errors.empty() ? "none" : errors.back()));
}

Status HttpClient::Stream(const std::string& method, const std::string& target,
                          const std::string& body,
                          const std::function<bool(const std::string&)>& on_data,
                          std::chrono::milliseconds timeout) {
  if (servers_.empty()) return Status::Invalid("no server to talk to");
  auto deadline = Clock::now() + timeout;
  std::string last_error;
  for (size_t n = 0; n < servers_.size(); ++n) {
    const std::string& server = servers_[(current_ + n) % servers_.size()];
    asio::io_context io;
    beast::tcp_stream stream(io);
    boost::system::error_code ec;
    auto hp = ParseHostPort(server);
    if (!hp) {
      last_error = hp.status().message();
      continue;
    }
    tcp::resolver resolver(io);
    auto eps = resolver.resolve(hp->host, std::to_string(hp->port), ec);
    if (!ec) {
      stream.expires_at(std::min(deadline, Clock::now() + kConnectTimeout));
      stream.async_connect(eps, [&](boost::system::error_code e, const tcp::endpoint&) { ec = e; });
      io.run();
    }
    if (ec) {
      last_error = server + ": " + ec.message();
      continue;
    }
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, server);
    req.set(http::field::user_agent, "tug");
    if (!token_.empty()) req.set(http::field::authorization, "Bearer " + token_);
    req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    bool stopped_by_caller = false;
    auto on_chunk = [&](std::uint64_t, beast::string_view data,
                        boost::system::error_code& cec) -> std::size_t {
      if (parser.get().result() != http::status::ok) {
        parser.get().body().append(data.data(), data.size());  // keep an error body to report
        return data.size();
      }
      if (!on_data(std::string(data))) {
        stopped_by_caller = true;
        cec = asio::error::operation_aborted;
      }
      return data.size();
    };
    parser.on_chunk_body(on_chunk);
    beast::flat_buffer buf;
    stream.expires_at(deadline);
    http::async_write(stream, req, [&](boost::system::error_code e, size_t) {
      ec = e;
      if (!e)
        http::async_read(stream, buf, parser,
                         [&](boost::system::error_code e2, size_t) { ec = e2; });
    });
    io.restart();
    io.run();
    if (stopped_by_caller) return Status::Ok();
    if (ec == beast::error::timeout) return Status::Ok();
    if (parser.is_header_done() && parser.get().result() != http::status::ok) {
      return Status::Error(server + " answered " + std::to_string(parser.get().result_int()) +
                           ": " + parser.get().body());
    }
    if (ec && ec != http::error::end_of_stream)
      return Status::Unavailable(server + ": stream broke: " + ec.message());
    return Status::Ok();
  }
  return Status::Unavailable("no server accepted the stream (" + last_error + ")");
}

std::string QueryEscape(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : s) {
    if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += kHex[ch >> 4];
      out += kHex[ch & 15];
    }
  }
  return out;
}

}  // namespace tug::net
