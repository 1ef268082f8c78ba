// The Service proxy's choice of backend (agent/proxy/backend_picker.h), with time passed in:
// round robin, failed backends set aside, ClientIP affinity and its bounds, and what survives
// a change of endpoints.
#include <catch2/catch.hpp>

#include <limits>
#include <map>
#include <set>
#include <string>

#include "agent/proxy/backend_picker.h"

using tug::agent::proxy::Affinity;
using tug::agent::proxy::Backend;
using tug::agent::proxy::BackendPicker;

namespace {

const Backend kA{"10.244.1.2", 8080};
const Backend kB{"10.244.1.3", 8080};
const Backend kC{"10.244.2.4", 8080};

// Every backend exactly once.
void CheckComplete(const std::vector<Backend>& order, size_t n) {
  REQUIRE(order.size() == n);
  std::set<std::string> seen;
  for (const Backend& b : order)
    seen.insert(b.String());
  CHECK(seen.size() == n);
}

std::map<std::string, int> FirstChoices(BackendPicker& p, int calls, int64_t now,
                                        const std::string& client = "") {
  std::map<std::string, int> firsts;
  for (int i = 0; i < calls; ++i) {
    auto order = p.Order(client, now);
    CheckComplete(order, p.size());
    ++firsts[order[0].String()];
  }
  return firsts;
}

}  // namespace

TEST_CASE("backends print as addresses", "[agent][proxy]") {
  CHECK(kA.String() == "10.244.1.2:8080");
  CHECK(Backend{"fd00::5", 80}.String() == "[fd00::5]:80");
  CHECK(kA == Backend{"10.244.1.2", 8080});
  CHECK_FALSE(kA == Backend{"10.244.1.2", 8081});
}

TEST_CASE("no backends: nothing to try", "[agent][proxy]") {
  BackendPicker p(Affinity::kClientIP);
  CHECK(p.size() == 0);
  CHECK(p.Order("1.2.3.4", 0).empty());
  p.Failed(kA, 0);
  p.Connected(kA, "1.2.3.4", 0);
  CHECK(p.clients() == 0);
  p.SetBackends({kA});
  p.SetBackends({});
  CHECK(p.Order("1.2.3.4", 0).empty());
}

TEST_CASE("round robin spreads successive clients evenly", "[agent][proxy]") {
  BackendPicker p;
  p.SetBackends({kA, kB, kC});
  CHECK(p.size() == 3);
  auto first = p.Order("", 0);
  CHECK(first == std::vector<Backend>{kA, kB, kC});
  CHECK(p.Order("", 0) == std::vector<Backend>{kB, kC, kA});
  CHECK(p.Order("", 0) == std::vector<Backend>{kC, kA, kB});
  auto firsts = FirstChoices(p, 300, 0);
  CHECK(firsts ==
        std::map<std::string, int>{{kA.String(), 100}, {kB.String(), 100}, {kC.String(), 100}});
  // Duplicates in the endpoints count once.
  p.SetBackends({kA, kB, kA, kB});
  CHECK(p.size() == 2);
}

TEST_CASE("a failed backend goes last until its time set aside is over", "[agent][proxy]") {
  BackendPicker p(Affinity::kNone, 10800 * 1000, 2000);
  p.SetBackends({kA, kB, kC});
  p.Failed(kB, 1000);
  for (int64_t now : {1000, 1500, 2999}) {
    auto order = p.Order("", now);
    CheckComplete(order, 3);
    CHECK(order.back() == kB);
  }
  // The healthy two share the clients evenly meanwhile.
  auto firsts = FirstChoices(p, 100, 2000);
  CHECK(firsts == std::map<std::string, int>{{kA.String(), 50}, {kC.String(), 50}});
  // Back in the round once the time is over.
  firsts = FirstChoices(p, 300, 3000);
  CHECK(firsts.size() == 3);
  CHECK(firsts[kB.String()] == 100);

  SECTION("a connection clears the mark at once") {
    p.Failed(kB, 5000);
    CHECK(p.Order("", 5000).back() == kB);
    p.Connected(kB, "", 5001);
    CHECK(FirstChoices(p, 3, 5002).count(kB.String()) == 1);
  }
  SECTION("the one that failed longest ago comes first among those set aside") {
    p.Failed(kC, 5000);
    p.Failed(kA, 5100);
    auto order = p.Order("", 5200);
    CHECK(order == std::vector<Backend>{kB, kC, kA});
  }
}

TEST_CASE("when every backend has failed, all are still tried", "[agent][proxy]") {
  BackendPicker p;
  p.SetBackends({kA, kB, kC});
  p.Failed(kA, 300);
  p.Failed(kB, 100);
  p.Failed(kC, 200);
  CHECK(p.Order("", 400) == std::vector<Backend>{kB, kC, kA});
  CHECK(p.Order("9.9.9.9", 400) == std::vector<Backend>{kB, kC, kA});
}

