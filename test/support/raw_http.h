// One plain HTTP/1.0 GET on a fresh connection, as a simple client sends it: no retries and
// no failover of its own (unlike net/http_client), so a failure here is one a user would
// see. The end-to-end tests and bench/service_bench count failed requests with it.
#pragma once

#include <string>

namespace tug::testing {

// The whole answer (status line, headers, body), or "" when the connection failed or
// nothing came within 5 s.
std::string RawGet(const std::string& ip, int port, const std::string& path = "/");
// Whether an answer's status is 200.
bool Ok200(const std::string& answer);
// An answer's body ("" without one).
std::string Body(const std::string& answer);

}  // namespace tug::testing
