// Crash-only invariants. TUG_CHECK is for a state the code itself must never reach: Raft's
// log about to drop committed entries, the WAL or the key-value store contradicting itself.
// Going on from such a state would vote, acknowledge writes or answer reads from a corrupt
// core, so the process logs what it found and aborts (as etcd's raft panics); a supervisor
// restarts it from its durable state, which is what the WAL and snapshots are for.
//
// Never for input from outside (a request, a peer message, a file on disk): those are
// Status errors that the caller answers or reports.
#pragma once

#include <string>

namespace tug {

// Logs "<file>:<line>: invariant <condition> broken: <message>" to stderr and aborts.
[[noreturn]] void CheckFailed(const char* file, int line, const char* condition,
                              const std::string& message);

}  // namespace tug

// The message is built only when the check fails.
#define TUG_CHECK(condition, message)                                \
  do {                                                               \
    if (!(condition)) [[unlikely]]                                   \
      ::tug::CheckFailed(__FILE__, __LINE__, #condition, (message)); \
  } while (false)
