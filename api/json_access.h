// Reading JSON that came from outside (a server's answer, a user's file) without trusting its
// shape: a missing key, or a value that is not an object where one is walked through, reads
// as null, never as an exception or undefined behaviour (nlohmann's const operator[] on a
// missing key is the latter).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

#include <nlohmann/json.hpp>

namespace tug::api {

// The value at `path` ({"metadata", "name"}), or a null.
const nlohmann::json& At(const nlohmann::json& v, std::initializer_list<const char*> path);

// The string at `path`, or `fallback` when it is absent or not a string.
std::string AtString(const nlohmann::json& v, std::initializer_list<const char*> path,
                     const std::string& fallback = "");

// The integer at `path`, or `fallback` when it is absent or not an integer.
int64_t AtInt(const nlohmann::json& v, std::initializer_list<const char*> path,
              int64_t fallback = 0);

// The array at `path`, or an empty one.
const nlohmann::json& AtArray(const nlohmann::json& v, std::initializer_list<const char*> path);

}  // namespace tug::api
