// The base layer: host:port parsing, the one atomic file write, and base64.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "base/base64.h"
#include "base/file.h"
#include "base/host_port.h"

using namespace tug;

TEST_CASE("host:port: names, IPv4, bracketed IPv6, and port rules", "[base]") {
  auto a = ParseHostPort("127.0.0.1:7101");
  REQUIRE(a.ok());
  CHECK(a->host == "127.0.0.1");
  CHECK(a->port == 7101);
  auto b = ParseHostPort("[::1]:443");
  REQUIRE(b.ok());
  CHECK(b->host == "::1");
  CHECK(b->port == 443);
  auto c = ParseHostPort("localhost:0");
  REQUIRE(c.ok());
  CHECK(c->port == 0);
  CHECK(!ParseHostPort("localhost:0", /*allow_port_zero=*/false).ok());
  CHECK(ParseHostPort(":7101").ok());  // a listener's "every address"

  for (const char* bad : {"7101", "host:", "host:65536", "host:7x", "host:-1", "host:1234567"}) {
    INFO(bad);
    auto r = ParseHostPort(bad);
    REQUIRE(!r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains(std::string("\"") + bad + "\""));
  }
  auto v6 = ParseHostPort("fe80::1:7101");
  REQUIRE(!v6.ok());
  CHECK_THAT(v6.status().message(), Catch::Contains("[fe80::1]:7101"));

  CHECK(JoinHostPort("10.0.0.1", 80) == "10.0.0.1:80");
  CHECK(JoinHostPort("::1", 80) == "[::1]:80");
  CHECK(HostOf("[::1]:80") == "[::1]");
  CHECK(IsUnspecifiedHost("0.0.0.0"));
  CHECK(IsUnspecifiedHost("::"));
  CHECK(!IsUnspecifiedHost("127.0.0.1"));
}

TEST_CASE("WriteFileAtomically replaces a file whole, with the mode asked for", "[base]") {
  char tmpl[] = "/tmp/tug-base-test-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  const std::string dir = tmpl;
  const std::string path = dir + "/token";

  REQUIRE(WriteFileAtomically(path, "first\n", {.mode = 0600, .durable = true}).ok());
  std::string text;
  REQUIRE(ReadWholeFile(path, &text).ok());
  CHECK(text == "first\n");
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  // A stale temporary file from a crash does not lend its mode or content.
  REQUIRE(WriteFileAtomically(path + ".tmp", "junk", {.mode = 0666, .durable = false}).ok());
  REQUIRE(WriteFileAtomically(path, "second", {.mode = 0600, .durable = false}).ok());
  REQUIRE(ReadWholeFile(path, &text).ok());
  CHECK(text == "second");
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(!std::filesystem::exists(path + ".tmp"));

  // A directory that is not there: an error naming the file, and nothing written.
  Status s = WriteFileAtomically(dir + "/missing/file", "x");
  REQUIRE(!s.ok());
  CHECK_THAT(s.message(), Catch::Contains(dir + "/missing/file.tmp"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("base64 round-trips and refuses what is not base64", "[base]") {
  CHECK(Base64Encode("foo") == "Zm9v");
  CHECK(Base64Encode("fo") == "Zm8=");
  CHECK(Base64Encode("") == "");
  CHECK(Base64Decode("YmFy").value() == "bar");
  std::string all;
  for (int i = 0; i < 256; ++i)
    all.push_back(static_cast<char>(i));
  CHECK(Base64Decode(Base64Encode(all)).value() == all);
  CHECK(!Base64Decode("no spaces!").has_value());
}
