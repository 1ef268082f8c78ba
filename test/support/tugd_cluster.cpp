#include "test/support/tugd_cluster.h"

#include "base/base64.h"
#include "test/support/programs.h"
#include "test/support/run_command.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace tug::testing {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string B64(const std::string& in) {
  return Base64Encode(in);
}

std::string UnB64(const std::string& in) {
  return Base64Decode(in).value_or("");
}

// A port free now, below the kernel's ephemeral range (32768 and up by default): a port the
// kernel picked for us could be handed to some client's outgoing connection before the member
// binds it, and the member would fail to start.
nlohmann::json GetJson(net::HttpClient& c, const std::string& path) {
  net::RequestOptions o;
  o.timeout = std::chrono::seconds(5);
  auto r = c.Get(path, o);
  if (!r.ok() || r->status != 200) return nlohmann::json();
  return nlohmann::json::parse(r->body, nullptr, false);
}

int SendJson(net::HttpClient& c, const std::string& method, const std::string& path,
             const nlohmann::json& body, const std::string& content_type) {
  net::RequestOptions o;
  o.timeout = std::chrono::seconds(5);
  o.content_type = content_type;
  o.idempotent = method != "POST";
  auto r = c.Do(method, path, body.is_null() ? "" : body.dump(), o);
  return r.ok() ? r->status : 0;
}

pid_t SpawnWithLog(std::vector<std::string> args, const std::string& log) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

int FreePort() {
  static std::mutex mu;
  static std::mt19937 rng(static_cast<unsigned>(::getpid()) ^
                          static_cast<unsigned>(Clock::now().time_since_epoch().count()));
  // A port is free when probed, but its user binds it later: never hand out one twice (two
  // members given the same peer port made one refuse to start, and the others' messages for it
  // reach the wrong member: no leader for 30 s).
  static std::set<int> given;
  std::lock_guard<std::mutex> l(mu);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    int port = 20000 + static_cast<int>(rng() % 12000);
    if (given.count(port)) continue;
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    ::close(fd);
    if (ok) {
      given.insert(port);
      return port;
    }
  }
  throw std::runtime_error("cannot find a free port in 20000-32000");
}

namespace {

void Openssl(std::vector<std::string> args) {
  args.insert(args.begin(), "openssl");
  auto r = RunCommand(args);
  if (r.exit_code != 0) {
    std::string cmd;
    for (const auto& a : args)
      cmd += a + " ";
    throw std::runtime_error(cmd + "failed: " + r.err);
  }
}

// As scripts/local-cluster.sh does: a CA, a server certificate it signs, and the chain file.
void MakeCertificates(const std::string& dir) {
  const std::vector<std::string> ec = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                       "-nodes"};
  auto with = [&](std::vector<std::string> a) {
    a.insert(a.begin() + 1, ec.begin(), ec.end());
    return a;
  };
  Openssl(with({"req", "-x509", "-keyout", dir + "/ca.key", "-out", dir + "/ca.crt", "-days", "30",
                "-subj", "/CN=tug-test-ca"}));
  Openssl(with(
      {"req", "-keyout", dir + "/server.key", "-out", dir + "/server.csr", "-subj", "/CN=tugd"}));
  std::ofstream(dir + "/server.ext") << "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                                        "extendedKeyUsage=serverAuth\n";
  Openssl({"x509", "-req", "-in", dir + "/server.csr", "-CA", dir + "/ca.crt", "-CAkey",
           dir + "/ca.key", "-set_serial", "4242", "-days", "30", "-extfile", dir + "/server.ext",
           "-out", dir + "/server.crt"});
  std::ifstream leaf(dir + "/server.crt"), ca(dir + "/ca.crt");
  std::ofstream chain(dir + "/server-chain.crt");
  chain << leaf.rdbuf() << ca.rdbuf();
}

}  // namespace

TugdCluster::TugdCluster(ClusterOptions o) : opt_(std::move(o)) {
  char tmpl[] = "/tmp/tugd-test-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  root_ = tmpl;
  for (int i = 0; i < opt_.members; ++i) {
    api_ports_.push_back(FreePort());
    peer_ports_.push_back(FreePort());
    tls_ports_.push_back(opt_.tls ? FreePort() : 0);
    pids_.push_back(-1);
  }
  if (opt_.tls) MakeCertificates(root_);
  if (opt_.token_file) {
    std::ofstream(root_ + "/token")
        << "test-" << std::to_string(::getpid()) << "-" << std::to_string(api_ports_[0]) << "\n";
  }
}

std::string TugdCluster::Token() const {
  for (int i = 0; i < (opt_.token_file ? 1 : opt_.members); ++i) {
    std::ifstream f(opt_.token_file ? root_ + "/token" : DataDir(i) + "/token");
    std::string t;
    if (f >> t) return t;
  }
  return "";
}

TugdCluster::~TugdCluster() {
  for (int i = 0; i < opt_.members; ++i) {
    if (pids_[static_cast<size_t>(i)] > 0) Kill(i);
  }
  std::error_code ec;
  if (std::getenv("TUG_KEEP_TEST_DIRS") == nullptr) fs::remove_all(root_, ec);
}

std::string TugdCluster::TokenFile() const {
  return opt_.token_file ? root_ + "/token" : "";
}

std::string TugdCluster::Api(int i) const {
  return "127.0.0.1:" + std::to_string(api_ports_[static_cast<size_t>(i)]);
}

