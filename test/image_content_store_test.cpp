// The agent's content store (agent/image/content_store.h): blobs by digest, never visible
// half-written or unverified.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "agent/image/content_store.h"
#include "agent/image/digest.h"
#include "test/support/temp_dir.h"

using namespace tug::agent::image;
using tug::testing::TempDir;
namespace fs = std::filesystem;

namespace {

size_t Files(const std::string& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir))
    ++n;
  return n;
}

}  // namespace

TEST_CASE("a blob is stored under its digest only when whole and verified", "[agent][image]") {
  TempDir dir{"tug-content"};
  auto store = ContentStore::Open(dir.path);
  REQUIRE(store.ok());
  ContentStore& cs = *store.value();
  std::string layer = "layer bytes, in pieces";
  std::string digest = DigestOf(layer).value();

  auto w = cs.NewWriter(digest, static_cast<int64_t>(layer.size()));
  REQUIRE(w.ok());
  REQUIRE(w.value()->Write(layer.substr(0, 5)).ok());
  CHECK_FALSE(cs.Has(digest));  // not before it is complete
  REQUIRE(w.value()->Write(layer.substr(5)).ok());
  REQUIRE(w.value()->Commit().ok());
  CHECK(cs.Has(digest));
  CHECK(cs.Read(digest).value() == layer);
  CHECK(Files(dir.path + "/ingest") == 0);

  // Wrong content: refused by name, and nothing of it is left.
  std::string other = DigestOf("other").value();
  auto bad = cs.NewWriter(other, -1);
  REQUIRE(bad.ok());
  REQUIRE(bad.value()->Write("not other").ok());
  tug::Status s = bad.value()->Commit();
  REQUIRE_FALSE(s.ok());
  CHECK(s.message() == "blob content does not match its digest: expected " + other + ", got " +
                           DigestOf("not other").value());
  bad.value().reset();
  CHECK_FALSE(cs.Has(other));
  CHECK(Files(dir.path + "/ingest") == 0);

  // More or fewer bytes than the descriptor said.
  {
    auto longer = cs.NewWriter(digest, 3);
    REQUIRE(longer.ok());
    CHECK(longer.value()->Write("four").message() ==
          "blob " + digest + ": more than the 3 bytes its descriptor announced");
    auto shorter = cs.NewWriter(digest, 100);
    REQUIRE(shorter.ok());
    REQUIRE(shorter.value()->Write(layer).ok());
    CHECK(shorter.value()->Commit().message() == "blob " + digest + ": got " +
                                                     std::to_string(layer.size()) +
                                                     " bytes, its descriptor announced 100");
  }
  CHECK(Files(dir.path + "/ingest") == 0);

  // A pull abandoned half-way (the writer dropped) leaves nothing.
  {
    auto abandoned = cs.NewWriter(DigestOf("x").value(), 1);
    REQUIRE(abandoned.ok());
    REQUIRE(abandoned.value()->Write("x").ok());
  }
  CHECK(Files(dir.path + "/ingest") == 0);
  CHECK_FALSE(cs.Has(DigestOf("x").value()));
}

TEST_CASE("a stored blob damaged on disk is not used, and leftovers are cleared at open",
          "[agent][image]") {
  TempDir dir{"tug-content"};
  auto store = ContentStore::Open(dir.path);
  REQUIRE(store.ok());
  std::string config = R"({"rootfs":{}})";
  std::string digest = DigestOf(config).value();
  REQUIRE(store.value()->Put(digest, config).ok());
  {
    std::ofstream damage(store.value()->BlobPath(digest), std::ios::trunc);
    damage << "{}";
  }
  auto read = store.value()->Read(digest);
  REQUIRE_FALSE(read.ok());
  CHECK(read.status().message().find("stored blob: content does not match its digest") == 0);

  { std::ofstream leftover(dir.path + "/ingest/sha256-abc.1.0"); }
  REQUIRE(ContentStore::Open(dir.path).ok());
  CHECK(Files(dir.path + "/ingest") == 0);
  CHECK_FALSE(store.value()->NewWriter("sha256:short", 1).ok());
}
