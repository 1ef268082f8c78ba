// tugctl: the kubectl-like command line (cmd/tugctl/tugctl.cpp has the verbs).
#include <csignal>
#include <iostream>

#include "cmd/tugctl/verbs.h"

int main(int argc, char** argv) {
  // A reader that goes away (tugctl get pods | head) ends tugctl quietly.
  std::signal(SIGPIPE, SIG_DFL);
  std::ios::sync_with_stdio(true);
  return tug::ctl::RunTugctl(argc, argv, std::cout, std::cerr);
}
