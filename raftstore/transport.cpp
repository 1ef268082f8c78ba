#include "raftstore/transport.h"

#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <chrono>
#include <deque>

#include "base/coding.h"
#include "base/file.h"
#include "base/host_port.h"
#include "raftstore/store.pb.h"

namespace tug::store {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr size_t kChunkBytes = 1 << 20;          // snapshot chunk size
constexpr uint32_t kMaxFrameBytes = 128u << 20;  // larger frames are corrupt input
constexpr size_t kMaxQueuedMessages = 8192;      // per peer; beyond, the peer is too slow
constexpr size_t kMaxQueuedBytes = 256u << 20;

std::string Frame(const storepb::PeerFrame& f) {
  std::string body = f.SerializeAsString();
  std::string out;
  out.reserve(4 + body.size());
  PutLE32(&out, static_cast<uint32_t>(body.size()));
  out += body;
  return out;
}

}  // namespace

struct QueuedFrame {
  std::string bytes;
  bool snapshot_last = false;  // report the snapshot sent once this is written
};

struct Peer : std::enable_shared_from_this<Peer> {
  Peer(asio::io_context& io, uint64_t id_, std::string addr_)
      : id(id_), addr(std::move(addr_)), sock(io), wake(io), retry(io) {}

  uint64_t id;
  std::string addr;
  tcp::socket sock;
  asio::steady_timer wake;
  asio::steady_timer retry;
  std::deque<QueuedFrame> queue;
  size_t queued_bytes = 0;
  bool stopped = false;
  bool reported_down = false;
};

struct PeerTransport::Impl : std::enable_shared_from_this<PeerTransport::Impl> {
  Impl(asio::io_context& io_, uint64_t self_, TransportCallbacks cb_, std::string hello_frame_,
       uint64_t cluster_id_)
      : io(io_),
        self(self_),
        cluster_id(cluster_id_),
        cb(std::move(cb_)),
        acceptor(io_),
        hello_frame(std::move(hello_frame_)) {}

  asio::io_context& io;
  uint64_t self;
  uint64_t cluster_id;
  TransportCallbacks cb;
  tcp::acceptor acceptor;
  std::map<uint64_t, std::shared_ptr<Peer>> peers;
  std::vector<std::weak_ptr<tcp::socket>> inbound;
  bool stopped = false;
  std::string hello_frame;

  void DropQueue(Peer& p) {
    for (const auto& f : p.queue) {
      if (f.snapshot_last && cb.on_snapshot_sent) cb.on_snapshot_sent(p.id, false);
    }
    p.queue.clear();
    p.queued_bytes = 0;
  }

  void Down(Peer& p, const std::string& why) {
    if (!p.reported_down) {
      spdlog::warn("peer {} ({}) unreachable: {}", p.id, p.addr, why);
      p.reported_down = true;
    }
    // Messages queued for a dead peer are stale by the time it returns; the core resends.
    DropQueue(p);
    if (cb.on_unreachable) cb.on_unreachable(p.id);
  }

  awaitable<void> RunPeer(std::shared_ptr<Peer> p) {
    auto self_ref = shared_from_this();
    std::chrono::milliseconds backoff(50);
    while (!p->stopped) {
      // Checked when the member was configured (ParseInitialCluster).
      HostPort hp = ParseHostPort(p->addr, false).value();
      error_code ec;
      tcp::resolver resolver(io);
      auto eps = co_await resolver.async_resolve(hp.host, std::to_string(hp.port),
                                                 asio::redirect_error(use_awaitable, ec));
      if (!ec) co_await asio::async_connect(p->sock, eps, asio::redirect_error(use_awaitable, ec));
      if (p->stopped) break;
      if (ec) {
        std::string why = "connect: " + ec.message();
        p->sock.close(ec);
        Down(*p, why);
        p->retry.expires_after(backoff);
        co_await p->retry.async_wait(asio::redirect_error(use_awaitable, ec));
        backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
        continue;
      }
      if (p->reported_down) spdlog::info("peer {} ({}) reachable again", p->id, p->addr);
      p->reported_down = false;
      backoff = std::chrono::milliseconds(50);
      p->sock.set_option(tcp::no_delay(true), ec);
      co_await asio::async_write(p->sock, asio::buffer(hello_frame),
                                 asio::redirect_error(use_awaitable, ec));
      if (ec) {
        p->sock.close(ec);
        continue;
      }
      // Write everything queued in one go (many small AppendEntries share a syscall).
      while (!p->stopped) {
        if (p->queue.empty()) {
          p->wake.expires_at(asio::steady_timer::time_point::max());
          co_await p->wake.async_wait(asio::redirect_error(use_awaitable, ec));
          continue;
        }
        std::vector<QueuedFrame> batch;
        size_t bytes = 0;
        while (!p->queue.empty() && bytes < (4u << 20)) {
          bytes += p->queue.front().bytes.size();
          batch.push_back(std::move(p->queue.front()));
          p->queue.pop_front();
        }
        p->queued_bytes -= std::min(p->queued_bytes, bytes);
        std::vector<asio::const_buffer> bufs;
        for (const auto& f : batch)
          bufs.push_back(asio::buffer(f.bytes));
        co_await asio::async_write(p->sock, bufs, asio::redirect_error(use_awaitable, ec));
        if (ec) {
          for (const auto& f : batch) {
            if (f.snapshot_last && cb.on_snapshot_sent) cb.on_snapshot_sent(p->id, false);
          }
          break;
        }
        for (const auto& f : batch) {
          if (f.snapshot_last && cb.on_snapshot_sent) cb.on_snapshot_sent(p->id, true);
        }
      }
      p->sock.close(ec);
      if (!p->stopped) Down(*p, "connection lost");
    }
  }

