// Stable member ids and the member records in the replicated state (raftstore/members.h):
// the pure pieces, the records in KvStore snapshots, and what RaftNode::Open makes of a new
// data dir, its own restart, and a data dir from before member records. No port: Open only.
#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <functional>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "raftstore/kv_store.h"
#include "raftstore/members.h"
#include "raftstore/node.h"
#include "raftstore/transport.h"
#include "raftstore/wal.h"
#include "test/support/temp_dir.h"

using namespace tug;
using namespace tug::store;
namespace fs = std::filesystem;

using tug::testing::TempDir;

namespace {

const char* kCluster = "cp2=127.0.0.1:7202,cp1=127.0.0.1:7201,cp3=127.0.0.1:7203";

NodeOptions Options(const std::string& dir, const std::string& name = "cp1",
                    const std::string& cluster = kCluster) {
  NodeOptions o;
  o.name = name;
  o.data_dir = dir;
  o.peer_addr = "127.0.0.1:0";
  o.api_addr = "127.0.0.1:0";
  o.initial_cluster = ParseInitialCluster(cluster).value();
  return o;
}

WalContents ReadWal(const std::string& dir) {
  WalContents wc;
  WalOptions wo;
  wo.dir = dir + "/wal";
  auto wal = Wal::Open(wo, &wc);
  REQUIRE(wal.ok());
  return wc;
}

}  // namespace

TEST_CASE("member ids come from name and peer address, not from a position in a list",
          "[storage][members]") {
  auto a = ParseInitialCluster(kCluster);
  auto b = ParseInitialCluster("cp3=127.0.0.1:7203,cp1=127.0.0.1:7201,cp2=127.0.0.1:7202");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  for (size_t i = 0; i < 3; ++i) {
    CHECK(a.value()[i].id == b.value()[i].id);  // whatever order the flag lists them in
    CHECK(a.value()[i].id == MemberIdFor(a.value()[i].name, a.value()[i].peer_addr));
    CHECK(a.value()[i].id > 3);  // not a position
  }
  // A fourth member added later does not renumber anyone.
  auto c = ParseInitialCluster(std::string(kCluster) + ",cp0=127.0.0.1:7200");
  REQUIRE(c.ok());
  for (const auto& m : a.value()) {
    bool same = false;
    for (const auto& n : c.value())
      same = same || (n.name == m.name && n.id == m.id);
    CHECK(same);
  }
  CHECK(MemberIdFor("cp1", "127.0.0.1:7201") != MemberIdFor("cp1", "127.0.0.1:7202"));
  CHECK(ClusterIdFor({1, 2, 3}) == ClusterIdFor({3, 1, 2}));
  CHECK(ClusterIdFor({1, 2, 3}) != ClusterIdFor({1, 2, 4}));
}

TEST_CASE("configuration entries carry member records, and bad ones are refused with the reason",
          "[storage][members]") {
  storepb::MemberRecord r;
  r.set_id(MemberIdFor("cp1", "127.0.0.1:7201"));
  r.set_name("cp1");
  r.set_peer_addr("127.0.0.1:7201");
  auto entries = BootstrapEntries({r}, 77);
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].index() == 1);
  CHECK(entries[0].term() == 1);
  auto c = DecodeMemberChange(entries[0]);
  REQUIRE(c.ok());
  std::map<uint64_t, storepb::MemberRecord> members;
  uint64_t cluster = 0;
  ApplyMemberChange(c.value(), &members, &cluster);
  CHECK(cluster == 77);
  REQUIRE(members.count(r.id()) == 1);
  CHECK(members[r.id()].name() == "cp1");

  raftpb::ConfChange remove;
  remove.set_type(raftpb::CONF_REMOVE_VOTER);
  remove.set_node_id(r.id());
  raftpb::Entry e;
  e.set_index(9);
  e.set_type(raftpb::ENTRY_CONF_CHANGE);
  e.set_data(remove.SerializeAsString());
  auto rm = DecodeMemberChange(e);
  REQUIRE(rm.ok());
  ApplyMemberChange(rm.value(), &members, &cluster);
  CHECK(members.empty());

  e.set_data("garbage");
  CHECK_FALSE(DecodeMemberChange(e).ok());
  raftpb::ConfChange add_without_record;
  add_without_record.set_type(raftpb::CONF_ADD_VOTER);
  add_without_record.set_node_id(5);
  e.set_data(add_without_record.SerializeAsString());
  auto bad = DecodeMemberChange(e);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() ==
        "configuration entry 9 adds member 5 without a usable member record");
}

TEST_CASE("member records and the cluster id travel in the store's snapshot",
          "[storage][members]") {
  KvStore kv;
  storepb::MemberRecord r;
  r.set_id(42);
  r.set_name("cp1");
  r.set_peer_addr("127.0.0.1:7201");
  kv.SetMembers({{42, r}}, 99);
  KvStore restored;
  REQUIRE(restored.Restore(kv.Snapshot()).ok());
  CHECK(restored.cluster_id() == 99);
  REQUIRE(restored.members().count(42) == 1);
  CHECK(restored.members().at(42).peer_addr() == "127.0.0.1:7201");
}

