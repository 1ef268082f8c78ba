// Cluster DNS over bytes alone (agent/dns/): queries built by hand or with EncodeQuery, the
// decisions and the exact response bytes checked, and malformed input (cut off, looping,
// oversized, random) that must give FORMERR or a drop and never a crash.
#include <catch2/catch.hpp>

#include <random>
#include <string>

#include "agent/dns/cluster_dns.h"
#include "agent/dns/dns_message.h"

using namespace tug::agent::dns;

namespace {

const uint8_t* Bytes(const std::string& s) {
  return reinterpret_cast<const uint8_t*>(s.data());
}

std::string Query(const std::string& name, uint16_t type = kTypeA, uint16_t id = 0x1234) {
  auto q = EncodeQuery(id, name, type);
  REQUIRE(q.ok());
  return *q;
}

ClusterDns Dns() {
  ClusterDns dns;
  dns.SetServices({{{"default", "web-server"}, "10.96.0.10"},
                   {{"default", "kubernetes"}, "10.96.0.1"},
                   {{"shop", "db"}, "None"}});
  return dns;
}

ClusterDns::Decision Ask(const ClusterDns& dns, const std::string& query) {
  return dns.Handle(Bytes(query), query.size());
}

// The response parsed back (its answers are walked and skipped by ParseQuery).
Message Parsed(const ClusterDns::Decision& d) {
  REQUIRE(d.kind == ClusterDns::Decision::kAnswer);
  auto m = ParseQuery(Bytes(d.response), d.response.size());
  REQUIRE(m.ok());
  CHECK(m->header.qr());
  CHECK(m->header.ra());
  return *m;
}

std::string Hex(const std::string& s) {
  std::string out;
  char buf[4];
  for (unsigned char c : s) {
    std::snprintf(buf, sizeof buf, "%02x ", c);
    out += buf;
  }
  return out;
}

std::string RawHeader(uint16_t id, uint16_t flags, uint16_t qd, uint16_t an = 0, uint16_t ns = 0,
                      uint16_t ar = 0) {
  std::string h;
  for (uint16_t v : {id, flags, qd, an, ns, ar}) {
    h.push_back(static_cast<char>(v >> 8));
    h.push_back(static_cast<char>(v & 0xFF));
  }
  return h;
}

std::string Label(const std::string& s) {
  return std::string(1, static_cast<char>(s.size())) + s;
}

const std::string kTypeAClassIn("\x00\x01\x00\x01", 4);

}  // namespace

TEST_CASE("a query encodes and parses back", "[agent][dns]") {
  std::string bytes = Query("Web-Server.default.svc.cluster.local.", kTypeAAAA, 0xBEEF);
  auto m = ParseQuery(Bytes(bytes), bytes.size());
  REQUIRE(m.ok());
  CHECK(m->header.id == 0xBEEF);
  CHECK(m->header.rd());
  CHECK_FALSE(m->header.qr());
  CHECK(m->header.opcode() == kOpcodeQuery);
  REQUIRE(m->questions.size() == 1);
  CHECK(m->questions[0].name == "web-server.default.svc.cluster.local");
  CHECK(m->questions[0].wire_name == bytes.substr(12, bytes.size() - 16));
  CHECK(m->questions[0].type == kTypeAAAA);
  CHECK(m->questions[0].qclass == kClassIn);

  auto root = EncodeQuery(1, "", kTypeA);
  REQUIRE(root.ok());
  auto r = ParseQuery(Bytes(*root), root->size());
  REQUIRE(r.ok());
  CHECK(r->questions[0].name.empty());

  CHECK_FALSE(EncodeQuery(1, "a..b", kTypeA).ok());
  CHECK_FALSE(EncodeQuery(1, std::string(64, 'a') + ".local", kTypeA).ok());
}

TEST_CASE("a known Service's A record, byte for byte", "[agent][dns]") {
  std::string q = Query("web-server.default.svc.cluster.local");
  auto d = Ask(Dns(), q);
  REQUIRE(d.kind == ClusterDns::Decision::kAnswer);
  // id; QR, AA, RD, RA; one question, one answer.
  std::string want = RawHeader(0x1234, 0x8580, 1, 1) + q.substr(12) +
                     std::string(
                         "\xc0\x0c"                   // the question's name
                         "\x00\x01\x00\x01"           // A, IN
                         "\x00\x00\x00\x05"           // TTL 5
                         "\x00\x04\x0a\x60\x00\x0a",  // 10.96.0.10
                         16);
  CHECK(Hex(d.response) == Hex(want));

  Message m = Parsed(d);
  CHECK(m.header.ancount == 1);
  CHECK(m.header.aa());
  CHECK(m.header.rcode() == static_cast<int>(Rcode::kNoError));
}

