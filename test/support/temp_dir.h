// A fresh directory under /tmp for one test (or benchmark), removed with everything in it
// when it ends.
#pragma once

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace tug::testing {

struct TempDir {
  std::string path;
  // `prefix` names the test in the directory's name ("/tmp/<prefix>-XXXXXX").
  explicit TempDir(const std::string& prefix = "tug-test") {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    // An exception, not a Catch assertion: benchmarks use this outside any test.
    if (::mkdtemp(tmpl.data()) == nullptr)
      throw std::runtime_error("cannot make " + tmpl + ": " + std::strerror(errno));
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

}  // namespace tug::testing