std::string TugdCluster::TlsApi(int i) const {
  return "127.0.0.1:" + std::to_string(tls_ports_[static_cast<size_t>(i)]);
}

std::string TugdCluster::CaFile() const {
  return root_ + "/ca.crt";
}

std::vector<std::string> TugdCluster::Apis() const {
  std::vector<std::string> out;
  for (int i = 0; i < opt_.members; ++i)
    out.push_back(Api(i));
  return out;
}

std::string TugdCluster::DataDir(int i) const {
  return root_ + "/" + Name(i);
}
std::string TugdCluster::LogPath(int i) const {
  return root_ + "/" + Name(i) + ".log";
}

std::string TugdCluster::ReadLog(int i) const {
  std::ifstream f(LogPath(i));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

pid_t TugdCluster::Start(int i) {
  std::string initial;
  for (int j = 0; j < opt_.members; ++j) {
    initial += (j ? "," : "") + Name(j) +
               "=127.0.0.1:" + std::to_string(peer_ports_[static_cast<size_t>(j)]);
  }
  std::vector<std::string> args = {
      tug::testing::Program("tugd"),
      "--name",
      Name(i),
      "--data-dir",
      DataDir(i),
      "--peer-addr",
      "127.0.0.1:" + std::to_string(peer_ports_[static_cast<size_t>(i)]),
      "--api-addr",
      Api(i),
      "--initial-cluster",
      initial,
      "--heartbeat-ms",
      std::to_string(opt_.heartbeat_ms),
      "--election-ms",
      std::to_string(opt_.election_ms),
      "--request-timeout-ms",
      std::to_string(opt_.request_timeout_ms),
      "--snapshot-entries",
      std::to_string(opt_.snapshot_entries)};
  if (opt_.token_file) {
    args.push_back("--token-file");
    args.push_back(root_ + "/token");
  }
  if (opt_.tls) {
    args.insert(args.end(), {"--tls-addr", TlsApi(i), "--tls-cert", root_ + "/server-chain.crt",
                             "--tls-key", root_ + "/server.key"});
  }
  args.insert(args.end(), opt_.extra_args.begin(), opt_.extra_args.end());
  pid_t pid = SpawnWithLog(args, LogPath(i));
  pids_[static_cast<size_t>(i)] = pid;
  return pid;
}

void TugdCluster::StartAll() {
  for (int i = 0; i < opt_.members; ++i)
    Start(i);
}

void TugdCluster::Signal(int i, int sig) {
  pid_t p = pids_[static_cast<size_t>(i)];
  if (p > 0) ::kill(p, sig);
}

void TugdCluster::Kill(int i) {
  pid_t p = pids_[static_cast<size_t>(i)];
  if (p <= 0) return;
  ::kill(p, SIGKILL);
  int st = 0;
  ::waitpid(p, &st, 0);
  pids_[static_cast<size_t>(i)] = -1;
}

std::optional<int> TugdCluster::WaitExit(int i, std::chrono::milliseconds timeout) {
  pid_t p = pids_[static_cast<size_t>(i)];
  if (p <= 0) return std::nullopt;
  std::optional<int> code;
  WaitFor(
      [&] {
        int st = 0;
        if (::waitpid(p, &st, WNOHANG) == p) {
          code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
          return true;
        }
        return false;
      },
      timeout);
  if (code) pids_[static_cast<size_t>(i)] = -1;
  return code;
}

std::optional<std::string> TugdCluster::StatusJson(int i) {
  if (!Running(i)) return std::nullopt;
  net::HttpClient c({Api(i)}, Token());
  net::RequestOptions o;
  o.timeout = std::chrono::milliseconds(2000);
  auto r = c.Get("/cluster/status", o);
  if (!r.ok() || r->status != 200) return std::nullopt;
  return r->body;
}

int TugdCluster::Leader() {
  std::optional<std::string> leader;
  uint64_t term = 0;
  for (int i = 0; i < opt_.members; ++i) {
    if (!Running(i)) continue;
    auto s = StatusJson(i);
    if (!s) return -1;
    auto j = nlohmann::json::parse(*s, nullptr, false);
    if (j.is_discarded() || j["leader"].get<std::string>().empty()) return -1;
    if (!leader) {
      leader = j["leader"].get<std::string>();
      term = j["term"].get<uint64_t>();
    } else if (*leader != j["leader"].get<std::string>() || term != j["term"].get<uint64_t>()) {
      return -1;
    }
  }
  if (!leader) return -1;
  for (int i = 0; i < opt_.members; ++i) {
    if (Name(i) == *leader) return Running(i) ? i : -1;
  }
  return -1;
}

int TugdCluster::WaitLeader(std::chrono::milliseconds timeout) {
  int l = -1;
  if (WaitFor([&] { return (l = Leader()) >= 0; }, timeout)) return l;
  // Say why in the test's output: the members' last log lines.
  for (int i = 0; i < opt_.members; ++i) {
    std::string log = ReadLog(i);
    size_t from = log.size() > 2000 ? log.size() - 2000 : 0;
    std::fprintf(stderr, "--- no leader: last lines of %s (%s) ---\n%s\n", Name(i).c_str(),
                 Running(i) ? "started" : "not running", log.substr(from).c_str());
  }
  return -1;
}

}  // namespace tug::testing
