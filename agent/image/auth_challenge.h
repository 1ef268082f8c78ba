// The challenge a registry answers 401 with (RFC 7235 `WWW-Authenticate`), as the distribution
// spec's token authentication uses it:
//
//   Bearer realm="https://auth.docker.io/token",service="registry.docker.io",
//          scope="repository:library/postgres:pull"
//
// The client then fetches a token from realm?service=...&scope=... (with basic credentials if
// it has them) and sends it as `Authorization: Bearer <token>`. `Basic realm="..."` asks for
// the credentials themselves.
#pragma once

#include <map>
#include <string>

#include "base/status.h"

namespace tug::agent::image {

struct Challenge {
  std::string scheme;                         // lower case: "bearer", "basic"
  std::map<std::string, std::string> params;  // names lower case, values unquoted
};

// Parses the first challenge of the header; an error says what is malformed.
Result<Challenge> ParseChallenge(const std::string& header);

// The token endpoint for a Bearer challenge: realm with service and scope as query
// parameters (percent-encoded); `scope` replaces the challenge's own when non-empty.
Result<std::string> TokenUrl(const Challenge& c, const std::string& scope = "");

}  // namespace tug::agent::image
