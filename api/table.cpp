#include "api/table.h"

#include <algorithm>

namespace tug::api {

namespace {

constexpr size_t kPadding = 3;   // kubectl's tabwriter padding
constexpr size_t kMinWidth = 6;  // and minimum cell width, padding included

}  // namespace

namespace {

using Line = std::vector<std::string>;  // cells; the last one is not tab-terminated

size_t Width(const std::string& s) {  // in characters (UTF-8 continuation bytes not counted)
  size_t n = 0;
  for (unsigned char ch : s)
    if ((ch & 0xC0) != 0x80) ++n;
  return n;
}

class Aligner {
 public:
  Aligner(std::vector<Line> lines, size_t minwidth, size_t padding)
      : lines_(std::move(lines)), minwidth_(minwidth), padding_(padding) {}

  std::string Run() {
    Format(0, lines_.size());
    return out_;
  }

 private:
  // Go's tabwriter.format: finds the blocks of lines that have cell `widths_.size()`, sizes
  // that column per block, and recurses for the columns to its right.
  void Format(size_t line0, size_t line1) {
    size_t column = widths_.size();
    for (size_t i = line0; i < line1; ++i) {
      if (column + 1 >= lines_[i].size()) continue;
      Write(line0, i);
      line0 = i;
      size_t width = minwidth_;
      for (; i < line1 && column + 1 < lines_[i].size(); ++i)
        width = std::max(width, Width(lines_[i][column]) + padding_);
      widths_.push_back(width);
      Format(line0, i);
      widths_.pop_back();
      line0 = i;
      if (i == line1) break;
    }
    Write(line0, line1);
  }

  void Write(size_t line0, size_t line1) {
    for (size_t i = line0; i < line1; ++i) {
      const Line& l = lines_[i];
      for (size_t j = 0; j < l.size(); ++j) {
        out_ += l[j];
        if (j < widths_.size()) out_.append(widths_[j] - std::min(widths_[j], Width(l[j])), ' ');
      }
      out_ += '\n';
    }
  }

  std::vector<Line> lines_;
  size_t minwidth_, padding_;
  std::vector<size_t> widths_;
  std::string out_;
};

}  // namespace

std::string TabWrite(const std::string& text, size_t minwidth, size_t padding) {
  std::vector<Line> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    Line cells;
    size_t c = 0;
    for (size_t tab; (tab = line.find('\t', c)) != std::string::npos; c = tab + 1)
      cells.push_back(line.substr(c, tab - c));
    cells.push_back(line.substr(c));
    lines.push_back(std::move(cells));
  }
  return Aligner(std::move(lines), minwidth, padding).Run();
}

std::string FormatTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows) {
  size_t columns = headers.size();
  for (const auto& r : rows)
    columns = std::max(columns, r.size());
  std::string text;
  auto line = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < columns; ++i) {
      if (i) text += '\t';
      if (i < cells.size()) text += cells[i];
    }
    text += '\n';
  };
  if (!headers.empty()) line(headers);
  for (const auto& r : rows)
    line(r);
  // kubectl's settings; a line's end (an empty last cell) is not padded.
  std::string aligned = TabWrite(text, kMinWidth, kPadding), out;
  size_t pos = 0;
  while (pos < aligned.size()) {
    size_t nl = aligned.find('\n', pos);
    std::string l = aligned.substr(pos, nl - pos);
    while (!l.empty() && l.back() == ' ')
      l.pop_back();
    out += l + "\n";
    pos = nl + 1;
  }
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
