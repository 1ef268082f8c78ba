// Tests of the durable storage on real files in a fresh temporary directory each: the CRC,
// the WAL's round trip, truncation and snapshot rules, segment rollover and release, its
// handling of torn tails and of mid-log damage, and the snapshot files.
//
// Which damage counts as mid-log: a bad record in any segment but the last, or a bad record
// in the last segment followed by a valid record. Both refuse to open; a bad record in the
// last segment with nothing valid after it is a torn tail and is truncated.
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "base/crc32c.h"
#include "raftstore/snapshot_file.h"
#include "raftstore/wal.h"
#include "raftstore/wal.pb.h"
#include "test/support/fault_env.h"
#include "test/support/temp_dir.h"

using namespace tug;
using tug::raftpb::Entry;
using tug::raftpb::HardState;
using tug::store::Wal;
using tug::store::WalContents;
namespace fs = std::filesystem;

using tug::testing::TempDir;

namespace {

Entry E(uint64_t index, uint64_t term, std::string data = "") {
  Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data(data.empty() ? "cmd-" + std::to_string(index) + "-t" + std::to_string(term) : data);
  return e;
}

std::vector<Entry> Range(uint64_t from, uint64_t to, uint64_t term) {
  std::vector<Entry> v;
  for (uint64_t i = from; i <= to; ++i)
    v.push_back(E(i, term));
  return v;
}

HardState HS(uint64_t term, uint64_t vote, uint64_t commit) {
  HardState h;
  h.set_term(term);
  h.set_vote(vote);
  h.set_commit(commit);
  return h;
}

raftpb::SnapshotMetadata Meta(uint64_t index, uint64_t term) {
  raftpb::SnapshotMetadata m;
  m.set_index(index);
  m.set_term(term);
  m.mutable_conf_state()->add_voters(1);
  return m;
}

std::vector<uint64_t> Indexes(const std::vector<Entry>& es) {
  std::vector<uint64_t> v;
  for (const Entry& e : es)
    v.push_back(e.index());
  return v;
}

std::vector<uint64_t> Seq(uint64_t from, uint64_t to) {
  std::vector<uint64_t> v;
  for (uint64_t i = from; i <= to; ++i)
    v.push_back(i);
  return v;
}

std::unique_ptr<Wal> MustOpen(const std::string& dir, WalContents* c,
                              uint64_t segment_bytes = 64ull << 20) {
  auto r = Wal::Open({dir, segment_bytes}, c);
  INFO(r.status().message());
  REQUIRE(r.ok());
  return std::move(r).value();
}

void MustSave(Wal& w, std::optional<HardState> hs, std::vector<Entry> es) {
  Status s = w.Save(hs, es);
  INFO(s.message());
  REQUIRE(s.ok());
  s = w.Sync();
  INFO(s.message());
  REQUIRE(s.ok());
}

uint64_t Size(const std::string& path) {
  return fs::file_size(path);
}

void Append(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::app);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(f.good());
}

void FlipBit(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.get(c);
  c = static_cast<char>(c ^ 0x10);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(c);
  REQUIRE(f.good());
}

std::string Framed(const walpb::WalRecord& rec) {
  std::string payload = rec.SerializeAsString();
  uint32_t crc = Crc32c(payload.data(), payload.size());
  std::string out;
  for (uint32_t v : {static_cast<uint32_t>(payload.size()), crc})
    for (int i = 0; i < 4; ++i)
      out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return out + payload;
}

// Entry indexes recorded in a segment file, read independently of Wal.
std::vector<uint64_t> EntriesIn(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<uint64_t> out;
  for (size_t off = 0; off + 8 <= data.size();) {
    uint32_t len = 0;
    for (int i = 3; i >= 0; --i)
      len = len << 8 | static_cast<unsigned char>(data[off + static_cast<size_t>(i)]);
    walpb::WalRecord rec;
    REQUIRE(rec.ParseFromArray(data.data() + off + 8, static_cast<int>(len)));
    if (rec.has_entry()) out.push_back(rec.entry().index());
    off += 8 + len;
  }
  return out;
}

}  // namespace

TEST_CASE("crc32c matches the standard test vector", "[storage]") {
  CHECK(Crc32c("123456789", 9) == 0xE3069283u);
  CHECK(Crc32c("", 0) == 0u);
}

