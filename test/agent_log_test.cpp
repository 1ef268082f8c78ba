// Container logs on disk: appends, rotation at the size cap, and tails across rotations.
#include <catch2/catch.hpp>

#include <filesystem>

#include "agent/log_file.h"

using tug::agent::LogFile;
using tug::agent::TailLog;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/tug-log-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::string Line(int i) {
  return "line " + std::to_string(i) + "\n";
}

}  // namespace

TEST_CASE("a log is appended and its tail read back", "[agent][logs]") {
  TempDir d;
  std::string path = d.path + "/main.log";
  CHECK(TailLog(path, 10).value().empty());  // nothing written yet
  auto f = LogFile::Open(path, 1 << 20, 2);
  REQUIRE(f.ok());
  for (int i = 1; i <= 5; ++i)
    REQUIRE(f.value().Append(Line(i)).ok());
  CHECK(TailLog(path, 2).value() == Line(4) + Line(5));
  CHECK(TailLog(path, 10).value() == Line(1) + Line(2) + Line(3) + Line(4) + Line(5));
  CHECK(static_cast<int64_t>(TailLog(path, -1).value().size()) == f.value().size());
  CHECK(TailLog(path, 0).value().empty());
  REQUIRE(f.value().Append("partial").ok());
  CHECK(TailLog(path, 1).value() == "partial");
  // Reopening appends where it was.
  auto again = LogFile::Open(path, 1 << 20, 2);
  REQUIRE(again.ok());
  CHECK(again.value().size() == f.value().size());
}

TEST_CASE("a log is rotated at its size cap and the tail spans the rotation", "[agent][logs]") {
  TempDir d;
  std::string path = d.path + "/main.log";
  auto f = LogFile::Open(path, 100, 2);
  REQUIRE(f.ok());
  for (int i = 1; i <= 40; ++i)
    REQUIRE(f.value().Append(Line(i)).ok());
  namespace fs = std::filesystem;
  CHECK(fs::file_size(path) <= 100);
  CHECK(fs::exists(path + ".1"));
  CHECK(fs::exists(path + ".2"));
  CHECK_FALSE(fs::exists(path + ".3"));  // only `keep` rotated files
  uint64_t total = fs::file_size(path) + fs::file_size(path + ".1") + fs::file_size(path + ".2");
  CHECK(total <= 300);
  // The newest lines, in order, across the current file and the rotated ones.
  std::string tail = TailLog(path, 12, 2).value();
  std::string want;
  for (int i = 29; i <= 40; ++i)
    want += Line(i);
  CHECK(tail == want);
}

TEST_CASE("a log that cannot be opened says which file", "[agent][logs]") {
  auto f = LogFile::Open("/nonexistent-dir/x.log", 100, 1);
  REQUIRE_FALSE(f.ok());
  CHECK(f.status().message().find("/nonexistent-dir/x.log") != std::string::npos);
}
