// The one bearer-token check every server of Tug uses (the API, the agent's log server).
#pragma once

#include <string>

namespace tug::net {

// Whether `authorization` (an Authorization header's value) is exactly "Bearer <token>".
// False for an empty token: a server without a token yet accepts no one. Compared in
// constant time, so that how much of a guess matched does not show in the answer's timing.
bool BearerMatches(const std::string& authorization, const std::string& token);

}  // namespace tug::net