TEST_CASE("wal: hard state and entries survive a reopen, unsynced records do not", "[storage]") {
  TempDir tmp{"tug-wal-test"};
  const std::string dir = tmp.path + "/wal";  // created by Open
  {
    WalContents c;
    auto w = MustOpen(dir, &c);
    CHECK(c.entries.empty());
    CHECK(!c.snapshot);
    CHECK(w->last_index() == 0);
    MustSave(*w, HS(2, 3, 4), Range(1, 5, 2));
    MustSave(*w, std::nullopt, Range(6, 6, 2));
    CHECK(w->last_index() == 6);

    // A second Wal on the same directory would interleave records.
    WalContents c2;
    auto second = Wal::Open({dir}, &c2);
    REQUIRE(!second.ok());
    CHECK_THAT(second.status().message(), Catch::Contains("in use"));

    // Buffered but never synced: gone after a "crash".
    REQUIRE(w->Save(HS(9, 9, 9), Range(7, 8, 9)).ok());
  }
  WalContents c;
  auto w = MustOpen(dir, &c);
  CHECK(c.warnings.empty());
  CHECK(c.hard_state.term() == 2);
  CHECK(c.hard_state.vote() == 3);
  CHECK(c.hard_state.commit() == 4);
  REQUIRE(Indexes(c.entries) == Seq(1, 6));
  CHECK(c.entries[3].term() == 2);
  CHECK(c.entries[3].data() == "cmd-4-t2");
  CHECK(w->last_index() == 6);
  CHECK(w->Sync().ok());  // nothing buffered: a no-op
}

TEST_CASE("wal: an entry at or below the last index replaces the tail", "[storage]") {
  TempDir tmp{"tug-wal-test"};
  const std::string dir = tmp.path;
  {
    WalContents c;
    auto w = MustOpen(dir, &c);
    MustSave(*w, HS(1, 1, 3), Range(1, 10, 1));
    MustSave(*w, HS(2, 2, 3), Range(6, 7, 2));
    CHECK(w->last_index() == 7);

    // A gap would make the log unreplayable: refused, and nothing buffered.
    Status gap = w->Save(std::nullopt, {E(9, 2)});
    CHECK(gap.code() == Status::Code::kInvalid);
    CHECK_THAT(gap.message(), Catch::Contains("entry 9 leaves a gap after the last index 7"));
    CHECK(w->last_index() == 7);
    CHECK(!w->Save(std::nullopt, {E(0, 2)}).ok());
    REQUIRE(w->Sync().ok());
  }
  WalContents c;
  auto w = MustOpen(dir, &c);
  REQUIRE(Indexes(c.entries) == Seq(1, 7));
  CHECK(c.entries[4].term() == 1);
  CHECK(c.entries[5].term() == 2);
  CHECK(c.entries[6].term() == 2);
  CHECK(c.entries[6].data() == "cmd-7-t2");
  CHECK(c.hard_state.term() == 2);

  // The same rule within one batch, and appends continue after the replaced tail.
  REQUIRE(w->Save(std::nullopt, Range(8, 9, 2)).ok());
  REQUIRE(w->Save(std::nullopt, Range(3, 4, 3)).ok());
  REQUIRE(w->Sync().ok());
  w.reset();
  w = MustOpen(dir, &c);
  REQUIRE(Indexes(c.entries) == Seq(1, 4));
  CHECK(c.entries[1].term() == 1);
  CHECK(c.entries[2].term() == 3);
}

