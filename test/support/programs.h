// Where the programs under test are: `<build>/cmd/`, found from this test program's own path
// (`<build>/test/...` or `<build>/bench/...`) rather than compiled in. So a test's object code
// names no build folder, the optimized and the sanitizer builds compile it alike, and ccache
// compiles it once for both.
#pragma once

#include <filesystem>
#include <string>

namespace tug::testing {

inline std::string BinDir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (exe.parent_path().parent_path() / "cmd").string();
}

// The built program `name` ("tugd", "tug-agent", "tugctl", "tug-shim", "tug-web").
inline std::string Program(const std::string& name) {
  return BinDir() + "/" + name;
}

}  // namespace tug::testing