TEST_CASE("a new data dir starts its log with the initial members, and a restart keeps their ids",
          "[storage][members]") {
  TempDir dir{"tug-members"};
  boost::asio::io_context io;
  uint64_t id = 0, cluster = 0;
  {
    auto n = RaftNode::Open(io, Options(dir.path));
    REQUIRE(n.ok());
    auto s = n.value()->status();
    id = s.id;
    cluster = s.cluster_id;
    CHECK(id == MemberIdFor("cp1", "127.0.0.1:7201"));
    CHECK(cluster != 0);
    REQUIRE(s.members.size() == 3);
  }
  WalContents wc = ReadWal(dir.path);
  REQUIRE(wc.entries.size() == 3);
  CHECK(wc.hard_state.commit() == 3);
  for (const auto& e : wc.entries)
    CHECK(e.type() == raftpb::ENTRY_CONF_CHANGE);
  {
    // The records in the data dir win over the flag from now on: the same ids, even when
    // the flag now lists the members in another order.
    auto n = RaftNode::Open(
        io, Options(dir.path, "cp1", "cp3=127.0.0.1:7203,cp2=127.0.0.1:7202,cp1=127.0.0.1:7201"));
    REQUIRE(n.ok());
    CHECK(n.value()->status().id == id);
    CHECK(n.value()->status().cluster_id == cluster);
  }
  CHECK(ReadWal(dir.path).entries.size() == 3);  // bootstrapped once
  // A name the records do not know is refused, naming the members.
  auto other =
      RaftNode::Open(io, Options(dir.path, "cp4", std::string(kCluster) + ",cp4=127.0.0.1:7204"));
  REQUIRE_FALSE(other.ok());
  INFO(other.status().message());
  CHECK(other.status().message().find("whose members are cp1, cp2, cp3") != std::string::npos);
}

TEST_CASE("a data dir from before member records keeps positions as ids", "[storage][members]") {
  TempDir dir{"tug-members"};
  {
    // What an older member wrote: a vote and an entry, and no configuration entries.
    WalContents wc;
    WalOptions wo;
    wo.dir = dir.path + "/wal";
    auto wal = Wal::Open(wo, &wc);
    REQUIRE(wal.ok());
    raftpb::HardState hs;
    hs.set_term(2);
    hs.set_vote(2);
    hs.set_commit(1);
    raftpb::Entry e;
    e.set_term(2);
    e.set_index(1);
    REQUIRE(wal.value()->Save(hs, {e}).ok());
    REQUIRE(wal.value()->Sync().ok());
  }
  boost::asio::io_context io;
  auto n = RaftNode::Open(io, Options(dir.path, "cp2"));
  REQUIRE(n.ok());
  auto s = n.value()->status();
  CHECK(s.id == 2);  // cp1, cp2, cp3 sorted by name
  CHECK(s.cluster_id == 0);
  REQUIRE(s.members.size() == 3);
  CHECK(s.members[0].id == 1);
  CHECK(s.members[0].name == "cp1");
}

namespace {

// A port free on 127.0.0.1 right now (the kernel's pick), for a listener started next.
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

}  // namespace

TEST_CASE("a peer of another cluster is refused at its hello, one of the same cluster is heard",
          "[storage][members]") {
  boost::asio::io_context io;
  std::string b_addr = "127.0.0.1:" + std::to_string(FreePort());
  std::vector<std::string> hellos;
  int messages = 0;
  TransportCallbacks b_cb;
  b_cb.on_hello = [&](uint64_t, const std::string& name, const std::string&) {
    hellos.push_back(name);
  };
  b_cb.on_message = [&](raftpb::Message) { ++messages; };
  PeerTransport b(io, 2, {}, b_cb, "b", "", 111);
  REQUIRE(b.Listen(b_addr).ok());

  auto run_until = [&](const std::function<bool()>& pred, const std::function<void()>& poke) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!pred() && std::chrono::steady_clock::now() < deadline) {
      poke();
      io.run_for(std::chrono::milliseconds(50));
      if (io.stopped()) io.restart();
    }
    return pred();
  };
  raftpb::Message m;
  m.set_type(raftpb::MSG_HEARTBEAT);
  m.set_to(2);

  // Another cluster: B closes the connection at the hello, so A finds B unreachable, and B
  // has taken nothing from it.
  bool a_lost = false;
  TransportCallbacks a_cb;
  a_cb.on_unreachable = [&](uint64_t) { a_lost = true; };
  PeerTransport a(io, 1, {{2, b_addr}}, a_cb, "a", "", 222);
  m.set_from(1);
  REQUIRE(run_until([&] { return a_lost; }, [&] { a.Send(m); }));
  CHECK(hellos.empty());
  CHECK(messages == 0);
  a.Stop();

  // The same cluster: heard.
  PeerTransport c(io, 3, {{2, b_addr}}, {}, "c", "", 111);
  m.set_from(3);
  REQUIRE(run_until([&] { return messages > 0; }, [&] { c.Send(m); }));
  CHECK(hellos == std::vector<std::string>{"c"});
  c.Stop();
  b.Stop();
}