TEST_CASE("wal: segments roll over and ReleaseTo deletes old ones", "[storage]") {
  TempDir tmp{"tug-wal-test"};
  const std::string dir = tmp.path;
  const uint64_t kSegBytes = 256;
  std::vector<std::string> before;
  {
    WalContents c;
    auto w = MustOpen(dir, &c, kSegBytes);
    MustSave(*w, HS(1, 1, 0), {});  // the hard state is written only here, in segment 1
    for (uint64_t i = 1; i <= 40; ++i)
      MustSave(*w, std::nullopt, {E(i, 1, std::string(40, 'x'))});
    before = w->segment_paths();
    REQUIRE(before.size() > 4);
    for (size_t i = 0; i + 1 < before.size(); ++i) {
      CHECK(fs::path(before[i]).filename().string().size() == 20);
      CHECK(before[i] < before[i + 1]);
      // Rolled at a record boundary once past the limit: at most one record beyond it.
      CHECK(Size(before[i]) > kSegBytes);
      CHECK(Size(before[i]) < kSegBytes + 100);
    }
    CHECK(fs::path(before[0]).filename() == "0000000000000001.wal");

    Status early = w->ReleaseTo(20);
    CHECK(!early.ok());
    CHECK_THAT(early.message(), Catch::Contains("snapshot marker"));

    REQUIRE(w->SaveSnapshotMarker(Meta(20, 1)).ok());
    REQUIRE(w->Sync().ok());
    before = w->segment_paths();
    REQUIRE(w->ReleaseTo(20).ok());
    std::vector<std::string> after = w->segment_paths();
    CHECK(after.size() < before.size());
    CHECK(after.back() == before.back());
    // Exactly the oldest segments holding nothing above 20 went.
    for (size_t i = 0; i < before.size() - after.size(); ++i) {
      CHECK(!fs::exists(before[i]));
    }
    REQUIRE(fs::exists(after.front()));
    std::vector<uint64_t> first = EntriesIn(after.front());
    REQUIRE(!first.empty());
    CHECK(first.back() > 20);
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir))
      n += e.path().extension() == ".wal";
    CHECK(n == after.size());
  }
  {
    WalContents c;
    auto w = MustOpen(dir, &c, kSegBytes);
    CHECK(c.warnings.empty());
    CHECK(c.hard_state.term() == 1);  // carried at the head of every later segment
    REQUIRE(c.snapshot);
    CHECK(c.snapshot->index() == 20);
    CHECK(Indexes(c.entries) == Seq(21, 40));

    // Everything released: only the current segment stays, and state is intact.
    REQUIRE(w->SaveSnapshotMarker(Meta(40, 1)).ok());
    REQUIRE(w->Sync().ok());
    REQUIRE(w->ReleaseTo(40).ok());
    CHECK(w->segment_paths().size() == 1);
  }
  WalContents c;
  auto w = MustOpen(dir, &c, kSegBytes);
  CHECK(c.entries.empty());
  CHECK(c.hard_state.term() == 1);
  CHECK(w->last_index() == 40);
}

TEST_CASE("wal: a snapshot marker drops the entries it covers", "[storage]") {
  TempDir tmp{"tug-wal-test"};
  const std::string dir = tmp.path;
  {
    WalContents c;
    auto w = MustOpen(dir, &c);
    MustSave(*w, HS(1, 1, 10), Range(1, 10, 1));
    REQUIRE(w->SaveSnapshotMarker(Meta(6, 1)).ok());
    REQUIRE(w->Sync().ok());
    CHECK(!w->Save(std::nullopt, {E(5, 2)}).ok());   // covered by the snapshot
    CHECK(!w->SaveSnapshotMarker(Meta(4, 1)).ok());  // markers never go backwards
  }
  WalContents c;
  auto w = MustOpen(dir, &c);
  REQUIRE(c.snapshot);
  CHECK(c.snapshot->index() == 6);
  CHECK(c.snapshot->conf_state().voters_size() == 1);
  CHECK(Indexes(c.entries) == Seq(7, 10));
  CHECK(w->last_index() == 10);

  // A snapshot beyond the log (installed from the leader) empties it; the log resumes after.
  REQUIRE(w->SaveSnapshotMarker(Meta(20, 3)).ok());
  CHECK(w->last_index() == 20);
  CHECK(!w->Save(std::nullopt, {E(22, 3)}).ok());
  REQUIRE(w->Save(std::nullopt, {E(21, 3)}).ok());
  REQUIRE(w->Sync().ok());
  w.reset();
  w = MustOpen(dir, &c);
  CHECK(c.snapshot->index() == 20);
  CHECK(Indexes(c.entries) == std::vector<uint64_t>{21});
}

