#include "api/json_access.h"

namespace tug::api {

using json = nlohmann::json;

const json& At(const json& v, std::initializer_list<const char*> path) {
  static const json kNull;
  const json* cur = &v;
  for (const char* k : path) {
    if (!cur->is_object()) return kNull;
    auto it = cur->find(k);
    if (it == cur->end()) return kNull;
    cur = &*it;
  }
  return *cur;
}

std::string AtString(const json& v, std::initializer_list<const char*> path,
                     const std::string& fallback) {
  const json& x = At(v, path);
  return x.is_string() ? x.get<std::string>() : fallback;
}

int64_t AtInt(const json& v, std::initializer_list<const char*> path, int64_t fallback) {
  const json& x = At(v, path);
  return x.is_number_integer() ? x.get<int64_t>() : fallback;
}

const json& AtArray(const json& v, std::initializer_list<const char*> path) {
  static const json kEmpty = json::array();
  const json& x = At(v, path);
  return x.is_array() ? x : kEmpty;
}

}  // namespace tug::api
