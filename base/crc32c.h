// CRC32C (Castagnoli), the checksum of the write-ahead log and snapshot files. Castagnoli
// rather than the zlib CRC32 because it detects more error patterns in short records and is
// what LevelDB, RocksDB and etcd use, so tools that know those formats recognise ours.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tug {

// The CRC32C of n bytes at data (reflected, init and final xor 0xFFFFFFFF): "123456789"
// gives 0xE3069283, the empty input gives 0.
uint32_t Crc32c(const void* data, size_t n);

}  // namespace tug
