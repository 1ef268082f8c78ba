// tugd's HTTP server: asynchronous (Boost.Beast underneath, kept out of this header),
// keep-alive, many connections at once on one io_context thread. A handler gets the parsed
// request and a callback to answer it, later if it must (a write waits for Raft); a request
// body over the limit is answered 413 without reaching the handler.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace boost::asio {
class io_context;
}

namespace tug::net {

struct HttpRequest {
  std::string method;                          // "GET", "POST", ...
  std::string target;                          // as sent: path and query
  std::string path;                            // percent-decoded path without the query
  std::map<std::string, std::string> query;    // decoded; a repeated key keeps the last
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string remote;  // peer address, for logs

  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
  std::string Query(const std::string& key) const {
    auto it = query.find(key);
    return it == query.end() ? std::string() : it->second;
  }
};

// The sending end of a streamed (chunked) response, for watches. Used on the io thread.
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  // Queues a chunk; false once the client is gone or the stream ended (stop producing).
  virtual bool Write(std::string chunk) = 0;
  // Ends the response (the last chunk); the connection then serves the next request.
  virtual void End() = 0;
  virtual bool closed() const = 0;
  // Called once when the stream closes, whoever closed it (to unregister a watcher).
  virtual void OnClose(std::function<void()> f) = 0;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool close = false;  // ask the client to reconnect (e.g. this server is shutting down)
  // If set, the body is streamed: the headers go out with chunked encoding and this is
  // called with the stream to write to. A client that reads too slowly (more than a few MiB
  // queued) is disconnected rather than letting the queue grow without bound.
  std::function<void(std::shared_ptr<ResponseStream>)> stream;
};

using Respond = std::function<void(HttpResponse)>;
using Handler = std::function<void(HttpRequest, Respond)>;

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, Handler handler, uint64_t body_limit);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds "host:port"; the error names the address. Port 0 picks a free port (see port()).
  Status Listen(const std::string& addr);
  uint16_t port() const;
  // Stops taking new connections; existing ones finish their current request, and every
  // further answer asks the client to reconnect elsewhere.
  void StopAccepting();
  // Closes everything.
  void Stop();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// An error in the Kubernetes Status shape ({"kind":"Status","status":"Failure","code":...}).
HttpResponse StatusResponse(int code, const std::string& reason, const std::string& message);

// Percent-decodes a URL component ('+' stays '+': only query strings from forms use it).
std::string UrlDecode(const std::string& s);

}  // namespace tug::net