  awaitable<void> ReadConn(std::shared_ptr<tcp::socket> s) {
    auto self_ref = shared_from_this();
    error_code ec;
    std::string snap_buf;
    raftpb::Message snap_header;
    uint64_t peer = 0;  // who is on the other end, once it said hello
    for (;;) {
      unsigned char hdr[4];
      co_await asio::async_read(*s, asio::buffer(hdr), asio::redirect_error(use_awaitable, ec));
      if (ec) break;
      uint32_t n = GetLE32(reinterpret_cast<const char*>(hdr));
      if (n > kMaxFrameBytes) {
        spdlog::warn("peer connection sent a {}-byte frame (limit {}); closing it", n,
                     kMaxFrameBytes);
        break;
      }
      std::string body(n, '\0');
      co_await asio::async_read(*s, asio::buffer(body), asio::redirect_error(use_awaitable, ec));
      if (ec) break;
      storepb::PeerFrame f;
      if (!f.ParseFromString(body)) {
        spdlog::warn("peer connection sent an unparseable frame; closing it");
        break;
      }
      if (f.has_hello()) {
        uint64_t theirs = f.hello().cluster_id();
        if (theirs != 0 && cluster_id != 0 && theirs != cluster_id) {
          spdlog::error(
              "peer {} ({}) belongs to cluster {:x}, this member to cluster {:x}; refusing it "
              "(was it started with another --initial-cluster?)",
              f.hello().name(), f.hello().id(), theirs, cluster_id);
          break;
        }
        peer = f.hello().id();
        if (cb.on_hello) cb.on_hello(f.hello().id(), f.hello().name(), f.hello().api_addr());
      } else if (f.has_message()) {
        if (cb.on_message) cb.on_message(std::move(*f.mutable_message()));
      } else if (f.has_soft()) {
        if (cb.on_soft) cb.on_soft(f.soft().from(), std::move(*f.mutable_soft()->mutable_data()));
      } else if (f.has_chunk()) {
        const auto& c = f.chunk();
        if (c.offset() == 0) {
          snap_buf.clear();
          snap_header = c.header();
        } else if (c.offset() != snap_buf.size()) {
          spdlog::warn("snapshot chunk out of order (offset {}, have {}); closing", c.offset(),
                       snap_buf.size());
          break;
        }
        snap_buf += c.data();
        if (c.last()) {
          raftpb::Message m = snap_header;
          m.mutable_snapshot()->set_data(std::move(snap_buf));
          snap_buf.clear();
          if (cb.on_message) cb.on_message(std::move(m));
        }
      }
    }
    s->close(ec);
    if (peer != 0 && !stopped && cb.on_peer_lost) cb.on_peer_lost(peer);
  }

  awaitable<void> Accept() {
    auto self_ref = shared_from_this();
    while (!stopped) {
      error_code ec;
      auto s = std::make_shared<tcp::socket>(io);
      co_await acceptor.async_accept(*s, asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (stopped) break;
        continue;
      }
      s->set_option(tcp::no_delay(true), ec);
      std::erase_if(inbound, [](const std::weak_ptr<tcp::socket>& w) { return w.expired(); });
      inbound.push_back(s);
      asio::co_spawn(io, ReadConn(s), asio::detached);
    }
  }

  void Enqueue(Peer& p, QueuedFrame f) {
    if (p.queue.size() >= kMaxQueuedMessages || p.queued_bytes + f.bytes.size() > kMaxQueuedBytes) {
      // The peer cannot keep up (or is gone and we have not noticed yet): drop, and let the
      // core fall back to probing it.
      if (f.snapshot_last && cb.on_snapshot_sent) cb.on_snapshot_sent(p.id, false);
      if (cb.on_unreachable) cb.on_unreachable(p.id);
      return;
    }
    p.queued_bytes += f.bytes.size();
    p.queue.push_back(std::move(f));
    p.wake.cancel();
  }
};

