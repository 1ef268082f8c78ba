// tugd: a control-plane member. Serves the HTTP API on --api-addr, talks Raft with its peers
// on --peer-addr, keeps everything under --data-dir. SIGTERM or SIGINT is a planned stop:
// a leader hands leadership over first, pending requests finish, the log is flushed.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <boost/asio.hpp>
#include <cstdio>
#include <memory>

#include "base/host_port.h"
#include "controlplane/api_server.h"
#include "net/http_server.h"
#include "net/tls_terminator.h"
#include "raftstore/node.h"

namespace {

int Fail(const std::string& why) {
  std::fprintf(stderr, "tugd: %s\n", why.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tugd: a Tug control-plane member (Raft-replicated store and API server)"};
  tug::store::NodeOptions o;
  std::string initial_cluster, token_file, log_level = "info";
  std::string tls_addr, tls_cert, tls_key;
  int node_grace_ms = 5000;
  std::string cluster_cidr = "10.244.0.0/16", service_cidr = "10.96.0.0/16";
  bool run_controllers = true;
  uint64_t max_request_bytes = 3 << 20;
  app.add_option("--name", o.name, "this member's name in --initial-cluster")->required();
  app.add_option("--data-dir", o.data_dir, "where the WAL, snapshots and token live")->required();
  app.add_option("--peer-addr", o.peer_addr, "ip:port for Raft traffic from the other members")
      ->required();
  app.add_option("--api-addr", o.api_addr, "ip:port of the HTTP API")
      ->default_val("127.0.0.1:7101");
  app.add_option("--initial-cluster", initial_cluster,
                 "every member: name=ip:port,... (peer addresses)")
      ->required();
  app.add_option("--heartbeat-ms", o.heartbeat_ms, "Raft heartbeat interval")->default_val(100);
  app.add_option("--election-ms", o.election_ms, "Raft election timeout (minimum)")
      ->default_val(1000);
  app.add_option("--node-grace-ms", node_grace_ms,
                 "heartbeat silence before a worker node is NotReady")
      ->default_val(5000);
  app.add_option("--cluster-cidr", cluster_cidr,
                 "the pods' addresses: every Node gets a /24 of it as spec.podCIDR")
      ->default_val("10.244.0.0/16");
  app.add_option("--service-cidr", service_cidr, "the Services' cluster IPs")
      ->default_val("10.96.0.0/16");
  app.add_option("--run-controllers", run_controllers,
                 "run the controllers (deployments, scheduler, node lifecycle) while leading; "
                 "false serves the API only")
      ->default_val(true);
  app.add_option("--token-file", token_file,
                 "bearer token file (default: generated in the data dir)");
  auto* tls_addr_opt = app.add_option(
      "--tls-addr", tls_addr,
      "ip:port of the same API over HTTPS, as kubectl needs (it sends tokens only over TLS)");
  auto* cert_opt = app.add_option("--tls-cert", tls_cert,
                                  "PEM certificate chain for --tls-addr: the server's "
                                  "certificate first, then its CA");
  auto* key_opt = app.add_option("--tls-key", tls_key, "PEM private key of --tls-cert");
  tls_addr_opt->needs(cert_opt)->needs(key_opt);
  cert_opt->needs(tls_addr_opt);
  key_opt->needs(tls_addr_opt);
  app.add_option("--snapshot-entries", o.snapshot_entries, "applied entries between snapshots")
      ->default_val(10000);
  app.add_option("--request-timeout-ms", o.request_timeout_ms,
                 "bound on every request; without a quorum requests fail with 503 after it")
      ->default_val(5000);
  app.add_option("--max-request-bytes", max_request_bytes, "larger request bodies get 413")
      ->default_val(3 << 20);
  app.add_option("--history-events", o.history_limit,
                 "changes kept for watches and reads at older revisions; older ones are compacted")
      ->default_val(100000);
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->default_val("info");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  spdlog::set_level(spdlog::level::from_str(log_level));
  // Every line reaches the log at once: a member killed with SIGKILL loses nothing it logged.
  spdlog::flush_on(spdlog::level::trace);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [" + o.name + "] %v");

  auto members = tug::store::ParseInitialCluster(initial_cluster);
  if (!members.ok()) return Fail(members.status().message());
  o.initial_cluster = members.value();
  if (o.snapshot_entries == 0) return Fail("--snapshot-entries must be positive");
  if (o.request_timeout_ms <= 0) return Fail("--request-timeout-ms must be positive");
  if (node_grace_ms <= 0) return Fail("--node-grace-ms must be positive");
  // Keep a tail of entries before each snapshot for followers that are only a little behind.
  o.snapshot_retain = std::min<uint64_t>(o.snapshot_entries / 2, 5000);

  boost::asio::io_context io(1);
  auto node = tug::store::RaftNode::Open(io, o);
  if (!node.ok()) return Fail(node.status().message());
  tug::store::RaftNode& n = *node.value();
  tug::cp::ControllerOptions controllers;
  controllers.node_grace_ms = node_grace_ms;
  controllers.enabled = run_controllers;
  controllers.cluster_cidr = cluster_cidr;
  controllers.service_cidr = service_cidr;
  auto api = tug::cp::ApiServer::Create(io, n, o.data_dir, token_file, controllers);
  if (!api.ok()) return Fail(api.status().message());
  tug::cp::ApiServer& server = *api.value();

  tug::net::HttpServer http(
      io,
      [&server](tug::net::HttpRequest req, tug::net::Respond respond) {
        server.Handle(std::move(req), std::move(respond));
      },
      max_request_bytes);
  if (auto s = http.Listen(o.api_addr); !s) return Fail(s.message());
  // HTTPS: TLS terminated here and relayed to the HTTP server above, which answers both.
  std::unique_ptr<tug::net::TlsTerminator> https;
  if (!tls_addr.empty()) {
    https = std::make_unique<tug::net::TlsTerminator>(io);
    if (auto s = https->UseCertificate(tls_cert, tls_key); !s) return Fail(s.message());
    auto ca = tug::net::TlsTrustAnchor(tls_cert);
    if (!ca.ok()) return Fail(ca.status().message());
    std::string api_host = tug::HostOf(o.api_addr) + ":";
    std::string backend = tug::net::LocalAddress(api_host + std::to_string(http.port()));
    if (auto s = https->Listen(tls_addr, backend); !s) return Fail(s.message());
    // The port bound (which --tls-addr may leave to the kernel with :0).
    std::string bound = tug::HostOf(tls_addr) + ":" + std::to_string(https->port());
    server.SetHttpsEndpoint(tug::net::HttpsUrl(bound, o.api_addr), ca.value());
  }
  if (auto s = n.Start(); !s) return Fail(s.message());
  server.Start();
  spdlog::info("serving the API on {}{} and peers on {}", o.api_addr,
               tls_addr.empty() ? "" : " (HTTPS on " + tls_addr + ")", o.peer_addr);
  if (server.auth().fixed()) {
    spdlog::info("clients authenticate with the token in {}", server.auth().path());
  } else {
    spdlog::info("clients authenticate with the cluster token, saved in {} once known",
                 server.auth().path());
  }

  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: planned stop", sig);
    http.StopAccepting();
    if (https) https->StopAccepting();
    n.Shutdown([&] {
      server.Stop();
      http.Stop();
      if (https) https->Stop();
      io.stop();
    });
  });
  // Crash-only: errors a request can cause are values, answered by its handler (a throw
  // while routing one is caught at ApiServer::Handle). An exception that reaches this loop is
  // a bug in code running on the io thread (Raft, the WAL, the store, timers, a store
  // callback) that may have left state half-updated. Going on could vote, acknowledge writes
  // or serve reads from that state, so stop and let a restart recover from the WAL and
  // snapshots, as etcd does.
  try {
    io.run();
  } catch (const std::exception& e) {
    spdlog::critical("internal error: {}; stopping (a restart recovers from the data dir)",
                     e.what());
    spdlog::shutdown();
    std::abort();
  }
  return 0;
}