TEST_CASE("wal: a torn tail is truncated with a warning and the log stays writable", "[storage]") {
  TempDir tmp{"tug-wal-test"};
  const std::string dir = tmp.path;
  std::string seg;
  uint64_t last_start = 0, end = 0;
  {
    WalContents c;
    auto w = MustOpen(dir, &c);
    MustSave(*w, HS(1, 1, 0), Range(1, 4, 1));
    seg = w->segment_paths().back();
    last_start = Size(seg);
    MustSave(*w, std::nullopt, {E(5, 1)});
    end = Size(seg);
  }

  uint64_t torn_at = 0;
  std::vector<uint64_t> survivors;
  SECTION("the file ends inside the last record") {
    fs::resize_file(seg, end - 3);
    torn_at = last_start;
    survivors = Seq(1, 4);
  }
  SECTION("garbage after the last record") {
    Append(seg, std::string("\x21\x00\x00\x00garbage from a half-written block", 37));
    torn_at = end;
    survivors = Seq(1, 5);
  }
  SECTION("a zero-filled block after the last record") {
    Append(seg, std::string(4096, '\0'));
    torn_at = end;
    survivors = Seq(1, 5);
  }
  SECTION("a bit flipped in the last record") {
    FlipBit(seg, last_start + 8 + 3);
    torn_at = last_start;
    survivors = Seq(1, 4);
  }

  {
    WalContents c;
    auto w = MustOpen(dir, &c);
    REQUIRE(c.warnings.size() == 1);
    CHECK_THAT(c.warnings[0], Catch::Contains(seg));
    CHECK_THAT(c.warnings[0], Catch::Contains("at offset " + std::to_string(torn_at)));
    CHECK(Indexes(c.entries) == survivors);
    CHECK(c.hard_state.term() == 1);
    CHECK(Size(seg) == torn_at);
    MustSave(*w, HS(2, 2, 0), Range(survivors.size() + 1, 6, 2));
  }
  WalContents c;
  auto w = MustOpen(dir, &c);
  CHECK(c.warnings.empty());
  CHECK(Indexes(c.entries) == Seq(1, 6));
  CHECK(c.entries.back().term() == 2);
  CHECK(c.hard_state.term() == 2);
}

TEST_CASE("wal: damage before the tail refuses to open, naming the file and offset", "[storage]") {
  TempDir tmp{"tug-wal-test"};
  const std::string dir = tmp.path;
  std::vector<std::string> segs;
  std::vector<uint64_t> starts;  // where each entry's record begins in a one-segment log

  SECTION("a bit flipped in the first of two segments") {
    {
      WalContents c;
      auto w = MustOpen(dir, &c, 128);
      for (uint64_t i = 1; i <= 6; ++i)
        MustSave(*w, std::nullopt, {E(i, 1, std::string(60, 'y'))});
      segs = w->segment_paths();
    }
    REQUIRE(segs.size() >= 2);
    const uint64_t size0 = Size(segs[0]);
    FlipBit(segs[0], 8 + 5);  // payload of the segment's first record
    WalContents c;
    auto r = Wal::Open({dir, 128}, &c);
    REQUIRE(!r.ok());
    CHECK_THAT(r.status().message(),
               Catch::Contains("corrupt record in " + segs[0] + " at offset 0"));
    CHECK_THAT(r.status().message(), Catch::Contains("CRC mismatch"));
    CHECK_THAT(r.status().message(), Catch::Contains("restore this node from a peer"));
    CHECK(Size(segs[0]) == size0);  // left for inspection
  }

  SECTION("a bit flipped in the last segment with valid records after it") {
    {
      WalContents c;
      auto w = MustOpen(dir, &c);
      for (uint64_t i = 1; i <= 5; ++i) {
        starts.push_back(Size(w->segment_paths().back()));
        MustSave(*w, std::nullopt, {E(i, 1)});
      }
      segs = w->segment_paths();
    }
    const uint64_t size = Size(segs[0]);
    FlipBit(segs[0], starts[2] + 8 + 4);
    WalContents c;
    auto r = Wal::Open({dir}, &c);
    REQUIRE(!r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains("corrupt record in " + segs[0] +
                                                     " at offset " + std::to_string(starts[2])));
    CHECK_THAT(r.status().message(), Catch::Contains("not a torn write"));
    CHECK(Size(segs[0]) == size);
  }

  SECTION("a missing segment") {
    {
      WalContents c;
      auto w = MustOpen(dir, &c, 64);
      for (uint64_t i = 1; i <= 4; ++i)
        MustSave(*w, std::nullopt, {E(i, 1, std::string(70, 'z'))});
      segs = w->segment_paths();
    }
    REQUIRE(segs.size() >= 3);
    fs::remove(segs[1]);
    WalContents c;
    auto r = Wal::Open({dir, 64}, &c);
    REQUIRE(!r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains(segs[1] + " is missing"));
  }

  SECTION("a gap in the entries, with intact CRCs") {
    walpb::WalRecord rec;
    std::string bytes;
    for (uint64_t i : {1, 2, 4}) {
      if (i == 4) starts.push_back(bytes.size());
      *rec.mutable_entry() = E(i, 1);
      bytes += Framed(rec);
    }
    const std::string path = dir + "/0000000000000001.wal";
    Append(path, bytes);
    WalContents c;
    auto r = Wal::Open({dir}, &c);
    REQUIRE(!r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains("corrupt record in " + path + " at offset " +
                                                     std::to_string(starts[0])));
    CHECK_THAT(r.status().message(),
               Catch::Contains("entry 4 leaves a gap after the last index 2"));
  }
}

