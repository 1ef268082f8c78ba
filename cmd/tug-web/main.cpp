// tug-web: the small HTTP server the demo runs as a deployment. It answers every GET with the
// pod and node it runs on (from POD_NAME and NODE_NAME, which the agent sets), so that a user
// can see the replicas and where they are; /healthz answers "ok" for probes.
//
//   tug-web [--port N]      (default: $PORT, which the agent sets to the host port it chose)
//
// One thread, one connection at a time: it serves a demo and tests, not production traffic.
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>

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

void Serve(tcp::socket socket, const std::string& pod, const std::string& node) {
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
    } else {
      res.body() = "hello from " + pod + " on " + node + "\n";
    }
    res.prepare_payload();
    std::cout << req.method_string() << " " << req.target() << " " << res.result_int() << std::endl;
    http::write(socket, res, ec);
    if (ec || !res.keep_alive()) return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string port = Env("PORT", "8080");
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--port" && i + 1 < argc) {
      port = argv[++i];
    } else if (a == "--help" || a == "-h") {
      std::cout << "usage: tug-web [--port N]   (default $PORT, else 8080)\n";
      return 0;
    } else {
      std::cerr << "tug-web: unknown argument " << a << " (usage: tug-web [--port N])\n";
      return 2;
    }
  }
  int port_num = std::atoi(port.c_str());
  if (port_num <= 0 || port_num > 65535) {
    std::cerr << "tug-web: bad port \"" << port << "\"\n";
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  std::string pod = Env("POD_NAME", "<no POD_NAME>"), node = Env("NODE_NAME", "<no NODE_NAME>");
  try {
    asio::io_context io;
    tcp::acceptor acceptor(io, {tcp::v4(), static_cast<unsigned short>(port_num)});
    std::cout << "tug-web: " << pod << " on " << node << " listening on port " << port_num
              << std::endl;
    for (;;) {
      tcp::socket socket(io);
      acceptor.accept(socket);
      Serve(std::move(socket), pod, node);
    }
  } catch (const std::exception& e) {
    std::cerr << "tug-web: " << e.what() << "\n";
    return 1;
  }
}
