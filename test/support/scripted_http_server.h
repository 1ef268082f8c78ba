// A plain HTTP server on 127.0.0.1 whose every answer the test writes byte for byte: for the
// registries a test cannot get from a real one (one that lies about a digest, hangs up in the
// middle of a blob, or hands out bearer tokens). One thread, one connection at a time,
// `Connection: close` semantics; stopped and joined when destroyed.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace tug::testing {

struct ScriptedRequest {
  std::string method, target;
  std::map<std::string, std::string> headers;  // names lower case
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

class ScriptedHttpServer {
 public:
  // The handler returns the raw bytes to send (status line, headers, body); the connection is
  // closed after them, so a short body is a transfer that broke off.
  using Handler = std::function<std::string(const ScriptedRequest&)>;

  explicit ScriptedHttpServer(Handler h) : handler_(std::move(h)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 16);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~ScriptedHttpServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }

  std::string HostPort() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string Url() const { return "http://" + HostPort(); }
  // Requests seen so far, by target.
  int Count(const std::string& target) {
    std::lock_guard<std::mutex> l(mu_);
    return counts_[target];
  }

  static std::string Response(int status, const std::string& body,
                              const std::map<std::string, std::string>& headers = {}) {
    std::string r = "HTTP/1.1 " + std::to_string(status) + " X\r\n";
    for (const auto& [k, v] : headers)
      r += k + ": " + v + "\r\n";
    r += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
    return r + body;
  }

 private:
  void Serve() {
    while (!stop_) {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) {
        if (stop_) return;
        continue;
      }
      std::string in;
      char buf[4096];
      while (in.find("\r\n\r\n") == std::string::npos && in.size() < 65536) {
        ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        in.append(buf, static_cast<size_t>(n));
      }
      ScriptedRequest req;
      size_t sp1 = in.find(' '), sp2 = in.find(' ', sp1 + 1);
      if (sp1 != std::string::npos && sp2 != std::string::npos) {
        req.method = in.substr(0, sp1);
        req.target = in.substr(sp1 + 1, sp2 - sp1 - 1);
      }
      size_t pos = in.find("\r\n");
      while (pos != std::string::npos) {
        size_t next = in.find("\r\n", pos + 2);
        if (next == std::string::npos || next == pos + 2) break;
        std::string line = in.substr(pos + 2, next - pos - 2);
        size_t colon = line.find(':');
        if (colon != std::string::npos) {
          std::string k = line.substr(0, colon);
          for (auto& ch : k)
            ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
          size_t v = line.find_first_not_of(' ', colon + 1);
          req.headers[k] = v == std::string::npos ? "" : line.substr(v);
        }
        pos = next;
      }
      {
        std::lock_guard<std::mutex> l(mu_);
        ++counts_[req.target];
      }
      std::string out = handler_(req);
      size_t off = 0;
      while (off < out.size()) {
        ssize_t n = ::send(c, out.data() + off, out.size() - off, MSG_NOSIGNAL);
        if (n <= 0) break;
        off += static_cast<size_t>(n);
      }
      ::close(c);
    }
  }

  Handler handler_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::map<std::string, int> counts_;
  std::thread thread_;
};

}  // namespace tug::testing
