// Small POSIX file helpers shared by the WAL, the snapshot files and the peer transport.
// Errors name the file and the system's reason.
#pragma once

#include <cstdint>
#include <string>

#include "raftstore/status.h"

namespace tug::store {

// strerror(errno), for messages.
std::string Errno();

// Reads a whole file into `out`.
Status ReadWholeFile(const std::string& path, std::string* out);

// Little-endian 32-bit integers, as the WAL records and peer frames lay them out.
void PutLE32(std::string* out, uint32_t v);
uint32_t GetLE32(const char* p);

}  // namespace tug::store
