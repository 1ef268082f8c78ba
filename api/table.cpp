#include "api/table.h"

#include <algorithm>

namespace tug::api {

namespace {

constexpr size_t kPadding = 3;   // kubectl's tabwriter padding
constexpr size_t kMinWidth = 6;  // and minimum cell width, padding included

}  // namespace

std::string FormatTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows) {
  size_t columns = headers.size();
  for (const auto& r : rows)
    columns = std::max(columns, r.size());
  std::vector<size_t> width(columns, 0);
  auto measure = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i)
      width[i] = std::max(width[i], cells[i].size());
  };
  measure(headers);
  for (const auto& r : rows)
    measure(r);
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (size_t i = 0; i < columns; ++i) {
      const std::string cell = i < cells.size() ? cells[i] : std::string();
      l += cell;
      if (i + 1 < columns) l.append(std::max(width[i] + kPadding, kMinWidth) - cell.size(), ' ');
    }
    while (!l.empty() && l.back() == ' ')
      l.pop_back();
    out += l + "\n";
  };
  line(headers);
  for (const auto& r : rows)
    line(r);
  return out;
}

std::string HumanDuration(int64_t seconds) {
  auto s = [](int64_t v) { return std::to_string(v); };
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return s(seconds) + "s";
  int64_t minutes = seconds / 60;
  if (minutes < 10) {
    int64_t rest = seconds % 60;
    return rest == 0 ? s(minutes) + "m" : s(minutes) + "m" + s(rest) + "s";
  }
  if (minutes < 60 * 3) return s(minutes) + "m";
  int64_t hours = seconds / 3600;
  if (hours < 8) {
    int64_t rest = minutes % 60;
    return rest == 0 ? s(hours) + "h" : s(hours) + "h" + s(rest) + "m";
  }
  if (hours < 48) return s(hours) + "h";
  if (hours < 24 * 8) {
    int64_t rest = hours % 24;
    return rest == 0 ? s(hours / 24) + "d" : s(hours / 24) + "d" + s(rest) + "h";
  }
  if (hours < 24 * 365 * 2) return s(hours / 24) + "d";
  if (hours < 24 * 365 * 8) {
    int64_t days = (hours / 24) % 365;
    return days == 0 ? s(hours / 24 / 365) + "y" : s(hours / 24 / 365) + "y" + s(days) + "d";
  }
  return s(hours / 24 / 365) + "y";
}

}  // namespace tug::api