TEST_CASE("names are case-insensitive and the question's case is echoed", "[agent][dns]") {
  std::string q = Query("WEB-server.Default.SVC.Cluster.LOCAL");
  auto d = Ask(Dns(), q);
  Message m = Parsed(d);
  CHECK(m.header.ancount == 1);
  CHECK(d.response.substr(12, q.size() - 12) == q.substr(12));
  CHECK(d.response.substr(d.response.size() - 4) == std::string("\x0a\x60\x00\x0a", 4));

  ClusterDns upper("Cluster.Local.");
  upper.SetServices({{{"Default", "Web"}, "10.0.0.1"}});
  CHECK(Parsed(Ask(upper, Query("web.default.svc.cluster.local"))).header.ancount == 1);
}

TEST_CASE("unknown names under the domain are NXDOMAIN", "[agent][dns]") {
  for (const char* name : {"nope.default.svc.cluster.local", "web-server.other.svc.cluster.local",
                           "x.web-server.default.svc.cluster.local",
                           "10-244-1-5.default.pod.cluster.local", "foo.cluster.local"}) {
    INFO(name);
    Message m = Parsed(Ask(Dns(), Query(name)));
    CHECK(m.header.rcode() == static_cast<int>(Rcode::kNxDomain));
    CHECK(m.header.aa());
    CHECK(m.header.ancount == 0);
    REQUIRE(m.questions.size() == 1);
    CHECK(m.questions[0].name == name);
  }
}

TEST_CASE("names that exist without an A record are NODATA", "[agent][dns]") {
  for (auto [name, type] : std::vector<std::pair<std::string, uint16_t>>{
           {"web-server.default.svc.cluster.local", kTypeAAAA},
           {"web-server.default.svc.cluster.local", 16},  // TXT
           {"db.shop.svc.cluster.local", kTypeA},         // headless: not supported yet
           {"cluster.local", kTypeA},
           {"svc.cluster.local", kTypeA},
           {"default.svc.cluster.local", kTypeA}}) {
    INFO(name << " " << type);
    Message m = Parsed(Ask(Dns(), Query(name, type)));
    CHECK(m.header.rcode() == static_cast<int>(Rcode::kNoError));
    CHECK(m.header.aa());
    CHECK(m.header.ancount == 0);
    CHECK(m.questions[0].type == type);
  }
}

TEST_CASE("SetServices replaces the Services", "[agent][dns]") {
  ClusterDns dns = Dns();
  dns.SetServices({{{"shop", "cart"}, "10.96.5.5"}});
  CHECK(Parsed(Ask(dns, Query("web-server.default.svc.cluster.local"))).header.rcode() ==
        static_cast<int>(Rcode::kNxDomain));
  CHECK(Parsed(Ask(dns, Query("default.svc.cluster.local"))).header.rcode() ==
        static_cast<int>(Rcode::kNxDomain));
  CHECK(Parsed(Ask(dns, Query("cart.shop.svc.cluster.local"))).header.ancount == 1);
}

TEST_CASE("names outside the domain are forwarded", "[agent][dns]") {
  for (const char* name :
       {"example.com", "cluster.local.example.com", "notcluster.local", "local", ""}) {
    INFO(name);
    auto d = Ask(Dns(), Query(name));
    CHECK(d.kind == ClusterDns::Decision::kForward);
    CHECK(d.response.empty());
  }
  ClusterDns other("tug.internal");
  CHECK(Ask(other, Query("web-server.default.svc.cluster.local")).kind ==
        ClusterDns::Decision::kForward);
}

TEST_CASE("EDNS and other extra records are skipped", "[agent][dns]") {
  std::string q = Query("web-server.default.svc.cluster.local");
  q[11] = 1;                                                             // arcount
  q += std::string("\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x00", 11);  // OPT, 4096 bytes
  CHECK(Parsed(Ask(Dns(), q)).header.ancount == 1);

  q[11] = 2;  // one more record than there is
  CHECK(Parsed(Ask(Dns(), q)).header.rcode() == static_cast<int>(Rcode::kFormErr));

  // An answer record in the query, named by a pointer to the question, with 4 bytes of data.
  std::string a = Query("example.com");
  a[7] = 1;
  a += std::string("\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x05\x00\x04\x01\x02\x03\x04", 16);
  CHECK(Ask(Dns(), a).kind == ClusterDns::Decision::kForward);
  a.pop_back();  // its data cut short
  CHECK(Parsed(Ask(Dns(), a)).header.rcode() == static_cast<int>(Rcode::kFormErr));
}

