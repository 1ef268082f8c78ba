// The peer transport between control-plane members: TCP, frames of a 4-byte little-endian
// length and a serialized storepb::PeerFrame. One outgoing connection per peer with its own
// queue (a slow or dead peer never holds up the others), reconnect with exponential back-off,
// snapshots split into chunks. Everything runs on the io_context passed in (one thread); the
// callbacks are invoked there.
//
// Delivery is best effort, like the network the Raft core assumes: a message may be lost
// when a connection breaks or a queue overflows; the core retries. Unparseable frames close
// the connection (and are logged): bad input from the network never crashes the node.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "base/status.h"
#include "raftstore/raft.pb.h"

namespace boost::asio {
class io_context;
}

namespace tug::store {

struct TransportCallbacks {
  std::function<void(raftpb::Message)> on_message;
  // A peer could not be reached (connect failed, connection broke): the core goes back to
  // probing it.
  std::function<void(uint64_t peer)> on_unreachable;
  // A snapshot finished sending (fully written to the socket) or failed.
  std::function<void(uint64_t peer, bool ok)> on_snapshot_sent;
  // A peer's connection to us closed (after it had introduced itself).
  std::function<void(uint64_t peer)> on_peer_lost;
  // A peer introduced itself (first frame of each of its connections).
  std::function<void(uint64_t peer, const std::string& name, const std::string& api_addr)> on_hello;
  // A soft message from a peer (see SendSoft).
  std::function<void(uint64_t peer, std::string data)> on_soft;
};

class PeerTransport {
 public:
  // `peers`: id -> "host:port" for every other member. `hello` introduces us to them. A peer
  // whose hello names another cluster id is refused (both ids known, i.e. not 0): it was
  // started with another --initial-cluster, and merging two logs would break both.
  PeerTransport(boost::asio::io_context& io, uint64_t self, std::map<uint64_t, std::string> peers,
                TransportCallbacks cb, std::string self_name, std::string self_api_addr,
                uint64_t cluster_id = 0);
  ~PeerTransport();
  PeerTransport(const PeerTransport&) = delete;
  PeerTransport& operator=(const PeerTransport&) = delete;

  // Binds the peer address ("host:port"); the error names the address.
  Status Listen(const std::string& addr);
  void Send(raftpb::Message m);
  // Best-effort data for the application on `to` (not Raft): queued with the Raft messages.
  void SendSoft(uint64_t to, std::string data);
  // The members changed: connections to peers no longer listed (or now at another address)
  // close, new peers are dialed. Addresses must be valid host:port.
  void SetPeers(std::map<uint64_t, std::string> peers);
  // Closes every connection and stops accepting.
  void Stop();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace tug::store
