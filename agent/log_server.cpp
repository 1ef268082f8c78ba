#include "agent/log_server.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <memory>

#include "agent/log_file.h"
#include "net/bearer.h"

namespace tug::agent {

namespace {

constexpr auto kFollowPoll = std::chrono::milliseconds(200);

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (end > start) parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

int64_t FileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

// Streams what is appended to a log after `offset`, polling; a file that got shorter was
// rotated (copied and truncated), so reading starts again at its beginning.
struct Follower : std::enable_shared_from_this<Follower> {
  boost::asio::steady_timer timer;
  std::shared_ptr<net::ResponseStream> out;
  std::string ns, pod, container, path;
  int64_t offset = 0;
  LogLookup lookup;

  Follower(boost::asio::io_context& io) : timer(io) {}

  void Poll() {
    if (out->closed()) return;
    int64_t size = FileSize(path);
    if (size < offset) offset = 0;
    if (size > offset) {
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd >= 0) {
        std::string chunk(static_cast<size_t>(std::min<int64_t>(size - offset, 1 << 20)), '\0');
        ssize_t n = ::pread(fd, chunk.data(), chunk.size(), offset);
        ::close(fd);
        if (n > 0) {
          chunk.resize(static_cast<size_t>(n));
          offset += n;
          if (!out->Write(std::move(chunk))) return;
        }
      }
    }
    // The pod left this node: its log is complete.
    auto still = lookup(ns, pod, container);
    if (!still.ok() || still.value() != path) {
      out->End();
      return;
    }
    timer.expires_after(kFollowPoll);
    timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->Poll();
    });
  }
};

net::HttpResponse Text(int code, const std::string& body) {
  net::HttpResponse r;
  r.status = code;
  r.content_type = "text/plain; charset=utf-8";
  r.body = body;
  return r;
}

}  // namespace

net::Handler MakeLogHandler(boost::asio::io_context& io, LogLookup lookup, LogTail read_tail,
                            std::string token) {
  return [&io, lookup, read_tail, token](net::HttpRequest req, net::Respond respond) {
    if (req.path == "/healthz") {
      respond(Text(200, "ok"));
      return;
    }
    if (!token.empty() && !net::BearerMatches(req.Header("authorization"), token)) {
      respond(
          net::StatusResponse(401, "Unauthorized", "the agent wants the cluster's bearer token"));
      return;
    }
    auto parts = Split(req.path);
    if (req.method != "GET" || parts.size() < 3 || parts.size() > 4 ||
        parts[0] != "containerLogs") {
      respond(net::StatusResponse(
          404, "NotFound", "the agent serves GET /containerLogs/{namespace}/{pod}[/{container}]"));
      return;
    }
    std::string container = parts.size() == 4 ? parts[3] : req.Query("container");
    auto path = lookup(parts[1], parts[2], container);
    if (!path.ok()) {
      int code = path.status().code() == Status::Code::kNotFound ? 404 : 400;
      respond(net::StatusResponse(code, code == 404 ? "NotFound" : "BadRequest",
                                  path.status().message()));
      return;
    }
    int tail = -1;
    if (!req.Query("tailLines").empty()) {
      try {
        tail = std::stoi(req.Query("tailLines"));
      } catch (...) {
        respond(net::StatusResponse(400, "BadRequest", "tailLines must be a number"));
        return;
      }
    }
    auto text = read_tail(parts[1], parts[2], container, tail);
    if (!text.ok()) {
      respond(net::StatusResponse(500, "InternalError", text.status().message()));
      return;
    }
    if (req.Query("follow") != "true") {
      respond(Text(200, text.value()));
      return;
    }
    auto f = std::make_shared<Follower>(io);
    f->ns = parts[1];
    f->pod = parts[2];
    f->container = container;
    f->path = path.value();
    f->offset = FileSize(path.value());
    f->lookup = lookup;
    net::HttpResponse r = Text(200, "");
    std::string first = text.value();
    r.stream = [f, first](std::shared_ptr<net::ResponseStream> out) {
      f->out = out;
      if (!first.empty() && !out->Write(first)) return;
      f->Poll();
    };
    respond(std::move(r));
  };
}

}  // namespace tug::agent
