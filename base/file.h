// Small POSIX file helpers shared by every part: reading a file whole and replacing one
// atomically. Errors name the file and the system's reason.
#pragma once

#include <sys/types.h>

#include <string>

#include "base/status.h"

namespace tug {

// strerror(errno), for messages.
std::string Errno();

// Reads a whole file into `out`.
Status ReadWholeFile(const std::string& path, std::string* out);

struct AtomicWriteOptions {
  mode_t mode = 0644;
  // fsync the file before the rename (and the directory after it), so that the new content
  // survives a machine crash. Without it the file is still whole or absent after a process
  // crash (the page cache survives a process), which is all some callers need, at a fraction
  // of the cost.
  bool durable = true;
};

// Replaces `path` with `data` whole or not at all: writes "<path>.tmp", then renames it over
// `path`. A reader never sees a partly written file; on failure the old file is untouched.
Status WriteFileAtomically(const std::string& path, const std::string& data,
                           const AtomicWriteOptions& options = {});

}  // namespace tug
