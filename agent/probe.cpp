#include "agent/probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "agent/runtime/process_runtime.h"
#include "net/http_client.h"

namespace tug::agent {

namespace {

using nlohmann::json;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Result<int64_t> Seconds(const json& probe, const char* key, int64_t dflt, int64_t min) {
  if (!probe.contains(key)) return dflt;
  const json& v = probe[key];
  if (!v.is_number_integer() || v.get<int64_t>() < min || v.get<int64_t>() > 86400)
    return Status::Invalid(std::string(key) + " must be a whole number from " +
                           std::to_string(min) + " to 86400");
  return v.get<int64_t>();
}

std::string PortOf(const json& handler) {
  if (!handler.contains("port")) return "";
  const json& p = handler["port"];
  if (p.is_number_integer()) return std::to_string(p.get<int64_t>());
  return p.is_string() ? p.get<std::string>() : "";
}

// The host port a probe's port (number or name) maps to.
Result<int> HostPort(const ProbeSpec& p, const ProbeTarget& t) {
  if (!p.port.empty() && std::isdigit(static_cast<unsigned char>(p.port[0]))) {
    int n = std::atoi(p.port.c_str());
    auto it = t.ports.find(n);
    return it == t.ports.end() ? n : it->second;  // an undeclared port is used as it is
  }
  auto it = t.named_ports.find(p.port);
  if (it == t.named_ports.end())
    return Status::Invalid("the probe names port \"" + p.port +
                           "\", which the container does not declare");
  return it->second;
}

ProbeResult Tcp(const ProbeSpec& p, int port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  if (::getaddrinfo(p.host.c_str(), service.c_str(), &hints, &res) != 0 || res == nullptr)
    return {false, "cannot resolve " + p.host};
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ProbeResult r{false, ""};
  if (fd < 0) {
    r.message = std::string("socket: ") + std::strerror(errno);
  } else if (::connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
    r.success = true;
  } else if (errno != EINPROGRESS) {
    r.message = "dial tcp " + p.host + ":" + service + ": " + std::strerror(errno);
  } else {
    pollfd pfd{fd, POLLOUT, 0};
    int n = ::poll(&pfd, 1, static_cast<int>(p.timeout_ms));
    int err = 0;
    socklen_t len = sizeof(err);
    if (n == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
      r.success = true;
    } else {
      r.message = "dial tcp " + p.host + ":" + service + ": " +
                  (n == 0 ? std::string("i/o timeout") : std::strerror(err ? err : errno));
    }
  }
  if (fd >= 0) ::close(fd);
  ::freeaddrinfo(res);
  return r;
}

ProbeResult Http(const ProbeSpec& p, int port) {
  if (p.scheme != "HTTP")
    return {false, "scheme " + p.scheme + " is not supported by tug-agent's probes"};
  std::string where = p.host + ":" + std::to_string(port);
  net::HttpClient client({where});
  net::RequestOptions o;
  o.timeout = std::chrono::milliseconds(p.timeout_ms);
  o.idempotent = true;
  for (const auto& [k, v] : p.http_headers)
    o.headers[k] = v;
  auto r = client.Do("GET", p.path.empty() ? "/" : p.path, "", o);
  if (!r.ok()) return {false, "Get \"http://" + where + p.path + "\": " + r.status().message()};
  if (r->status >= 200 && r->status < 400) return {true, ""};
  return {false, "HTTP probe failed with statuscode: " + std::to_string(r->status)};
}

ProbeResult Exec(const ProbeSpec& p, const ProbeTarget& t) {
  if (p.command.empty()) return {false, "the exec probe has no command"};
  std::vector<std::string> argv = t.exec_prefix;
  argv.insert(argv.end(), p.command.begin(), p.command.end());
  // Inside a container the runtime's tool finds the command there, with the container's own
  // environment; on the host, the container's environment finds it.
  std::vector<std::string> env =
      t.exec_prefix.empty() ? t.env : std::vector<std::string>{"PATH=" + std::string(kDefaultPath)};
  std::string work_dir = t.exec_prefix.empty() ? t.work_dir : "/";
  auto exe = ResolveExecutable(argv[0], env, work_dir);
  if (!exe.ok()) return {false, exe.status().message()};
  SpawnOptions so;
  so.new_group = true;  // killed whole on timeout
  so.work_dir = work_dir;
  auto spawned = SpawnProcess(exe.value(), argv, env, so);
  if (!spawned.ok())
    return {false, "cannot run " + p.command[0] + ": " + spawned.status().message()};
  pid_t pid = spawned.value();
  int64_t deadline = NowMs() + p.timeout_ms;
  int st = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &st, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return {false, "lost the probe's process"};
    if (NowMs() >= deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      return {false, "command timed out after " + std::to_string(p.timeout_ms) + " ms"};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return {true, ""};
  return {false, "command exited with " + std::string(WIFEXITED(st) ? "code " : "signal ") +
                     std::to_string(WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st))};
}

}  // namespace

Result<ProbeSpec> ParseProbe(const json& probe) {
  if (!probe.is_object()) return Status::Invalid("a probe must be an object");
  ProbeSpec p;
  int handlers = 0;
  if (probe.contains("httpGet") && probe["httpGet"].is_object()) {
    ++handlers;
    const json& h = probe["httpGet"];
    p.kind = ProbeSpec::Kind::kHttpGet;
    p.port = PortOf(h);
    if (h.contains("path") && h["path"].is_string()) p.path = h["path"].get<std::string>();
    if (p.path.empty() || p.path[0] != '/') p.path = "/" + p.path;
    if (h.contains("host") && h["host"].is_string()) p.host = h["host"].get<std::string>();
    if (h.contains("scheme") && h["scheme"].is_string()) p.scheme = h["scheme"].get<std::string>();
    if (h.contains("httpHeaders") && h["httpHeaders"].is_array()) {
      for (const auto& hh : h["httpHeaders"]) {
        if (hh.is_object() && hh.contains("name") && hh["name"].is_string() &&
            hh.contains("value") && hh["value"].is_string())
          p.http_headers.emplace_back(hh["name"].get<std::string>(),
                                      hh["value"].get<std::string>());
      }
    }
    if (p.port.empty()) return Status::Invalid("httpGet.port: Required value");
  }
  if (probe.contains("tcpSocket") && probe["tcpSocket"].is_object()) {
    ++handlers;
    const json& h = probe["tcpSocket"];
    p.kind = ProbeSpec::Kind::kTcpSocket;
    p.port = PortOf(h);
    if (h.contains("host") && h["host"].is_string()) p.host = h["host"].get<std::string>();
    if (p.port.empty()) return Status::Invalid("tcpSocket.port: Required value");
  }
  if (probe.contains("exec") && probe["exec"].is_object()) {
    ++handlers;
    p.kind = ProbeSpec::Kind::kExec;
    const json& cmd = probe["exec"].contains("command") ? probe["exec"]["command"] : json();
    if (!cmd.is_array() || cmd.empty()) return Status::Invalid("exec.command: Required value");
    for (const auto& a : cmd) {
      if (!a.is_string()) return Status::Invalid("exec.command: must be a list of strings");
      p.command.push_back(a.get<std::string>());
    }
  }
  if (handlers != 1)
    return Status::Invalid("a probe needs exactly one of httpGet, tcpSocket and exec");
  auto delay = Seconds(probe, "initialDelaySeconds", 0, 0);
  auto period = Seconds(probe, "periodSeconds", 10, 1);
  auto timeout = Seconds(probe, "timeoutSeconds", 1, 1);
  auto failures = Seconds(probe, "failureThreshold", 3, 1);
  auto successes = Seconds(probe, "successThreshold", 1, 1);
  for (const auto* r : {&delay, &period, &timeout, &failures, &successes}) {
    if (!r->ok()) return r->status();
  }
  p.initial_delay_ms = delay.value() * 1000;
  p.period_ms = period.value() * 1000;
  p.timeout_ms = timeout.value() * 1000;
  p.failure_threshold = static_cast<int>(failures.value());
  p.success_threshold = static_cast<int>(successes.value());
  return p;
}

ProbeResult RunProbe(const ProbeSpec& spec, const ProbeTarget& t) {
  if (spec.kind == ProbeSpec::Kind::kExec) return Exec(spec, t);
  auto port = HostPort(spec, t);
  if (!port.ok()) return {false, port.status().message()};
  // As in Kubernetes, the host defaults to the pod's address.
  ProbeSpec p = spec;
  if (p.host.empty()) p.host = t.host.empty() ? "127.0.0.1" : t.host;
  if (p.kind == ProbeSpec::Kind::kTcpSocket) return Tcp(p, port.value());
  return Http(p, port.value());
}

}  // namespace tug::agent
