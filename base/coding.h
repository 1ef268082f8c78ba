// Fixed-width integers as bytes: little-endian 32-bit, the layout of WAL records, snapshot
// files and peer frames.
#pragma once

#include <cstdint>
#include <string>

namespace tug {

inline void PutLE32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// Reads 4 bytes at p; the caller has checked that they are there.
inline uint32_t GetLE32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i)
    v = v << 8 | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace tug
