// Kept out of the header so that only this file pays for <boost/crc.hpp>.
#include "base/crc32c.h"

#include <boost/crc.hpp>

namespace tug {

uint32_t Crc32c(const void* data, size_t n) {
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;
  crc.process_bytes(data, n);
  return crc.checksum();
}

}  // namespace tug
