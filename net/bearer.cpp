#include "net/bearer.h"

namespace tug::net {

bool BearerMatches(const std::string& authorization, const std::string& token) {
  static const std::string kPrefix = "Bearer ";
  if (token.empty() || authorization.size() != kPrefix.size() + token.size() ||
      authorization.compare(0, kPrefix.size(), kPrefix) != 0)
    return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < token.size(); ++i)
    diff |= static_cast<unsigned char>(authorization[kPrefix.size() + i] ^ token[i]);
  return diff == 0;
}

}  // namespace tug::net
