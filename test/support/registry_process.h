// A real OCI registry for tests: Debian's docker-registry (distribution v2) on 127.0.0.1 with
// its storage in a temporary directory, stopped by its PID when the test ends.
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "net/http_client.h"
#include "test/support/temp_dir.h"

namespace tug::testing {

constexpr const char* kRegistryBinary = "/usr/bin/docker-registry";

inline bool HaveRegistry() {
  return ::access(kRegistryBinary, X_OK) == 0;
}

struct RegistryProcessOptions {
  std::string storage;            // the storage directory ("": its own)
  std::string tls_cert, tls_key;  // serve HTTPS with these (PEM)
  std::string htpasswd;           // ask for basic auth checked against this file (bcrypt)
};

class RegistryProcess {
 public:
  explicit RegistryProcess(RegistryProcessOptions opts = {}) : dir_("tug-registry") {
    port_ = FreePort();
    std::ofstream conf(dir_.path + "/config.yml");
    conf << "version: 0.1\n"
            "log:\n  level: warn\n"
            "storage:\n  filesystem:\n    rootdirectory: "
         << (opts.storage.empty() ? dir_.path + "/data" : opts.storage)
         << "\n  delete:\n    enabled: true\n"
         << "http:\n  addr: 127.0.0.1:" << port_ << "\n";
    if (!opts.tls_cert.empty())
      conf << "  tls:\n    certificate: " << opts.tls_cert << "\n    key: " << opts.tls_key << "\n";
    if (!opts.htpasswd.empty())
      conf << "auth:\n  htpasswd:\n    realm: tug-test\n    path: " << opts.htpasswd << "\n";
    conf.close();
    pid_ = ::fork();
    if (pid_ == 0) {
      std::string log = dir_.path + "/registry.log";
      FILE* f = std::fopen(log.c_str(), "w");
      if (f) {
        ::dup2(fileno(f), 1);
        ::dup2(fileno(f), 2);
      }
      std::string config = dir_.path + "/config.yml";
      ::execl(kRegistryBinary, kRegistryBinary, "serve", config.c_str(), nullptr);
      ::_exit(127);
    }
    // Ready when /v2/ answers anything (401 behind auth; 400 when it speaks TLS and this
    // client does not); a deadline, not a sleep.
    net::HttpClient c({HostPort()});
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      net::RequestOptions o;
      o.timeout = std::chrono::milliseconds(500);
      o.max_unreachable_rounds = 1;
      auto r = c.Get("/v2/", o);
      if (r.ok()) {
        ready_ = true;
        return;
      }
      int st;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling interval
    }
  }
  ~RegistryProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int st;
      ::waitpid(pid_, &st, 0);
    }
  }
  RegistryProcess(const RegistryProcess&) = delete;
  RegistryProcess& operator=(const RegistryProcess&) = delete;

  bool ready() const { return ready_; }
  std::string HostPort() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string Log() const {
    std::ifstream in(dir_.path + "/registry.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  static int FreePort() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
  }

  TempDir dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  bool ready_ = false;
};

}  // namespace tug::testing
