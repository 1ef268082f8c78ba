// What every tugctl verb shares: where the cluster is and how to authenticate (flags, then
// the environment, then the config file), the HTTP client that fails over between the
// servers, URL paths of resources, and how errors reach the user (one line on stderr,
// exit code 1).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/resource.h"
#include "base/status.h"
#include "net/http_client.h"

namespace tug::ctl {

// The flags every verb takes.
struct GlobalFlags {
  std::string server;                 // --server URL[,URL...]
  std::string token_file;             // --token-file
  std::string config;                 // --config (default $TUG_CONFIG, then ~/.tug/config)
  std::string ns;                     // -n / --namespace
  std::string request_timeout = "0";  // --request-timeout: per request; 0 = the default
};

// Where to connect, as resolved from flags, environment and config file.
struct Target {
  std::vector<std::string> servers;  // host:port
  std::string token;
  std::string ns = "default";
  bool ns_from_flag = false;
};

// The config file (YAML):
//   server: http://10.0.0.1:7101,http://10.0.0.2:7101   # or a list of URLs
//   token-file: /etc/tug/token                           # or token: <the token>
//   namespace: default
// Each setting is taken from the first of: the flag, the environment (TUG_SERVER,
// TUG_TOKEN), the config file; without any server, http://127.0.0.1:7101. `env` looks up
// environment variables (getenv in the program, a map in tests). Errors name the file.
Result<Target> ResolveTarget(const GlobalFlags& flags,
                             const std::function<std::optional<std::string>(const char*)>& env);

// "30s", "5m", "1h", "250ms", or plain seconds; "0" is zero. Errors say what was expected.
Result<std::chrono::milliseconds> ParseDuration(const std::string& text);

// The message of a Kubernetes Status in `body`, or the body itself (trimmed) if it is not one.
std::string ServerMessage(const std::string& body);
// The same for an answer, saying its HTTP status when the body says nothing.
std::string ServerMessage(const net::HttpResult& r);

// "/apis/apps/v1/namespaces/default/deployments/web/scale". `ns` empty: every namespace (or
// a cluster-scoped kind); `name` empty: the collection.
std::string ResourcePath(const api::ResourceInfo& r, const std::string& ns,
                         const std::string& name = "", const std::string& sub = "");

using net::QueryEscape;

class Ctl {
 public:
  Ctl(std::ostream& out_stream, std::ostream& err_stream) : out(out_stream), err(err_stream) {}

  GlobalFlags flags;
  std::ostream& out;
  std::ostream& err;
  int exit_code = 0;

  // Resolves the target (once) and makes the client. Errors are the user's to fix.
  Status Connect();
  const Target& target() const { return target_; }
  const std::string& ns() const { return target_.ns; }
  net::HttpClient& client() { return *client_; }

  // One request with the CLI's failover policy: retried across servers while they answer
  // 503 (between leaders) until the request timeout; given up quickly when no server can
  // be reached at all.
  Result<net::HttpResult> Request(const std::string& method, const std::string& target,
                                  const std::string& body = "",
                                  const std::string& content_type = "application/json");
  // GET and parse; a non-200 answer is an error with the server's message, and so is an
  // answer that is not a JSON object.
  Result<nlohmann::json> GetJson(const std::string& target);
  std::chrono::milliseconds request_timeout() const { return timeout_; }
  // Whether --request-timeout was given (then it also ends watches and followed logs).
  bool request_timeout_given() const { return timeout_given_; }

  // The objects of kind `r` named `names` in the namespace, in order. Those that do not exist
  // are left out and their "not found" messages appended to `not_found`; any other failure
  // is the error.
  Result<std::vector<nlohmann::json>> GetNamed(const api::ResourceInfo& r,
                                               const std::vector<std::string>& names,
                                               std::vector<std::string>* not_found);

  // Prints "error: <message>" on stderr and returns 1 (the exit code).
  int Fail(const std::string& message);

  // Seconds since the epoch (for ages).
  int64_t Now() const;

 private:
  Target target_;
  std::unique_ptr<net::HttpClient> client_;
  std::chrono::milliseconds timeout_{30000};
  bool timeout_given_ = false;
  bool connected_ = false;
};

}  // namespace tug::ctl
