// A small blocking HTTP/1.1 client for the agent, the CLI, tests and benchmarks: a list of
// servers it fails over between, keep-alive connections, and a timeout on every request.
//
// Failover: a request goes to the server that last answered; on a connection error, or a
// 503 for a request that may be retried, it moves on to the next server, with a short
// back-off once every server has been tried, until the request's deadline. Only idempotent
// requests (Get(), and anything the caller marks RequestOptions::idempotent) are retried after
// they may have reached a server; a POST is retried only when it surely never arrived
// (the connection could not be made).
//
// Not thread-safe: one client per thread.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace tug::net {

struct HttpResult {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string server;                          // which server answered
};

struct RequestOptions {
  std::chrono::milliseconds timeout{10000};  // for the whole request, failovers included
  bool idempotent = false;                   // retry even when it may have been received
  std::string content_type = "application/json";
  std::map<std::string, std::string> headers;
  // Give up after this many rounds in which no server could even be connected to (0: keep
  // trying until the timeout). A CLI uses it to report a cluster that is down at once, while
  // still riding out a 503 from a member that is between leaders.
  int max_unreachable_rounds = 0;
};

class HttpClient {
 public:
  // Servers as "http://host:port" or "host:port".
  explicit HttpClient(std::vector<std::string> servers, std::string bearer_token = "");
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Any HTTP status is a result; only failing to get an answer from every server within the
  // timeout is an error, and its message names the servers tried.
  Result<HttpResult> Do(const std::string& method, const std::string& target,
                        const std::string& body = "", const RequestOptions& o = {});
  Result<HttpResult> Get(const std::string& target, const RequestOptions& o = {}) {
    RequestOptions g = o;
    g.idempotent = true;
    return Do("GET", target, "", g);
  }
  Result<HttpResult> Post(const std::string& target, const std::string& body,
                          const RequestOptions& o = {}) {
    return Do("POST", target, body, o);
  }

  // Sends one request and feeds the response body to `on_data` as it arrives (a watch
  // stream), until the server ends it, `on_data` returns false, or `timeout` passes (then
  // it returns ok: the caller asked for that long). Tries each server once until one
  // connects; uses a connection of its own. A non-200 answer is an error carrying the body.
  Status Stream(const std::string& method, const std::string& target, const std::string& body,
                const std::function<bool(const std::string&)>& on_data,
                std::chrono::milliseconds timeout);

  const std::vector<std::string>& servers() const { return servers_; }
  // Index of the server the next request goes to first.
  size_t current() const { return current_; }

  struct Conn;

 private:
  std::string Tried() const;  // "host:port, host:port" for error messages

  std::vector<std::string> servers_;  // host:port
  std::string token_;
  size_t current_ = 0;
  std::vector<std::unique_ptr<Conn>> conns_;
};

// Percent-encodes a query parameter's value (everything but letters, digits and "-._~").
std::string QueryEscape(const std::string& s);

// "http://127.0.0.1:7101,http://..." -> {"127.0.0.1:7101", ...}
std::vector<std::string> SplitServers(const std::string& list);

}  // namespace tug::net