TEST_CASE("what is not a single standard query", "[agent][dns]") {
  ClusterDns dns = Dns();
  std::string q = Query("web-server.default.svc.cluster.local");

  SECTION("a response is dropped") {
    q[2] = static_cast<char>(q[2] | 0x80);
    CHECK(Ask(dns, q).kind == ClusterDns::Decision::kDrop);
  }
  SECTION("other opcodes are NOTIMP, from the header") {
    q[2] = static_cast<char>((q[2] & 0x87) | (5 << 3));  // UPDATE
    auto d = Ask(dns, q);
    Message m = Parsed(d);
    CHECK(m.header.id == 0x1234);
    CHECK(m.header.opcode() == 5);
    CHECK(m.header.rcode() == static_cast<int>(Rcode::kNotImp));
    CHECK(m.questions.empty());
    CHECK(d.response.size() == kHeaderSize);
  }
  SECTION("two questions are FORMERR") {
    std::string two = RawHeader(7, 0x0100, 2) + Label("a") + Label("b") + std::string(1, '\0') +
                      kTypeAClassIn + std::string("\xc0\x0c", 2) + kTypeAClassIn;
    auto m = ParseQuery(Bytes(two), two.size());
    REQUIRE(m.ok());
    REQUIRE(m->questions.size() == 2);
    CHECK(m->questions[1].name == "a.b");
    Message r = Parsed(Ask(dns, two));
    CHECK(r.header.id == 7);
    CHECK(r.header.rcode() == static_cast<int>(Rcode::kFormErr));
    CHECK(r.header.rd());
  }
  SECTION("no question is FORMERR") {
    CHECK(Parsed(Ask(dns, RawHeader(7, 0, 0))).header.rcode() == static_cast<int>(Rcode::kFormErr));
  }
}

TEST_CASE("compression pointers that loop or point forward are FORMERR", "[agent][dns]") {
  ClusterDns dns = Dns();
  auto formerr = [&](const std::string& msg) {
    INFO(Hex(msg));
    CHECK_FALSE(ParseQuery(Bytes(msg), msg.size()).ok());
    CHECK(Parsed(Ask(dns, msg)).header.rcode() == static_cast<int>(Rcode::kFormErr));
  };
  // The name is a pointer to itself.
  formerr(RawHeader(1, 0, 1) + std::string("\xc0\x0c", 2) + kTypeAClassIn);
  // A label, then a pointer back to that label: a loop through backwards pointers.
  formerr(RawHeader(1, 0, 1) + Label("a") + std::string("\xc0\x0c", 2) + kTypeAClassIn);
  // A pointer forward, to a name after it.
  formerr(RawHeader(1, 0, 1) + std::string("\xc0\x0e", 2) + std::string(1, '\0') + kTypeAClassIn);
  // A pointer into the header.
  formerr(RawHeader(1, 0, 1) + std::string("\xc0\x02", 2) + kTypeAClassIn);
  // The second question's name is a pointer to itself.
  formerr(RawHeader(1, 0, 2) + Label("a") + std::string(1, '\0') + kTypeAClassIn +
          std::string("\xc0\x13", 2) + kTypeAClassIn);
  // A pointer cut off.
  formerr(RawHeader(1, 0, 1) + Label("abcd") + std::string("\xc0", 1));
}