TEST_CASE("snapshot files: keep the two newest, load the newest intact one", "[storage]") {
  TempDir tmp{"tug-wal-test"};
  const std::string dir = tmp.path + "/snap";
  store::SnapshotFiles files(dir);
  std::vector<std::string> warnings;

  auto none = files.LoadNewest(&warnings);  // no directory yet
  REQUIRE(none.ok());
  CHECK(!none.value());

  auto snap = [](uint64_t term, uint64_t index) {
    raftpb::Snapshot s;
    *s.mutable_metadata() = Meta(index, term);
    s.set_data("state at " + std::to_string(index));
    return s;
  };
  REQUIRE(files.Save(snap(1, 10)).ok());
  REQUIRE(files.Save(snap(1, 20)).ok());
  REQUIRE(files.Save(snap(2, 30)).ok());

  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  REQUIRE(names == std::vector<std::string>{"0000000000000001-0000000000000014.snap",
                                            "0000000000000002-000000000000001e.snap"});

  auto newest = files.LoadNewest(&warnings);
  REQUIRE(newest.ok());
  REQUIRE(newest.value());
  CHECK(newest.value()->metadata().index() == 30);
  CHECK(newest.value()->data() == "state at 30");
  CHECK(warnings.empty());

  const std::string p30 = dir + "/" + names[1];
  FlipBit(p30, Size(p30) - 2);
  auto fallback = files.LoadNewest(&warnings);
  REQUIRE(fallback.ok());
  REQUIRE(fallback.value());
  CHECK(fallback.value()->metadata().index() == 20);
  REQUIRE(warnings.size() == 1);
  CHECK_THAT(warnings[0], Catch::Contains(p30));
  CHECK_THAT(warnings[0], Catch::Contains("CRC mismatch"));
  CHECK(!fs::exists(p30));
  CHECK(fs::exists(p30 + ".broken"));

  // The broken file is not read again; with every file damaged there is no snapshot.
  warnings.clear();
  const std::string p20 = dir + "/" + names[0];
  fs::resize_file(p20, 2);
  auto gone = files.LoadNewest(&warnings);
  REQUIRE(gone.ok());
  CHECK(!gone.value());
  REQUIRE(warnings.size() == 1);
  CHECK_THAT(warnings[0], Catch::Contains(p20));
}

// The fail-stop promises, with the file system failing on cue (test/support/fault_env.h).

