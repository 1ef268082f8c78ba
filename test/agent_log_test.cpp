// Container logs on disk: appends, rotation at the size cap, and tails across rotations.
#include <catch2/catch.hpp>

#include <filesystem>

#include <cstdio>

#include "agent/log_file.h"
#include "base/file.h"
#include "test/support/temp_dir.h"

using tug::agent::RotateLog;
using tug::agent::TailLog;

using tug::testing::TempDir;

namespace {

std::string Line(int i) {
  return "line " + std::to_string(i) + "\n";
}

}  // namespace

// What a container does: appends to the file through a descriptor of its own.
struct Writer {
  FILE* f;
  explicit Writer(const std::string& path) : f(std::fopen(path.c_str(), "a")) { REQUIRE(f); }
  ~Writer() { std::fclose(f); }
  void Put(const std::string& s) {
    std::fputs(s.c_str(), f);
    std::fflush(f);
  }
};

TEST_CASE("a log's tail is read back", "[agent][logs]") {
  TempDir d{"tug-log"};
  std::string path = d.path + "/main.log";
  CHECK(TailLog(path, 10).value().empty());  // nothing written yet
  Writer w(path);
  for (int i = 1; i <= 5; ++i)
    w.Put(Line(i));
  CHECK(TailLog(path, 2).value() == Line(4) + Line(5));
  CHECK(TailLog(path, 10).value() == Line(1) + Line(2) + Line(3) + Line(4) + Line(5));
  CHECK(TailLog(path, 0).value().empty());
  w.Put("partial");
  CHECK(TailLog(path, 1).value() == "partial");
  CHECK_FALSE(RotateLog(path, 1 << 20).value());  // under the cap: left alone
}

TEST_CASE("a log is rotated at its size cap while its writer goes on", "[agent][logs]") {
  TempDir d{"tug-log"};
  std::string path = d.path + "/main.log";
  Writer w(path);
  namespace fs = std::filesystem;
  int rotations = 0;
  for (int i = 1; i <= 40; ++i) {
    w.Put(Line(i));
    auto r = RotateLog(path, 100, 2);
    REQUIRE(r.ok());
    rotations += r.value() ? 1 : 0;
  }
  CHECK(rotations >= 3);
  CHECK(fs::file_size(path) <= 100);
  CHECK(fs::exists(path + ".1"));
  CHECK(fs::exists(path + ".2"));
  CHECK_FALSE(fs::exists(path + ".3"));  // only `keep` rotated files
  // The writer's descriptor went on at the start of the emptied file (O_APPEND), so the
  // newest lines read in order across the current file and the rotated ones.
  std::string tail = TailLog(path, 8, 2).value();
  std::string want;
  for (int i = 33; i <= 40; ++i)
    want += Line(i);
  CHECK(tail == want);
  std::string current;
  REQUIRE(tug::ReadWholeFile(path, &current).ok());
  CHECK(current.find('\0') == std::string::npos);  // no hole where the old end was
}

TEST_CASE("a log that cannot be rotated says which file", "[agent][logs]") {
  TempDir d{"tug-log"};
  std::string path = d.path + "/main.log";
  {
    Writer w(path);
    w.Put(std::string(200, 'x'));
  }
  // Where the rotated file should go there is a directory that cannot be removed.
  std::filesystem::create_directories(path + ".1/busy");
  auto r = RotateLog(path, 100, 1);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find(path + ".1") != std::string::npos);
  CHECK(std::filesystem::file_size(path) == 200);  // nothing lost
}