TEST_CASE("labels over 63 bytes and names over 255 are FORMERR", "[agent][dns]") {
  ClusterDns dns = Dns();
  auto rcode = [&](const std::string& wire_name) {
    std::string msg = RawHeader(1, 0, 1) + wire_name + kTypeAClassIn;
    return Parsed(Ask(dns, msg)).header.rcode();
  };
  std::string local = Label("cluster") + Label("local") + std::string(1, '\0');
  CHECK(rcode(Label(std::string(63, 'a')) + local) == static_cast<int>(Rcode::kNxDomain));
  CHECK(rcode(Label(std::string(64, 'a')) + local) == static_cast<int>(Rcode::kFormErr));
  for (uint8_t b : {0x40, 0x80, 0xBF})  // extended label types
    CHECK(rcode(std::string(1, static_cast<char>(b)) + std::string(70, 'a') + local) ==
          static_cast<int>(Rcode::kFormErr));

  // 3 labels of 63 and one of 61 with the zero byte make 255 bytes on the wire; 62 makes 256.
  std::string l63 = Label(std::string(63, 'x'));
  std::string ok = l63 + l63 + l63 + Label(std::string(61, 'y')) + std::string(1, '\0');
  std::string over = l63 + l63 + l63 + Label(std::string(62, 'y')) + std::string(1, '\0');
  REQUIRE(ok.size() == 255);
  CHECK(Ask(dns, RawHeader(1, 0, 1) + ok + kTypeAClassIn).kind == ClusterDns::Decision::kForward);
  CHECK(rcode(over) == static_cast<int>(Rcode::kFormErr));
  // Also when the name is only that long through pointers.
  std::string first = l63 + l63 + l63 + std::string(1, '\0');
  std::string via_pointer = RawHeader(1, 0, 2) + first + kTypeAClassIn +
                            Label(std::string(62, 'y')) + std::string("\xc0\x0c", 2) +
                            kTypeAClassIn;
  CHECK_FALSE(ParseQuery(Bytes(via_pointer), via_pointer.size()).ok());
  CHECK_FALSE(EncodeQuery(1,
                          std::string(63, 'x') + "." + std::string(63, 'x') + "." +
                              std::string(63, 'x') + "." + std::string(62, 'y'),
                          kTypeA)
                  .ok());
}

TEST_CASE("a query cut short at every length is FORMERR, or dropped without a header",
          "[agent][dns]") {
  ClusterDns dns = Dns();
  std::string q = Query("web-server.default.svc.cluster.local");
  for (size_t len = 0; len < q.size(); ++len) {
    INFO(len);
    std::string cut = q.substr(0, len);  // its own allocation, so ASan sees reads past it
    auto d = dns.Handle(Bytes(cut), cut.size());
    if (len < kHeaderSize) {
      CHECK(d.kind == ClusterDns::Decision::kDrop);
      CHECK_FALSE(ParseHeader(Bytes(cut), cut.size()).ok());
    } else {
      Message m = Parsed(d);
      CHECK(m.header.id == 0x1234);
      CHECK(m.header.rcode() == static_cast<int>(Rcode::kFormErr));
    }
  }
  CHECK(dns.Handle(nullptr, 0).kind == ClusterDns::Decision::kDrop);
}

TEST_CASE("random and mutated packets never crash", "[agent][dns]") {
  ClusterDns dns = Dns();
  std::mt19937 rng(20240611);
  std::string valid = Query("web-server.default.svc.cluster.local");
  int answered = 0, forwarded = 0, dropped = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string msg;
    if (i % 2 == 0) {
      // Pure noise, mostly around the size of a query, with a plausible header now and then.
      msg.resize(rng() % 80);
      for (char& c : msg)
        c = static_cast<char>(rng());
      if (msg.size() >= kHeaderSize && rng() % 2) {
        msg[2] &= 0x07;  // a query
        msg[4] = 0;
        msg[5] = 1;
      }
    } else {
      // A valid query with a few bytes changed, some bytes cut or some appended.
      msg = valid;
      for (int flips = 1 + rng() % 4; flips > 0; --flips)
        msg[rng() % msg.size()] = static_cast<char>(rng());
      if (rng() % 4 == 0) msg.resize(rng() % msg.size());
      if (rng() % 4 == 0) msg += std::string(rng() % 20, static_cast<char>(rng()));
    }
    auto d = dns.Handle(Bytes(msg), msg.size());
    (void)ParseQuery(Bytes(msg), msg.size());
    switch (d.kind) {
      case ClusterDns::Decision::kAnswer: {
        ++answered;
        REQUIRE(d.response.size() >= kHeaderSize);
        REQUIRE(d.response.substr(0, 2) == msg.substr(0, 2));
        auto back = ParseQuery(Bytes(d.response), d.response.size());
        REQUIRE(back.ok());  // whatever we send is well formed
        break;
      }
      case ClusterDns::Decision::kForward:
        ++forwarded;
        REQUIRE(ParseQuery(Bytes(msg), msg.size()).ok());
        break;
      case ClusterDns::Decision::kDrop:
        ++dropped;
        break;
    }
  }
  CHECK(answered > 1000);
  CHECK(forwarded > 10);
  CHECK(dropped > 1000);
}

TEST_CASE("a pod's resolv.conf", "[agent][dns]") {
  CHECK(ResolvConf("shop", "10.96.0.10", "cluster.local") ==
        "search shop.svc.cluster.local svc.cluster.local cluster.local\n"
        "nameserver 10.96.0.10\n"
        "options ndots:5\n");
}
