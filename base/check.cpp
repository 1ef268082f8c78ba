#include "base/check.h"

#include <cstdio>
#include <cstdlib>

namespace tug {

void CheckFailed(const char* file, int line, const char* condition, const std::string& message) {
  // stderr, unbuffered, rather than the process's logger: the logger may hold the very state
  // that is broken, and this line must reach the operator before the abort.
  std::fprintf(stderr, "FATAL %s:%d: invariant (%s) broken: %s; stopping this process\n", file,
               line, condition, message.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace tug
