// tug-web: the small HTTP server the demo runs as a deployment. It answers every GET with the
// pod and node it runs on (from POD_NAME and NODE_NAME, which the agent sets), so that a user
// can see the replicas and where they are; /healthz answers "ok" for probes.
//
// With --redis HOST:PORT (the seed's web server in front of its database) every GET also
// counts a visit in Redis (INCR visits) and says the count: HOST is looked up for every
// request, so a Service name ("database:6379") finds the database wherever it runs. When the
// database cannot be reached the answer is 503 and says why.
//
//   tug-web [--port N] [--redis HOST:PORT]   (port default: $PORT, which the agent sets to
//                                             the host port it chose, else 8080)
//
// A thread per connection: it serves a demo, tests and benchmarks, not production traffic.
#include <sys/socket.h>
#include <sys/time.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <string>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

std::string Env(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

// INCR visits on the Redis at host:port: the new count, or an error message.
bool CountVisit(const std::string& addr, long long* count, std::string* error) {
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos) {
    *error = "--redis wants HOST:PORT, not " + addr;
    return false;
  }
  try {
    asio::io_context io;
    tcp::resolver resolver(io);
    auto eps = resolver.resolve(addr.substr(0, colon), addr.substr(colon + 1));
    tcp::socket s(io);
    asio::connect(s, eps);
    timeval tv{2, 0};
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const std::string cmd = "*2\r\n$4\r\nINCR\r\n$6\r\nvisits\r\n";
    asio::write(s, asio::buffer(cmd));
    asio::streambuf buf;
    asio::read_until(s, buf, "\r\n");
    std::string line((std::istreambuf_iterator<char>(&buf)), {});
    if (line.empty() || line[0] != ':') {
      *error = "Redis answered " + line.substr(0, line.find('\r'));
      return false;
    }
    *count = std::atoll(line.c_str() + 1);
    return true;
  } catch (const std::exception& e) {
    *error = e.what();
    return false;
  }
}

void Serve(tcp::socket socket, const std::string& pod, const std::string& node,
           const std::string& redis) {
  beast::error_code ec;
  beast::flat_buffer buf;
  for (;;) {
    http::request<http::string_body> req;
    http::read(socket, buf, req, ec);
    if (ec) return;  // closed, or not HTTP: drop the connection
    http::response<http::string_body> res;
    res.version(req.version());
    res.keep_alive(req.keep_alive());
    res.set(http::field::content_type, "text/plain");
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      res.result(http::status::method_not_allowed);
      res.body() = "only GET\n";
    } else if (req.target() == "/healthz") {
      res.body() = "ok\n";
    } else if (redis.empty()) {
      res.body() = "hello from " + pod + " on " + node + "\n";
    } else {
      long long visits = 0;
      std::string error;
      if (CountVisit(redis, &visits, &error)) {
        res.body() = "hello from " + pod + " on " + node + ": visit " + std::to_string(visits) +
                     " (database " + redis + ")\n";
      } else {
        res.result(http::status::service_unavailable);
        res.body() = "database " + redis + " unreachable from " + pod + ": " + error + "\n";
      }
    }
    res.prepare_payload();
    std::cout << req.method_string() << " " << req.target() << " " << res.result_int() << std::endl;
    http::write(socket, res, ec);
    if (ec || !res.keep_alive()) return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string port = Env("PORT", "8080"), redis;
  const char* usage = "usage: tug-web [--port N] [--redis HOST:PORT]   (port: $PORT, else 8080)";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--port" && i + 1 < argc) {
      port = argv[++i];
    } else if (a == "--redis" && i + 1 < argc) {
      redis = argv[++i];
    } else if (a == "--help" || a == "-h") {
      std::cout << usage << "\n";
      return 0;
    } else {
      std::cerr << "tug-web: unknown argument " << a << " (" << usage << ")\n";
      return 2;
    }
  }
  int port_num = std::atoi(port.c_str());
  if (port_num <= 0 || port_num > 65535) {
    std::cerr << "tug-web: bad port \"" << port << "\"\n";
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  // As a container's first process it gets no default action for SIGTERM (PID 1 of a PID
  // namespace ignores signals it does not handle): without this, every stop waited out the
  // whole grace period and ended in SIGKILL.
  std::signal(SIGTERM, [](int) { std::_Exit(0); });
  std::string pod = Env("POD_NAME", "<no POD_NAME>"), node = Env("NODE_NAME", "<no NODE_NAME>");
  try {
    asio::io_context io;
    tcp::acceptor acceptor(io, {tcp::v4(), static_cast<unsigned short>(port_num)});
    std::cout << "tug-web: " << pod << " on " << node << " listening on port " << port_num
              << (redis.empty() ? "" : ", counting visits in Redis at " + redis) << std::endl;
    for (;;) {
      tcp::socket socket(io);
      acceptor.accept(socket);
      // A thread per connection: a kept-alive client must not hold the others off.
      std::thread([s = std::move(socket), pod, node, redis]() mutable {
        Serve(std::move(s), pod, node, redis);
      }).detach();
    }
  } catch (const std::exception& e) {
    std::cerr << "tug-web: " << e.what() << "\n";
    return 1;
  }
}
