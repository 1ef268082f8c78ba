// Reading objects from the outside: a request body or a file, in JSON or YAML (one document
// or several separated by "---"), into JSON values. Nothing is dropped: fields Tug does not
// know stay in the value as they came. Errors name the source, line and column.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace tug::api {

enum class Format { kAuto, kJson, kYaml };

// Deeper nesting is refused: nothing Tug stores needs it, and printing a value recurses once
// per level.
constexpr size_t kMaxNesting = 100;

// How deeply objects and arrays nest in `v` (a scalar is 0), without recursing; past
// kMaxNesting it stops counting.
size_t Depth(const nlohmann::json& v);

// One JSON value as it is (a top-level list stays a list). Errors name source, line, column.
Result<nlohmann::json> ParseJson(const std::string& text, const std::string& source);

// `source` names the input in errors ("web.yaml", "request body"). kAuto treats text that
// starts with '{' or '[' as JSON, anything else as YAML. Empty documents are skipped; a JSON
// list is a list of documents.
Result<std::vector<nlohmann::json>> ParseDocuments(const std::string& text,
                                                   const std::string& source,
                                                   Format format = Format::kAuto);

// Exactly one document.
Result<nlohmann::json> ParseDocument(const std::string& text, const std::string& source,
                                     Format format = Format::kAuto);

// `v` as block-style YAML the way `kubectl get -o yaml` prints it: keys sorted, two-space
// indents, list items at their key's indent, strings quoted (JSON-style) only where a plain
// scalar would read back as something else. ParseDocument(ToYaml(v)) == v.
std::string ToYaml(const nlohmann::json& v);

// The format a Content-Type header announces (kAuto for an absent one); nullopt-like
// kAuto is also returned for unknown types, which callers reject with 415 themselves.
Format FormatForContentType(const std::string& content_type, bool* known);

}  // namespace tug::api
