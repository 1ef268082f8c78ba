// Kubernetes timestamps (RFC 3339 in UTC, whole seconds: "2026-11-27T23:08:54Z"), written by
// the control plane and the agents and read back by tugctl to show ages.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace tug::api {

// Seconds since the epoch, now, by the wall clock.
int64_t NowUnixSeconds();

// `seconds` since the epoch as "YYYY-MM-DDThh:mm:ssZ".
std::string FormatRfc3339(int64_t seconds);

// The current time as FormatRfc3339 writes it.
std::string NowRfc3339();

// Seconds since the epoch of an RFC 3339 time ("...Z" or "...+hh:mm", fractional seconds
// ignored); nullopt for anything else.
std::optional<int64_t> ParseRfc3339(const std::string& text);

}  // namespace tug::api
