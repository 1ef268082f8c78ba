// Tables and ages as kubectl prints them, for tugctl (issue 7): columns left-aligned by a
// tab writer with kubectl's settings (padding 3, minimum cell width 6; the last column is not
// padded), and Kubernetes' humanized durations ("45s", "5m30s", "3h", "2d5h", "2y30d").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tug::api {

// Aligns text the way Go's text/tabwriter does (space padding, no flags), which kubectl uses
// for tables and `describe`: a cell ends at a '\t'; the cells of one column are aligned over a
// block of consecutive lines that all have that column, each as wide as the block's widest
// cell plus `padding`, and at least `minwidth`. The last cell of a line is not padded.
std::string TabWrite(const std::string& text, size_t minwidth, size_t padding);

// The rows under the headers, one line each (ending in '\n'). Rows shorter than the headers
// are padded with empty cells. No headers: the rows alone (aligned among themselves).
std::string FormatTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows);

// A duration the way kubectl shows an AGE (k8s.io/apimachinery's HumanDuration): seconds up
// to 2 minutes, then minutes (with seconds under 10 minutes), hours (with minutes under 8
// hours), days (with hours under 8 days), years (with days under 8 years). Slightly negative
// (clock skew up to a second) is "0s"; more is "<invalid>".
std::string HumanDuration(int64_t seconds);

}  // namespace tug::api