TEST_CASE("wal: a failed fdatasync refuses every later write until reopened", "[storage]") {
  TempDir tmp{"tug-wal-test"};
  const std::string dir = tmp.path;
  test::FaultEnv env;
  {
    WalContents c;
    auto r = Wal::Open({.dir = dir, .env = &env}, &c);
    REQUIRE(r.ok());
    auto& w = *r.value();
    MustSave(w, HS(1, 1, 3), Range(1, 3, 1));

    env.FailNext(test::FaultEnv::Op::kDataSync);
    REQUIRE(w.Save(HS(1, 1, 4), Range(4, 4, 1)).ok());
    Status s = w.Sync();
    REQUIRE(!s.ok());
    CHECK_THAT(s.message(), Catch::Contains("fdatasync of " + dir));
    CHECK_THAT(s.message(), Catch::Contains("injected"));
    CHECK_THAT(s.message(), Catch::Contains("refuses further writes"));

    // The disk's state is unknown now (a failed fdatasync may have dropped dirty pages that
    // the kernel will not write again): nothing more may be acknowledged as durable, even
    // though the next fdatasync would succeed.
    int syncs = env.calls(test::FaultEnv::Op::kDataSync);
    CHECK(!w.Save(std::nullopt, Range(5, 5, 1)).ok());
    CHECK(!w.Sync().ok());
    CHECK(!w.SaveSnapshotMarker(Meta(2, 1)).ok());
    CHECK(!w.ReleaseTo(1).ok());
    CHECK(env.calls(test::FaultEnv::Op::kDataSync) == syncs);  // no write reached the disk
  }
  // Reopening replays what reached the disk: everything acknowledged, nothing refused.
  WalContents c;
  auto w = MustOpen(dir, &c);
  REQUIRE(c.entries.size() >= 3);
  CHECK(Indexes(c.entries).front() == 1);
  CHECK(c.entries.back().index() <= 4);  // 4 was written but never acknowledged; 5 never
  MustSave(*w, std::nullopt, Range(c.entries.back().index() + 1, 6, 1));
}

TEST_CASE("wal: a failed write refuses every later write", "[storage]") {
  TempDir tmp{"tug-wal-test"};
  test::FaultEnv env;
  WalContents c;
  auto r = Wal::Open({.dir = tmp.path, .env = &env}, &c);
  REQUIRE(r.ok());
  auto& w = *r.value();
  MustSave(w, HS(1, 1, 1), Range(1, 1, 1));
  env.FailNext(test::FaultEnv::Op::kWrite);
  REQUIRE(w.Save(std::nullopt, Range(2, 2, 1)).ok());
  Status s = w.Sync();
  REQUIRE(!s.ok());
  CHECK_THAT(s.message(), Catch::Contains("cannot write to " + tmp.path));
  CHECK(!w.Save(std::nullopt, Range(3, 3, 1)).ok());
  CHECK(!w.Sync().ok());
}

TEST_CASE("snapshot files: a failed fsync or rename of a new snapshot leaves the old one",
          "[storage]") {
  TempDir tmp{"tug-wal-test"};
  const std::string dir = tmp.path + "/snap";
  test::FaultEnv env;
  store::SnapshotFiles files(dir, &env);
  auto snap = [](uint64_t term, uint64_t index) {
    raftpb::Snapshot s;
    *s.mutable_metadata() = Meta(index, term);
    s.set_data("state at " + std::to_string(index));
    return s;
  };
  REQUIRE(files.Save(snap(1, 10)).ok());

  auto only_the_old_one = [&] {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir))
      names.push_back(e.path().filename().string());
    CHECK(names == std::vector<std::string>{"0000000000000001-000000000000000a.snap"});
    std::vector<std::string> warnings;
    auto loaded = files.LoadNewest(&warnings);
    REQUIRE(loaded.ok());
    REQUIRE(loaded.value());
    CHECK(loaded.value()->metadata().index() == 10);
    CHECK(loaded.value()->data() == "state at 10");
    CHECK(warnings.empty());
  };

  SECTION("rename") {
    env.FailNext(test::FaultEnv::Op::kRename);
    Status s = files.Save(snap(1, 20));
    REQUIRE(!s.ok());
    CHECK_THAT(s.message(), Catch::Contains("cannot rename"));
    only_the_old_one();  // and no temporary file left behind
  }
  SECTION("fsync of the new file") {
    env.FailNext(test::FaultEnv::Op::kSync);
    Status s = files.Save(snap(1, 20));
    REQUIRE(!s.ok());
    CHECK_THAT(s.message(), Catch::Contains("fsync of"));
    only_the_old_one();
  }
  SECTION("write") {
    env.FailNext(test::FaultEnv::Op::kWrite);
    REQUIRE(!files.Save(snap(1, 20)).ok());
    only_the_old_one();
  }
  // Once the file system works again, so does saving.
  REQUIRE(files.Save(snap(1, 30)).ok());
}