TEST_CASE("ClientIP affinity sticks, and moves when its backend fails or goes", "[agent][proxy]") {
  BackendPicker p(Affinity::kClientIP, 60 * 1000);
  p.SetBackends({kA, kB, kC});
  auto order = p.Order("192.168.0.7", 0);
  REQUIRE(order[0] == kA);
  p.Connected(kB, "192.168.0.7", 0);  // say kA was slow and kB answered first
  CHECK(p.clients() == 1);
  for (int i = 0; i < 10; ++i)
    CHECK(p.Order("192.168.0.7", 1000 + i)[0] == kB);
  // Other clients still go round.
  CHECK(FirstChoices(p, 300, 2000, "192.168.0.8").size() == 3);

  SECTION("its backend fails: the client goes elsewhere, and stays there") {
    p.Failed(kB, 3000);
    order = p.Order("192.168.0.7", 3000);
    CHECK(order[0] != kB);
    CHECK(order.back() == kB);
    p.Connected(order[0], "192.168.0.7", 3001);
    for (int64_t now : {3002, 10000})
      CHECK(p.Order("192.168.0.7", now)[0] == order[0]);
  }
  SECTION("its backend is removed: the client is forgotten") {
    p.SetBackends({kA, kC});
    CHECK(p.clients() == 0);
    order = p.Order("192.168.0.7", 3000);
    CheckComplete(order, 2);
    p.Connected(kC, "192.168.0.7", 3000);
    CHECK(FirstChoices(p, 5, 3001, "192.168.0.7") == std::map<std::string, int>{{kC.String(), 5}});
  }
  SECTION("the affinity lapses after the timeout since the last connection") {
    p.Connected(kB, "192.168.0.7", 50 * 1000);
    CHECK(p.Order("192.168.0.7", 50 * 1000 + 59999)[0] == kB);
    CHECK(FirstChoices(p, 3, 50 * 1000 + 60000, "192.168.0.7").size() == 3);
    CHECK(p.clients() == 0);
  }
  SECTION("turning affinity off forgets every client") {
    p.SetAffinity(Affinity::kNone, 0);
    CHECK(p.clients() == 0);
    p.Connected(kB, "192.168.0.7", 0);
    CHECK(p.clients() == 0);
    CHECK(FirstChoices(p, 3, 0, "192.168.0.7").size() == 3);
  }
}

TEST_CASE("SetBackends keeps what it knows of the backends that stay", "[agent][proxy]") {
  BackendPicker p(Affinity::kClientIP);
  p.SetBackends({kA, kB, kC});
  p.Order("", 0);  // the next round starts at kB
  p.Failed(kC, 0);
  p.Connected(kA, "1.1.1.1", 0);
  const Backend kD{"10.244.3.9", 8080};
  p.SetBackends({kD, kC, kA, kB});
  CHECK(p.clients() == 1);
  CHECK(p.Order("1.1.1.1", 10)[0] == kA);
  // The round went on from kB (whose turn the sticky client's call took), so kD is next.
  CHECK(p.Order("", 10) == std::vector<Backend>{kD, kA, kB, kC});
  CHECK(p.Order("", 10000) == std::vector<Backend>{kC, kA, kB, kD});
  // The one it was at is gone: the round goes on from the same place.
  p.SetBackends({kB, kD});
  CHECK(p.clients() == 0);
  CheckComplete(p.Order("", 10000), 2);
  // A backend that leaves and comes back starts afresh.
  p.Failed(kB, 20000);
  p.SetBackends({kD});
  p.SetBackends({kB, kD});
  CHECK(FirstChoices(p, 2, 20001).size() == 2);
}

TEST_CASE("the affinity table is bounded: expired clients go first, then the oldest",
          "[agent][proxy]") {
  BackendPicker p(Affinity::kClientIP, 1000 * 1000);
  p.SetBackends({kA, kB});
  auto ip = [](size_t i) {
    return "10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256);
  };
  for (size_t i = 0; i < BackendPicker::kMaxClients; ++i)
    p.Connected(kB, ip(i), 0);
  CHECK(p.clients() == BackendPicker::kMaxClients);
  p.Connected(kB, ip(0), 1);  // refreshed: now the newest
  p.Connected(kA, "172.16.0.1", 2);
  CHECK(p.clients() == BackendPicker::kMaxClients);
  CHECK(p.Order(ip(0), 3)[0] == kB);
  CHECK(p.Order("172.16.0.1", 3)[0] == kA);
  // ip(1) was the oldest and is gone: it goes round like anyone new.
  CHECK(FirstChoices(p, 2, 3, ip(1)).size() == 2);

  // Once the timeout has passed, the expired go before anyone is evicted.
  p.Connected(kA, "172.16.0.2", 1000 * 1000);
  CHECK(p.clients() == 3);  // ip(0), 172.16.0.1 and 172.16.0.2
}

TEST_CASE("times at the ends of the range do not overflow", "[agent][proxy]") {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  BackendPicker p(Affinity::kClientIP, kMax, kMax);
  p.SetBackends({kA, kB});
  p.Failed(kA, kMax);
  CHECK(p.Order("", kMax - 1).back() == kA);
  p.Connected(kB, "1.1.1.1", kMax);
  CHECK(p.Order("1.1.1.1", kMin)[0] == kB);
  p.Failed(kB, kMin);
  CheckComplete(p.Order("1.1.1.1", kMin), 2);
  BackendPicker negative(Affinity::kClientIP, -5, -5);
  negative.SetBackends({kA});
  negative.Failed(kA, 0);
  CHECK(negative.Order("", 0) == std::vector<Backend>{kA});
}