namespace {
std::string HelloFrame(uint64_t id, const std::string& name, const std::string& api_addr,
                       uint64_t cluster_id) {
  storepb::PeerFrame f;
  f.mutable_hello()->set_id(id);
  f.mutable_hello()->set_name(name);
  f.mutable_hello()->set_api_addr(api_addr);
  f.mutable_hello()->set_cluster_id(cluster_id);
  return Frame(f);
}
}  // namespace

PeerTransport::PeerTransport(asio::io_context& io, uint64_t self,
                             std::map<uint64_t, std::string> peers, TransportCallbacks cb,
                             std::string self_name, std::string self_api_addr, uint64_t cluster_id)
    : impl_(std::make_shared<Impl>(io, self, std::move(cb),
                                   HelloFrame(self, self_name, self_api_addr, cluster_id),
                                   cluster_id)) {
  for (auto& [id, addr] : peers) {
    if (id == self) continue;
    auto p = std::make_shared<Peer>(io, id, addr);
    impl_->peers[id] = p;
    asio::co_spawn(io, impl_->RunPeer(p), asio::detached);
  }
}

PeerTransport::~PeerTransport() {
  Stop();
}

Status PeerTransport::Listen(const std::string& addr) {
  auto hp = ParseHostPort(addr, false);
  if (!hp) return Status::Invalid("peer " + hp.status().message());
  error_code ec;
  auto ip = asio::ip::make_address(hp->host, ec);
  if (ec) return Status::Invalid("peer address \"" + addr + "\": " + ec.message());
  tcp::endpoint ep(ip, hp->port);
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::Error("cannot listen for peers on " + addr + ": " + ec.message());
  asio::co_spawn(impl_->io, impl_->Accept(), asio::detached);
  return Status::Ok();
}

void PeerTransport::Send(raftpb::Message m) {
  auto it = impl_->peers.find(m.to());
  if (it == impl_->peers.end() || impl_->stopped) return;
  Peer& p = *it->second;
  if (m.type() == raftpb::MSG_SNAP && m.snapshot().data().size() > kChunkBytes) {
    std::string data = std::move(*m.mutable_snapshot()->mutable_data());
    m.mutable_snapshot()->clear_data();
    for (size_t off = 0; off < data.size(); off += kChunkBytes) {
      storepb::PeerFrame f;
      auto* c = f.mutable_chunk();
      *c->mutable_header() = m;
      c->set_offset(off);
      c->set_data(data.substr(off, kChunkBytes));
      bool last = off + kChunkBytes >= data.size();
      c->set_last(last);
      impl_->Enqueue(p, QueuedFrame{Frame(f), last});
    }
    return;
  }
  bool is_snap = m.type() == raftpb::MSG_SNAP;
  storepb::PeerFrame f;
  *f.mutable_message() = std::move(m);
  impl_->Enqueue(p, QueuedFrame{Frame(f), is_snap});
}

void PeerTransport::SendSoft(uint64_t to, std::string data) {
  auto it = impl_->peers.find(to);
  if (it == impl_->peers.end() || impl_->stopped) return;
  storepb::PeerFrame f;
  f.mutable_soft()->set_from(impl_->self);
  f.mutable_soft()->set_data(std::move(data));
  impl_->Enqueue(*it->second, QueuedFrame{Frame(f), false});
}

void PeerTransport::SetPeers(std::map<uint64_t, std::string> peers) {
  if (impl_->stopped) return;
  error_code ec;
  for (auto it = impl_->peers.begin(); it != impl_->peers.end();) {
    auto want = peers.find(it->first);
    if (want != peers.end() && want->second == it->second->addr) {
      ++it;
      continue;
    }
    Peer& p = *it->second;
    p.stopped = true;
    p.sock.close(ec);
    p.wake.cancel();
    p.retry.cancel();
    impl_->DropQueue(p);
    it = impl_->peers.erase(it);
  }
  for (auto& [id, addr] : peers) {
    if (id == impl_->self || impl_->peers.count(id)) continue;
    auto p = std::make_shared<Peer>(impl_->io, id, addr);
    impl_->peers[id] = p;
    asio::co_spawn(impl_->io, impl_->RunPeer(p), asio::detached);
  }
}

void PeerTransport::Stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  error_code ec;
  impl_->acceptor.close(ec);
  for (auto& [id, p] : impl_->peers) {
    p->stopped = true;
    p->sock.close(ec);
    p->wake.cancel();
    p->retry.cancel();
  }
  for (auto& w : impl_->inbound) {
    if (auto s = w.lock()) s->close(ec);
  }
}

}  // namespace tug::store
