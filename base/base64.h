// Base64 (RFC 4648, with padding), as etcd's JSON API encodes keys and values.
#pragma once

#include <optional>
#include <string>

namespace tug {

std::string Base64Encode(const std::string& in);
// nullopt if `in` is not base64.
std::optional<std::string> Base64Decode(const std::string& in);

}  // namespace tug
